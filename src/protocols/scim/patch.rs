//! SCIM PATCH (RFC 7644 §3.5.2) applied to a resource document: `add`, `replace` and `remove`,
//! with and without `path`, value-path filters (`emails[type eq "work"].value`) and
//! schema-URN-qualified paths.
//!
//! Lenient to real IdPs, each pinned by a fixture test in `tests/api/scim_dialects.rs`:
//! - Entra ID: `"Add"`/`"Replace"`/`"Remove"` capitalised; `"True"`/`"False"` strings; no-path
//!   values whose keys are paths (`"name.givenName"`, `"urn:…:enterprise:2.0:User:department"`);
//!   a filtered `replace`/`add` with no matching element creates it (`emails[type eq "work"].value`);
//!   `remove` on `members` with a `value` list.
//! - Okta: no-path `replace` carrying `id` (ignored) and `active: false`.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{self, AttrPath, Filter, Op};
use super::schema::{ENTERPRISE, canonical, get_ci, normalize};

/// The PatchOp message schema.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Replace,
    Remove,
}

/// A parsed PATCH path: `attrPath[valFilter].sub` (the filter and trailing sub are optional).
#[derive(Debug, Clone)]
struct PatchPath {
    /// The attribute (with its own sub-attribute when no filter is used).
    attr: AttrPath,
    /// The value filter selecting elements of a multi-valued attribute.
    filter: Option<Filter>,
    /// The sub-attribute after the filter.
    sub: Option<String>,
    /// The path names a whole extension object (`urn:…:enterprise:2.0:User`).
    extension: Option<String>,
}

fn parse_path(path: &str) -> Result<PatchPath, ScimError> {
    let path = path.trim();
    if path.eq_ignore_ascii_case(ENTERPRISE) {
        return Ok(PatchPath {
            attr: AttrPath {
                urn: None,
                attr: String::new(),
                sub: None,
            },
            filter: None,
            sub: None,
            extension: Some(ENTERPRISE.to_string()),
        });
    }
    match path.find('[') {
        None => Ok(PatchPath {
            attr: filter::parse_attr_path(path)?,
            filter: None,
            sub: None,
            extension: None,
        }),
        Some(open) => {
            let close = path
                .rfind(']')
                .filter(|c| *c > open)
                .ok_or_else(|| ScimError::invalid_path(format!("'{path}' is not a valid path.")))?;
            let attr = filter::parse_attr_path(&path[..open])?;
            let inner = filter::parse(&path[open + 1..close])
                .map_err(|e| ScimError::invalid_path(e.detail))?;
            let rest = &path[close + 1..];
            let sub = match rest.strip_prefix('.') {
                Some(s) if !s.is_empty() => Some(canonical(s).to_string()),
                None if rest.is_empty() => None,
                _ => {
                    return Err(ScimError::invalid_path(format!(
                        "'{path}' is not a valid path."
                    )));
                }
            };
            Ok(PatchPath {
                attr,
                filter: Some(inner),
                sub,
                extension: None,
            })
        }
    }
}

/// Applies a PatchOp request body to `doc`. Errors: 400 `invalidSyntax`, `invalidPath`,
/// `noTarget`, `invalidValue` per RFC 7644 §3.5.2.
pub fn apply(doc: &mut Map<String, Value>, body: &Value) -> Result<(), ScimError> {
    let body = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("The PATCH body must be a JSON object."))?;
    let ops = get_ci(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("The PATCH body needs an Operations array."))?;
    for op in ops {
        let op = op
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("Each operation must be an object."))?;
        let kind = match get_ci(op, "op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("add") => Kind::Add,
            Some("replace") => Kind::Replace,
            Some("remove") => Kind::Remove,
            other => {
                return Err(ScimError::invalid_syntax(format!(
                    "Unknown PATCH op {other:?}; expected add, replace or remove."
                )));
            }
        };
        let value = get_ci(op, "value").cloned().map(normalize);
        let path = get_ci(op, "path")
            .and_then(Value::as_str)
            .filter(|p| !p.trim().is_empty());
        match (path, kind) {
            (None, Kind::Remove) => {
                return Err(ScimError::no_target("A remove operation needs a path."));
            }
            (None, _) => {
                let Some(Value::Object(map)) = value else {
                    return Err(ScimError::invalid_value(
                        "An add or replace without a path needs an object value.",
                    ));
                };
                for (k, v) in map {
                    if matches!(k.as_str(), "schemas" | "id" | "meta") {
                        continue;
                    }
                    apply_one(doc, &parse_path(&k)?, kind, Some(v))?;
                }
            }
            (Some(p), _) => {
                if kind != Kind::Remove && value.is_none() {
                    return Err(ScimError::invalid_value("The operation needs a value."));
                }
                apply_one(doc, &parse_path(p)?, kind, value)?;
            }
        }
    }
    // Values set through a path (`"path": "active", "value": "False"`) get the same coercions.
    if let Value::Object(m) = normalize(Value::Object(std::mem::take(doc))) {
        *doc = m;
    }
    Ok(())
}

