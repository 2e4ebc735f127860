//! SCIM resource documents (RFC 7643 §4): canonical attribute names, the coercions real IdPs need,
//! validation, rendering with `id`/`meta`, and `attributes`/`excludedAttributes` projection
//! (RFC 7644 §3.9).
//!
//! Attribute names are case-insensitive (RFC 7643 §2.1): incoming keys are rewritten to their
//! canonical spelling, so stored resources and filters agree. Leniency for IdP dialects: the
//! strings `"True"`/`"False"` become booleans for `active` and `primary` (Entra ID), and a bare
//! string `manager` becomes `{"value": …}` (Entra ID).

use serde_json::{Map, Value, json};

use crate::limits::SCIM_KEY_MAX;
use crate::protocols::scim::error::ScimError;
use crate::protocols::scim::schema::{GROUP_SCHEMA, USER_SCHEMA, normalize};
use crate::store::directory_group_members::Member;
use crate::store::directory_groups::GroupRecord;
use crate::store::directory_users::UserRecord;

/// Removes what the server owns or never stores: `id`, `meta`, `password`, `groups`
/// (users), `members` (groups, handled separately), and empty extension objects.
fn strip(m: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        m.remove(*k);
    }
    m.retain(|k, v| !(k.starts_with("urn:") && v.as_object().is_some_and(Map::is_empty)));
}

fn ensure_schemas(m: &mut Map<String, Value>, core: &str) {
    let mut schemas: Vec<String> = vec![core.to_string()];
    for k in m.keys() {
        if k.starts_with("urn:") && !schemas.contains(k) {
            schemas.push(k.clone());
        }
    }
    m.insert("schemas".into(), json!(schemas));
}

/// The strings Keystead indexes (`userName`, `externalId`, `displayName`) must be at most
/// [`SCIM_KEY_MAX`] characters. Errors: 400 `invalidValue` naming the attribute.
fn check_lengths(m: &Map<String, Value>, keys: &[&str]) -> Result<(), ScimError> {
    for k in keys {
        if let Some(Value::String(v)) = m.get(*k)
            && v.chars().count() > SCIM_KEY_MAX
        {
            return Err(ScimError::invalid_value(format!(
                "{k} must be at most {SCIM_KEY_MAX} characters."
            )));
        }
    }
    Ok(())
}

/// Validates and cleans a User document (after POST, PUT or PATCH) into the stored resource.
/// Errors: 400 `invalidValue` when `userName` is missing, a value has the wrong type, or an
/// indexed string is over [`SCIM_KEY_MAX`] characters.
pub fn prepare_user(doc: Value) -> Result<Value, ScimError> {
    let Value::Object(mut m) = normalize(doc) else {
        return Err(ScimError::invalid_syntax("A User must be a JSON object."));
    };
    strip(&mut m, &["id", "meta", "password", "groups"]);
    match m.get("userName") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        _ => return Err(ScimError::invalid_value("userName is required.")),
    }
    match m.get("active") {
        None | Some(Value::Bool(_)) => {}
        Some(Value::Null) => {
            m.remove("active");
        }
        Some(_) => return Err(ScimError::invalid_value("active must be a boolean.")),
    }
    for multi in [
        "emails",
        "phoneNumbers",
        "addresses",
        "roles",
        "entitlements",
        "photos",
        "ims",
    ] {
        match m.get(multi) {
            None | Some(Value::Array(_)) => {}
            Some(Value::Null) => {
                m.remove(multi);
            }
            Some(_) => {
                return Err(ScimError::invalid_value(format!(
                    "{multi} must be an array."
                )));
            }
        }
    }
    for s in ["externalId", "displayName", "title"] {
        if let Some(v) = m.get(s)
            && !(v.is_string() || v.is_null())
        {
            return Err(ScimError::invalid_value(format!("{s} must be a string.")));
        }
    }
    check_lengths(&m, &["userName", "externalId", "displayName"])?;
    ensure_schemas(&mut m, USER_SCHEMA);
    Ok(Value::Object(m))
}

