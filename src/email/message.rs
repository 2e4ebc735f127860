//! The email messages Keystead sends ([`Email`]); their serialised form is the outbox payload.

use serde::{Deserialize, Serialize};

/// An email Keystead sends on behalf of an environment. The serialised form is what the outbox
/// stores (`{"type": "magic_auth", "code": …}`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Email {
    /// A Magic Auth sign-in code.
    MagicAuth {
        /// The one-time code.
        code: String,
    },
    /// An email-verification code.
    EmailVerification {
        /// The one-time code.
        code: String,
    },
    /// A password-reset link.
    PasswordReset {
        /// The reset URL (carries the reset token).
        url: String,
    },
    /// An invitation to sign up (optionally into an organization).
    Invitation {
        /// The accept-invitation URL (carries the invitation token).
        url: String,
        /// The organization the invitation is for, if any.
        organization_name: Option<String>,
        /// Who sent it, if known.
        inviter_email: Option<String>,
    },
    /// A code confirming a change of email address (sent to the new address).
    EmailChange {
        /// The one-time code.
        code: String,
        /// The address being confirmed.
        new_email: String,
    },
}

impl Email {
    /// The outbox `kind` of this email.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MagicAuth { .. } => "magic_auth",
            Self::EmailVerification { .. } => "email_verification",
            Self::PasswordReset { .. } => "password_reset",
            Self::Invitation { .. } => "invitation",
            Self::EmailChange { .. } => "email_change",
        }
    }
}

/// Never prints codes or links: they are credentials.
impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Email::{}(<redacted>)", self.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_codes_and_links() {
        let e = Email::PasswordReset {
            url: "https://x.test/reset?token=secret".into(),
        };
        let shown = format!("{e:?}");
        assert_eq!(shown, "Email::password_reset(<redacted>)");
        let code = Email::MagicAuth {
            code: "123456".into(),
        };
        assert!(!format!("{code:?}").contains("123456"));
    }

    #[test]
    fn the_stored_form_round_trips() {
        let e = Email::Invitation {
            url: "https://x.test/invite".into(),
            organization_name: Some("Acme".into()),
            inviter_email: None,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "invitation");
        assert_eq!(serde_json::from_value::<Email>(v).unwrap(), e);
    }
}