/// Sets `key` in `container` per `add`/`replace` semantics.
fn set(container: &mut Map<String, Value>, key: &str, kind: Kind, value: Value) {
    match (container.get_mut(key), value) {
        (Some(Value::Array(existing)), Value::Array(new)) if kind == Kind::Add => {
            for v in new {
                if !existing.contains(&v) {
                    existing.push(v);
                }
            }
        }
        (Some(Value::Array(existing)), v) if kind == Kind::Add && !v.is_null() => {
            if !existing.contains(&v) {
                existing.push(v);
            }
        }
        (Some(Value::Object(existing)), Value::Object(new)) => {
            for (k, v) in new {
                existing.insert(k, v);
            }
        }
        (_, v) => {
            container.insert(key.to_string(), v);
        }
    }
}

fn same_member(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A new element for a filtered add/replace that matched nothing: the filter's `eq` terms.
fn seed(f: &Filter) -> Map<String, Value> {
    let mut m = Map::new();
    let mut stack = vec![f];
    while let Some(f) = stack.pop() {
        match f {
            Filter::Compare(p, Op::Eq, v) if p.urn.is_none() && p.sub.is_none() => {
                m.insert(p.attr.clone(), v.clone());
            }
            Filter::And(a, b) => {
                stack.push(a);
                stack.push(b);
            }
            _ => {}
        }
    }
    m
}

fn apply_one(
    doc: &mut Map<String, Value>,
    path: &PatchPath,
    kind: Kind,
    value: Option<Value>,
) -> Result<(), ScimError> {
    if let Some(urn) = &path.extension {
        return match (kind, value) {
            (Kind::Remove, _) => {
                doc.remove(urn);
                Ok(())
            }
            (_, Some(Value::Object(v))) => {
                set(doc, urn, kind, Value::Object(v));
                Ok(())
            }
            _ => Err(ScimError::invalid_value(format!(
                "{urn} needs an object value."
            ))),
        };
    }
    let a = &path.attr;
    let container: &mut Map<String, Value> = match &a.urn {
        Some(urn) => {
            if kind == Kind::Remove && !doc.contains_key(urn) {
                return Ok(());
            }
            let ext = doc
                .entry(urn.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !ext.is_object() {
                *ext = Value::Object(Map::new());
            }
            match ext.as_object_mut() {
                Some(m) => m,
                None => return Ok(()),
            }
        }
        None => doc,
    };
    let key = container
        .keys()
        .find(|k| k.eq_ignore_ascii_case(&a.attr))
        .cloned()
        .unwrap_or_else(|| a.attr.clone());

    let Some(f) = &path.filter else {
        return match (&a.sub, kind) {
            (Some(sub), Kind::Remove) => {
                match container.get_mut(&key) {
                    Some(Value::Object(o)) => {
                        o.remove(sub);
                    }
                    Some(Value::Array(items)) => {
                        for i in items.iter_mut().filter_map(Value::as_object_mut) {
                            i.remove(sub);
                        }
                    }
                    _ => {}
                }
                Ok(())
            }
            (Some(sub), _) => {
                let v = value.unwrap_or(Value::Null);
                match container
                    .entry(key)
                    .or_insert_with(|| Value::Object(Map::new()))
                {
                    Value::Array(items) => {
                        for i in items.iter_mut().filter_map(Value::as_object_mut) {
                            set(i, sub, kind, v.clone());
                        }
                    }
                    slot => {
                        if !slot.is_object() {
                            *slot = Value::Object(Map::new());
                        }
                        if let Some(o) = slot.as_object_mut() {
                            set(o, sub, kind, v);
                        }
                    }
                }
                Ok(())
            }
            (None, Kind::Remove) => {
                match (container.get_mut(&key), value) {
                    // Entra ID: {"op": "Remove", "path": "members", "value": [{"value": "id"}]}.
                    (Some(Value::Array(items)), Some(v)) => {
                        let gone: Vec<Value> = match v {
                            Value::Array(list) => list,
                            one => vec![one],
                        };
                        items.retain(|i| !gone.iter().any(|g| same_member(i, g)));
                    }
                    _ => {
                        container.remove(&key);
                    }
                }
                Ok(())
            }
            (None, _) => {
                set(container, &key, kind, value.unwrap_or(Value::Null));
                Ok(())
            }
        };
    };

    // A value filter: select elements of a multi-valued attribute.
    if kind == Kind::Remove && !container.contains_key(&key) {
        return Ok(());
    }
    let slot = container
        .entry(key.clone())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    let Some(items) = slot.as_array_mut() else {
        return Ok(());
    };
    let hits: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, i)| i.as_object().is_some_and(|o| filter::matches(f, o)))
        .map(|(n, _)| n)
        .collect();
    match (kind, &path.sub) {
        (Kind::Remove, None) => {
            let mut n = 0;
            items.retain(|_| {
                let keep = !hits.contains(&n);
                n += 1;
                keep
            });
        }
        (Kind::Remove, Some(sub)) => {
            for n in hits {
                if let Some(o) = items[n].as_object_mut() {
                    o.remove(sub);
                }
            }
        }
        (_, sub) => {
            let v = value.unwrap_or(Value::Null);
            if hits.is_empty() {
                let mut el = seed(f);
                match sub {
                    Some(sub) => {
                        el.insert(sub.clone(), v);
                    }
                    None => match v {
                        Value::Object(o) => el.extend(o),
                        other => {
                            el.insert("value".into(), other);
                        }
                    },
                }
                items.push(Value::Object(el));
            } else {
                for n in hits {
                    let Some(o) = items[n].as_object_mut() else {
                        continue;
                    };
                    match (sub, &v) {
                        (Some(sub), v) => {
                            o.insert(sub.clone(), v.clone());
                        }
                        (None, Value::Object(new)) => {
                            for (k, x) in new {
                                o.insert(k.clone(), x.clone());
                            }
                        }
                        (None, other) => {
                            items[n] = other.clone();
                        }
                    }
                }
            }
        }
    }
    if items.is_empty() {
        container.remove(&key);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(doc: Value, ops: Value) -> Value {
        let mut m = doc.as_object().unwrap().clone();
        apply(
            &mut m,
            &json!({ "schemas": [PATCH_SCHEMA], "Operations": ops }),
        )
        .unwrap();
        Value::Object(m)
    }

    #[test]
    fn paths_filters_and_urns() {
        let doc = json!({"userName": "a", "emails": [{"type": "work", "value": "a@x"}], "name": {"givenName": "A"}});
        let out = patched(
            doc,
            json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@x"},
                {"op": "Add", "path": "emails[type eq \"home\"].value", "value": "h@x"},
                {"op": "replace", "path": "name.familyName", "value": "F"},
                {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"},
                {"op": "Replace", "path": "active", "value": "False"},
            ]),
        );
        assert_eq!(
            out["emails"],
            json!([{"type": "work", "value": "b@x"}, {"type": "home", "value": "h@x"}])
        );
        assert_eq!(out["name"], json!({"givenName": "A", "familyName": "F"}));
        assert_eq!(
            out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            "R&D"
        );
        assert_eq!(out["active"], false);
        let out = patched(
            out,
            json!([{"op": "remove", "path": "emails[type eq \"home\"]"}, {"op": "remove", "path": "name.givenName"}]),
        );
        assert_eq!(out["emails"], json!([{"type": "work", "value": "b@x"}]));
        assert_eq!(out["name"], json!({"familyName": "F"}));
    }

    #[test]
    fn no_path_values_and_members() {
        let doc = json!({"displayName": "G", "members": [{"value": "u1"}, {"value": "u2"}]});
        let out = patched(
            doc,
            json!([
                {"op": "replace", "value": {"id": "ignored", "displayName": "H"}},
                {"op": "add", "path": "members", "value": [{"value": "u3"}, {"value": "u1"}]},
                {"op": "remove", "path": "members[value eq \"u2\"]"},
                {"op": "Remove", "path": "members", "value": [{"value": "u3"}]},
            ]),
        );
        assert_eq!(out["displayName"], "H");
        assert_eq!(out["members"], json!([{"value": "u1"}]));
        let out = patched(
            json!({"userName": "a"}),
            json!([{"op": "Add", "value": {"name.givenName": "G", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "7"}}]),
        );
        assert_eq!(out["name"]["givenName"], "G");
        assert_eq!(
            out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
            "7"
        );
    }

    #[test]
    fn bad_operations_are_rejected() {
        let mut m = Map::new();
        for body in [
            json!({"Operations": [{"op": "move", "path": "a", "value": 1}]}),
            json!({"Operations": [{"op": "remove"}]}),
            json!({"Operations": [{"op": "add", "value": "x"}]}),
            json!({"Operations": [{"op": "add", "path": "emails[type eq", "value": "x"}]}),
            json!({"nope": []}),
        ] {
            assert!(apply(&mut m, &body).is_err(), "{body}");
        }
    }
}
