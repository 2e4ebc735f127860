//! Normalising what an IdP sends into the WorkOS `Profile` (WORKOS-API-NOTES §5.4):
//! SAML attributes and OIDC/OAuth claims → `idp_id`, `email`, `first_name`, `last_name`,
//! `name`, `groups`, `role`, `raw_attributes`.
//!
//! Built-in attribute names, matched case-insensitively in this order, cover Microsoft Entra ID
//! / ADFS (the `http://schemas.xmlsoap.org/ws/2005/05/identity/claims/…` and
//! `http://schemas.microsoft.com/…` claim URIs), Okta and Google Workspace (`email`,
//! `firstName`, `lastName`, `groups`), LDAP-style OIDs (`urn:oid:…`) and generic names.

use serde_json::{Map, Value};

const EMAIL: &[&str] = &[
    "email",
    "mail",
    "emailaddress",
    "email_address",
    "user.email",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "http://schemas.xmlsoap.org/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "upn",
];
const FIRST_NAME: &[&str] = &[
    "firstname",
    "first_name",
    "given_name",
    "givenname",
    "user.firstname",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "urn:oid:2.5.4.42",
];
const LAST_NAME: &[&str] = &[
    "lastname",
    "last_name",
    "family_name",
    "surname",
    "sn",
    "user.lastname",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "urn:oid:2.5.4.4",
];
const NAME: &[&str] = &[
    "name",
    "displayname",
    "display_name",
    "http://schemas.microsoft.com/identity/claims/displayname",
    "urn:oid:2.16.840.1.113730.3.1.241",
];
const GROUPS: &[&str] = &[
    "groups",
    "group",
    "memberof",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
    "http://schemas.xmlsoap.org/claims/group",
    "urn:oid:1.3.6.1.4.1.5923.1.5.1.1",
];
const ROLE: &[&str] = &[
    "role",
    "roles",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
];

fn first<'a>(attrs: &'a [(String, Vec<String>)], names: &[&str]) -> Option<&'a Vec<String>> {
    names.iter().find_map(|n| {
        attrs
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case(n) && !v.is_empty())
            .map(|(_, v)| v)
    })
}

fn one(attrs: &[(String, Vec<String>)], names: &[&str]) -> Option<String> {
    first(attrs, names)
        .and_then(|v| v.iter().find(|s| !s.trim().is_empty()))
        .map(|s| s.trim().to_string())
}

/// Maps SAML attributes (and the NameID) to a profile. `None` when no email can be found.
pub fn from_saml(name_id: &str, attributes: &[(String, Vec<String>)]) -> Option<NewProfile> {
    let email =
        one(attributes, EMAIL).or_else(|| name_id.contains('@').then(|| name_id.to_string()))?;
    let mut raw = Map::new();
    for (k, v) in attributes {
        let value = match v.as_slice() {
            [single] => Value::String(single.clone()),
            many => Value::Array(many.iter().cloned().map(Value::String).collect()),
        };
        raw.insert(k.clone(), value);
    }
    let first_name = one(attributes, FIRST_NAME);
    let last_name = one(attributes, LAST_NAME);
    let name = one(attributes, NAME).or_else(|| join_name(&first_name, &last_name));
    Some(NewProfile {
        idp_id: name_id.to_string(),
        email: email.to_lowercase(),
        first_name,
        last_name,
        name,
        role: one(attributes, ROLE),
        groups: first(attributes, GROUPS).cloned().unwrap_or_default(),
        raw_attributes: raw,
    })
}

fn join_name(first: &Option<String>, last: &Option<String>) -> Option<String> {
    match (first, last) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(f), None) => Some(f.clone()),
        (None, Some(l)) => Some(l.clone()),
        (None, None) => None,
    }
}

/// Maps OIDC ID-token / user-info claims (or an OAuth provider's user object) to a profile.
/// `None` without a subject or an email.
pub fn from_claims(claims: &Map<String, Value>) -> Option<NewProfile> {
    let text = |k: &str| {
        claims.get(k).and_then(|v| match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let idp_id = text("sub").or_else(|| text("id"))?;
    let email = text("email")
        .or_else(|| text("preferred_username").filter(|u| u.contains('@')))
        .or_else(|| text("upn"))?;
    let first_name = text("given_name");
    let last_name = text("family_name");
    let name = text("name").or_else(|| join_name(&first_name, &last_name));
    let groups = match claims.get("groups") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    Some(NewProfile {
        idp_id,
        email: email.to_lowercase(),
        first_name,
        last_name,
        name,
        role: text("role"),
        groups,
        raw_attributes: claims.clone(),
    })
}

/// A profile as the protocol layer produced it, before it has an id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewProfile {
    /// NameID / `sub`.
    pub idp_id: String,
    /// Email address.
    pub email: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Full name.
    pub name: Option<String>,
    /// Role slug.
    pub role: Option<String>,
    /// Group names.
    pub groups: Vec<String>,
    /// Every attribute as sent.
    pub raw_attributes: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn entra_claim_uris_map_to_the_profile() {
        let a = attrs(&[
            (
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                &["Ada@Example.com"],
            ),
            (
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
                &["Ada"],
            ),
            (
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
                &["Lovelace"],
            ),
            (
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
                &["g1", "g2"],
            ),
        ]);
        let p = from_saml("00u1", &a).unwrap();
        assert_eq!(p.email, "ada@example.com");
        assert_eq!(p.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(p.groups, ["g1", "g2"]);
        assert_eq!(p.raw_attributes.len(), 4);
    }

    #[test]
    fn okta_names_and_the_name_id_fallback() {
        let p = from_saml(
            "bob@corp.test",
            &attrs(&[("firstName", &["Bob"]), ("role", &["admin"])]),
        )
        .unwrap();
        assert_eq!(p.email, "bob@corp.test");
        assert_eq!(p.role.as_deref(), Some("admin"));
        assert!(from_saml("opaque", &[]).is_none());
    }

    #[test]
    fn oidc_claims_map_to_the_profile() {
        let c = json!({"sub": "42", "email": "C@x.test", "given_name": "C", "groups": ["a"]});
        let p = from_claims(c.as_object().unwrap()).unwrap();
        assert_eq!((p.idp_id.as_str(), p.email.as_str()), ("42", "c@x.test"));
        assert_eq!(p.groups, ["a"]);
        assert!(from_claims(json!({"sub": "1"}).as_object().unwrap()).is_none());
    }
}
