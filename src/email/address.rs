//! [`EmailAddress`]: an email address as Keystead stores, looks up and compares it, normalised
//! once (trimmed and lowercased) when it is made.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{ApiError, ApiResult};

/// Longest accepted address (RFC 5321's path limit less the angle brackets).
const MAX_LEN: usize = 254;

/// An email address, trimmed and lowercased. Users' and invitations' addresses are stored this
/// way, so an exact comparison is a case-insensitive one.
///
/// [`EmailAddress::new`] only normalises (a lookup by any string finds what the normalised
/// string names); [`EmailAddress::parse`] also checks the address as sign-in and sign-up take
/// it. Deserializing normalises; the sqlx encoding is `text`, and decoding trusts the database
/// (only normalised addresses are written).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, sqlx::Type)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// `raw` trimmed and lowercased, without any check.
    pub fn new(raw: &str) -> Self {
        Self(raw.trim().to_lowercase())
    }

    /// `raw` normalised, if it is an address as sign-in and sign-up take it: one `@`, a
    /// non-empty local part, a dotted domain, no spaces, at most 254 characters, and an
    /// address by RFC 5322/6531 as the `email_address` crate checks it (no display name, no
    /// domain literal), so invisible characters such as U+200B are refused.
    /// Addresses from identity providers and SCIM are not checked this way (they use
    /// [`EmailAddress::new`]). Errors: 400 `invalid_email`.
    pub fn parse(raw: &str) -> ApiResult<Self> {
        let e = Self::new(raw);
        let valid = match e.0.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !e.0.chars().any(char::is_whitespace)
            }
            None => false,
        };
        let options = email_address::Options::default()
            .without_display_text()
            .without_domain_literal();
        let valid = valid
            && email_address::EmailAddress::parse_with_options(&e.0, options).is_ok()
            && !e.0.chars().any(invisible);
        if valid && e.0.len() <= MAX_LEN {
            Ok(e)
        } else {
            Err(ApiError::bad_request(
                "invalid_email",
                format!("'{raw}' is not a valid email address."),
            ))
        }
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address as a `String`.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A character that renders as nothing or controls layout (zero-width spaces and joiners,
/// direction marks, the byte-order mark, soft hyphen, controls): never part of an address a
/// person types, whatever the validator's reading of RFC 6531.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
        )
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Deref for EmailAddress {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<EmailAddress> for String {
    fn from(e: EmailAddress) -> Self {
        e.0
    }
}

impl PartialEq<str> for EmailAddress {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for EmailAddress {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for EmailAddress {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Self::new(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::EmailAddress;

    #[test]
    fn emails_are_validated_and_lowercased() {
        assert_eq!(
            EmailAddress::parse(" Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@.com",
            "a@b@c.com",
            "a\u{200b}b@example.com",
            "ada@example.com\u{200b}",
            "Ada <ada@example.com>",
            "ada@[127.0.0.1]",
            "a..b@example.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usual_addresses_are_accepted() {
        for good in [
            "ada@example.com",
            "a.b+tag@sub.example.co.uk",
            "o'brien@example.com",
            "ada_l-1@ex-ample.io",
            "ümlaut@example.de",
        ] {
            assert!(EmailAddress::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn construction_and_deserializing_normalise_once() {
        assert_eq!(EmailAddress::new("  Ada@Example.COM\n"), "ada@example.com");
        let e: EmailAddress = serde_json::from_str("\" Ada@Example.COM \"").unwrap();
        assert_eq!(e.as_str(), "ada@example.com");
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"ada@example.com\"");
        let err = EmailAddress::parse(" Not An Email ").unwrap_err();
        assert_eq!(
            err.body()["message"],
            "' Not An Email ' is not a valid email address."
        );
    }
}
