//! The `metadata` string map of organizations and users (WORKOS-API-NOTES §2.10): its limits and
//! the partial-update merge, applied inside the mutation's transaction on the row locked with
//! `select … for update`, so concurrent updates of different keys all survive.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// Metadata limits: at most 50 keys, keys ≤ 40 characters, string values ≤ 600 characters.
///
/// `null` values are kept (they mean "remove this key" in a merge, see [`merge`]).
/// Errors: 400 `invalid_metadata`, as the spec gives for organizations.
pub fn validate(map: &Map<String, Value>) -> ApiResult<()> {
    let invalid = |m: String| ApiError::bad_request("invalid_metadata", m);
    if map.len() > 50 {
        return Err(invalid("Metadata can have at most 50 keys.".into()));
    }
    for (k, v) in map {
        if k.chars().count() > 40 {
            return Err(invalid(format!(
                "Metadata key '{k}' is longer than 40 characters."
            )));
        }
        match v {
            Value::String(s) if s.chars().count() > 600 => {
                return Err(invalid(format!(
                    "Metadata value of '{k}' is longer than 600 characters."
                )));
            }
            Value::String(_) | Value::Null => {}
            _ => {
                return Err(invalid(format!(
                    "Metadata value of '{k}' must be a string."
                )));
            }
        }
    }
    Ok(())
}

/// Merges a metadata update into the stored map: string values set keys, `null` or `""` remove
/// them. The result is validated again (the 50-key limit applies to the merged map).
pub fn merge(
    stored: &Map<String, Value>,
    update: Map<String, Value>,
) -> ApiResult<Map<String, Value>> {
    let mut merged = stored.clone();
    for (k, v) in update {
        match v {
            Value::String(s) if !s.is_empty() => {
                merged.insert(k, Value::String(s));
            }
            _ => {
                merged.remove(&k);
            }
        }
    }
    validate(&merged)?;
    Ok(merged)
}

/// How an update changes the stored metadata.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataChange {
    /// `metadata: null`: the map becomes empty.
    Clear,
    /// `metadata: {…}`: merged into the stored map with [`merge`].
    Merge(Map<String, Value>),
}

impl MetadataChange {
    /// The new map, given the stored one (read under the row lock).
    pub fn apply(self, stored: &Map<String, Value>) -> ApiResult<Map<String, Value>> {
        match self {
            Self::Clear => Ok(Map::new()),
            Self::Merge(update) => merge(stored, update),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn limits_are_enforced() {
        let too_many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(validate(&too_many).is_err());
        assert!(validate(&map(json!({ "k".repeat(41): "v" }))).is_err());
        assert!(validate(&map(json!({"k": 1}))).is_err());
    }

    #[test]
    fn null_and_empty_remove_keys_and_strings_set_them() {
        let stored = map(json!({"a": "1", "b": "2", "d": "4"}));
        let update = map(json!({"a": null, "c": "3", "d": ""}));
        assert_eq!(
            Value::Object(MetadataChange::Merge(update).apply(&stored).unwrap()),
            json!({"b": "2", "c": "3"})
        );
        assert!(MetadataChange::Clear.apply(&stored).unwrap().is_empty());
    }
}