/// Validates and cleans a Group document into the stored resource plus its member user ids.
/// Errors: 400 `invalidValue` when `displayName` is missing, a member has no `value`, or
/// `displayName` or `externalId` is over [`SCIM_KEY_MAX`] characters.
pub fn prepare_group(doc: Value) -> Result<(Value, Vec<String>), ScimError> {
    let Value::Object(mut m) = normalize(doc) else {
        return Err(ScimError::invalid_syntax("A Group must be a JSON object."));
    };
    let members = match m.remove("members") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut ids = Vec::new();
            for item in items {
                let id = item
                    .get("value")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ScimError::invalid_value("Each member needs a value."))?;
                if !ids.iter().any(|x| x == id) {
                    ids.push(id.to_string());
                }
            }
            ids
        }
        Some(_) => return Err(ScimError::invalid_value("members must be an array.")),
    };
    strip(&mut m, &["id", "meta"]);
    match m.get("displayName") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        _ => return Err(ScimError::invalid_value("displayName is required.")),
    }
    check_lengths(&m, &["displayName", "externalId"])?;
    ensure_schemas(&mut m, GROUP_SCHEMA);
    Ok((Value::Object(m), members))
}

/// The weak ETag of a resource version: `W/"3"`.
pub fn etag(version: i32) -> String {
    format!("W/\"{version}\"")
}

fn meta(kind: &str, location: String, created: &str, modified: &str, version: i32) -> Value {
    json!({
        "resourceType": kind,
        "created": created,
        "lastModified": modified,
        "location": location,
        "version": etag(version),
    })
}

/// A user as SCIM returns it: the stored resource plus `id`, `groups` and `meta`.
pub fn render_user(u: &UserRecord, groups: &[(String, String)], base: &str) -> Map<String, Value> {
    let mut m = u.resource.as_object().cloned().unwrap_or_default();
    m.insert("id".into(), u.id.as_str().into());
    if !groups.is_empty() {
        let list: Vec<Value> = groups
            .iter()
            .map(|(id, name)| {
                json!({"value": id, "display": name, "type": "direct", "$ref": format!("{base}/Groups/{id}")})
            })
            .collect();
        m.insert("groups".into(), Value::Array(list));
    }
    m.insert(
        "meta".into(),
        meta(
            "User",
            format!("{base}/Users/{}", u.id),
            &crate::timestamp::format(&u.created_at),
            &crate::timestamp::format(&u.updated_at),
            u.version,
        ),
    );
    m
}

/// A group as SCIM returns it: the stored resource plus `id`, `members` and `meta`.
/// `members` is `None` when excluded from the response.
pub fn render_group(
    g: &GroupRecord,
    members: Option<&[&Member]>,
    base: &str,
) -> Map<String, Value> {
    let mut m = g.resource.as_object().cloned().unwrap_or_default();
    m.insert("id".into(), g.id.as_str().into());
    if let Some(members) = members {
        let list: Vec<Value> = members
            .iter()
            .map(|x| {
                // No `display`: clients compare members with what they sent (scim2-tester).
                json!({"value": x.user_id, "type": "User", "$ref": format!("{base}/Users/{}", x.user_id)})
            })
            .collect();
        m.insert("members".into(), Value::Array(list));
    }
    m.insert(
        "meta".into(),
        meta(
            "Group",
            format!("{base}/Groups/{}", g.id),
            &crate::timestamp::format(&g.created_at),
            &crate::timestamp::format(&g.updated_at),
            g.version,
        ),
    );
    m
}

/// `attributes` / `excludedAttributes` (comma-separated attribute paths).
#[derive(Debug, Default, Clone)]
pub struct Projection {
    /// Only these attributes (plus `id` and `schemas`), when non-empty.
    pub attributes: Vec<String>,
    /// Everything but these.
    pub excluded: Vec<String>,
}

impl Projection {
    /// Parses the two comma-separated parameters.
    pub fn new(attributes: Option<&str>, excluded: Option<&str>) -> Self {
        let split = |s: Option<&str>| {
            s.map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
        };
        Self {
            attributes: split(attributes),
            excluded: split(excluded),
        }
    }

    /// True when `attr` (top-level) will not be returned, so it need not be loaded.
    pub fn omits(&self, attr: &str) -> bool {
        let named = |list: &[String]| {
            list.iter().any(|a| {
                crate::protocols::scim::filter::parse_attr_path(a)
                    .is_ok_and(|p| p.urn.is_none() && p.attr == attr)
            })
        };
        named(&self.excluded) || (!self.attributes.is_empty() && !named(&self.attributes))
    }

