//! Field rules the spec states (WORKOS-API-NOTES §2.10), shared by every area.

use serde_json::{Map, Value};

use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};

pub use crate::limits::{EXTERNAL_ID_MAX, LOCALE_MAX, NAME_MAX, STRIPE_CUSTOMER_ID_MAX, max_chars};

/// Metadata limits: at most 50 keys, keys ≤ 40 characters, string values ≤ 600 characters
/// ([`crate::store::metadata::validate`]; `null` values are kept, they remove a key in a merge).
/// Errors: 400 `invalid_metadata`, as the spec gives for organizations.
pub fn metadata(map: &Map<String, Value>) -> ApiResult<()> {
    crate::store::metadata::validate(map)
}

/// Drops `null` entries of a metadata map given at creation.
pub fn new_metadata(map: Option<Map<String, Value>>) -> ApiResult<Map<String, Value>> {
    let map = map.unwrap_or_default();
    metadata(&map)?;
    Ok(map.into_iter().filter(|(_, v)| v.is_string()).collect())
}

/// `external_id`: 1 to [`EXTERNAL_ID_MAX`] characters. Errors: 422 naming the field.
pub fn external_id(value: Option<&str>) -> ApiResult<()> {
    match value {
        Some(v) if v.chars().count() > EXTERNAL_ID_MAX || v.is_empty() => {
            Err(ApiError::invalid_field(
                "external_id",
                "invalid",
                "external_id must be 1 to 128 characters.",
            ))
        }
        _ => Ok(()),
    }
}

/// `email` as [`EmailAddress::parse`] takes it, for the operations whose spec answers a bad
/// address with its 422 (`POST /user_management/users`, `/invitations`, `/magic_auth`,
/// `/password_reset`). Errors: 422 `invalid_request_parameters` with
/// `errors: [{field: "email", code: "invalid_email"}]`.
pub fn email(raw: &str) -> ApiResult<EmailAddress> {
    EmailAddress::parse(raw).map_err(|_| {
        ApiError::invalid_field(
            "email",
            "invalid_email",
            format!("'{raw}' is not a valid email address."),
        )
    })
}

/// A required non-blank string. Errors: 422 naming the field.
pub fn non_blank(field: &str, value: &str) -> ApiResult<()> {
    if value.trim().is_empty() {
        Err(ApiError::invalid_field(
            field,
            "required",
            format!("{field} must not be empty."),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lengths_are_counted_in_characters() {
        assert!(max_chars("name", Some(&"é".repeat(NAME_MAX)), NAME_MAX).is_ok());
        assert!(max_chars("name", Some(&"a".repeat(NAME_MAX + 1)), NAME_MAX).is_err());
        assert!(max_chars("name", None, NAME_MAX).is_ok());
    }

    #[test]
    fn metadata_limits_are_enforced() {
        let too_many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(metadata(&too_many).is_err());
        let long_key: Map<String, Value> = [("k".repeat(41), json!("v"))].into_iter().collect();
        assert!(metadata(&long_key).is_err());
        let number: Map<String, Value> = [("k".into(), json!(1))].into_iter().collect();
        assert!(metadata(&number).is_err());
        let stored: Map<String, Value> = [("a".into(), json!("1")), ("b".into(), json!("2"))]
            .into_iter()
            .collect();
        let update: Map<String, Value> = [("a".into(), json!(null)), ("c".into(), json!("3"))]
            .into_iter()
            .collect();
        assert_eq!(
            Value::Object(crate::store::metadata::merge(&stored, update).unwrap()),
            json!({"b": "2", "c": "3"})
        );
    }
}
