//! SCIM schema names and attribute spelling (RFC 7643 §2.1, §4, §8.7): the core and enterprise
//! schema URNs, the canonical spelling of every attribute, case-insensitive lookup, and the
//! normalisation real IdPs need (`"True"`/`"False"` booleans, a bare-string `manager`).

use serde_json::{Map, Value, json};

/// The SCIM enterprise user extension URN (RFC 7643 §4.3).
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The core User schema URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema URN.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// Canonical spellings of every attribute of the core User, Group and enterprise schemas.
const CANONICAL: &[&str] = &[
    "schemas",
    "id",
    "externalId",
    "meta",
    "userName",
    "name",
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "password",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
    "value",
    "display",
    "type",
    "primary",
    "$ref",
    "members",
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
    "resourceType",
    "created",
    "lastModified",
    "location",
    "version",
    ENTERPRISE,
    USER_SCHEMA,
    GROUP_SCHEMA,
];

/// The canonical spelling of an attribute name (or schema URN), else the name as given.
pub fn canonical(name: &str) -> &str {
    CANONICAL
        .iter()
        .find(|c| c.eq_ignore_ascii_case(name))
        .copied()
        .unwrap_or(name)
}

/// Case-insensitive member lookup.
pub fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn coerce_bool(v: Value) -> Value {
    match v {
        Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        other => other,
    }
}

/// Rewrites keys to their canonical spelling at every depth and applies the IdP coercions.
pub fn normalize(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = canonical(&k).to_string();
                let v = normalize(v);
                let v = match key.as_str() {
                    "active" | "primary" => coerce_bool(v),
                    "manager" => match v {
                        Value::String(s) => json!({ "value": s }),
                        other => other,
                    },
                    _ => v,
                };
                out.insert(key, v);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(normalize).collect()),
        other => other,
    }
}