    /// Applies the projection to a rendered resource.
    pub fn apply(&self, mut m: Map<String, Value>) -> Map<String, Value> {
        let paths = |list: &[String]| -> Vec<crate::protocols::scim::filter::AttrPath> {
            list.iter()
                .filter_map(|a| crate::protocols::scim::filter::parse_attr_path(a).ok())
                .collect()
        };
        if !self.attributes.is_empty() {
            let keep = paths(&self.attributes);
            let mut out = Map::new();
            for key in ["id", "schemas"] {
                if let Some(v) = m.remove(key) {
                    out.insert(key.into(), v);
                }
            }
            for p in &keep {
                let (src, dst) = match &p.urn {
                    Some(urn) => {
                        let ext = m
                            .get(urn)
                            .and_then(Value::as_object)
                            .cloned()
                            .unwrap_or_default();
                        let Some(v) = ext.get(&p.attr).cloned() else {
                            continue;
                        };
                        let target = out
                            .entry(urn.clone())
                            .or_insert_with(|| Value::Object(Map::new()));
                        if let Some(t) = target.as_object_mut() {
                            t.insert(p.attr.clone(), v);
                        }
                        continue;
                    }
                    None => (m.get(&p.attr).cloned(), p.attr.clone()),
                };
                let Some(v) = src else { continue };
                match (&p.sub, v) {
                    (Some(sub), Value::Object(o)) => {
                        if let Some(sv) = o.get(sub) {
                            let target =
                                out.entry(dst).or_insert_with(|| Value::Object(Map::new()));
                            if let Some(t) = target.as_object_mut() {
                                t.insert(sub.clone(), sv.clone());
                            }
                        }
                    }
                    (_, v) => {
                        out.insert(dst, v);
                    }
                }
            }
            m = out;
        }
        for p in paths(&self.excluded) {
            if matches!(p.attr.as_str(), "id" | "schemas") && p.urn.is_none() {
                continue;
            }
            let container = match &p.urn {
                Some(urn) => match m.get_mut(urn).and_then(Value::as_object_mut) {
                    Some(c) => c,
                    None => continue,
                },
                None => &mut m,
            };
            match &p.sub {
                Some(sub) => {
                    if let Some(Value::Object(o)) = container.get_mut(&p.attr) {
                        o.remove(sub);
                    }
                }
                None => {
                    container.remove(&p.attr);
                }
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::scim::schema::ENTERPRISE;

    #[test]
    fn entra_style_input_is_normalized() {
        let doc = json!({
            "UserName": "a@b.c", "Active": "False", "emails": [{"Primary": "True", "value": "a@b.c"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"Manager": "m1"},
            "password": "secret", "id": "client-chosen"
        });
        let r = prepare_user(doc).unwrap();
        assert_eq!(r["userName"], "a@b.c");
        assert_eq!(r["active"], false);
        assert_eq!(r["emails"][0]["primary"], true);
        assert_eq!(r[ENTERPRISE]["manager"]["value"], "m1");
        assert!(r.get("password").is_none() && r.get("id").is_none());
        assert_eq!(r["schemas"], json!([USER_SCHEMA, ENTERPRISE]));
        assert_eq!(
            prepare_user(json!({"active": true})).unwrap_err().scim_type,
            Some("invalidValue")
        );
    }

    #[test]
    fn projection_keeps_and_drops_attributes() {
        let m = json!({"id": "1", "schemas": [], "userName": "u", "name": {"givenName": "g", "familyName": "f"}, "emails": []})
            .as_object()
            .unwrap()
            .clone();
        let p = Projection::new(Some("userName,name.givenName"), None);
        assert_eq!(
            Value::Object(p.apply(m.clone())),
            json!({"id": "1", "schemas": [], "userName": "u", "name": {"givenName": "g"}})
        );
        let p = Projection::new(None, Some("emails,name.familyName"));
        assert_eq!(
            Value::Object(p.apply(m)),
            json!({"id": "1", "schemas": [], "userName": "u", "name": {"givenName": "g"}})
        );
        assert!(Projection::new(None, Some("members")).omits("members"));
        assert!(Projection::new(Some("displayName"), None).omits("members"));
    }
}
