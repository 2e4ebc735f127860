//! Field rules of the Authorization area (WORKOS-API-NOTES §2.10): slugs, names and
//! descriptions, the `resource_id` / `resource_external_id` + `resource_type_slug` target of
//! checks and assignments, and the `{object: "list", data}` envelope of the unpaginated lists.

use serde::Serialize;

use crate::api::validate;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::has_nul;
use crate::ids::{AuthorizationResourceId, EnvironmentId, OrganizationId};
use crate::state::AppState;
use crate::store::authorization_resources::{self as resources, Resource, ResourceRef};

/// Longest slug, name and resource type slug.
pub const SLUG_MAX: usize = 48;
/// Longest description.
pub const DESCRIPTION_MAX: usize = 150;

/// `{object: "list", data}` without `list_metadata` (`RoleList`, the resource type list).
#[derive(Debug, Serialize)]
pub struct PlainList<T> {
    /// Always `"list"`.
    pub object: &'static str,
    /// Every item.
    pub data: Vec<T>,
}

impl<T> PlainList<T> {
    /// Wraps `data`.
    pub fn new(data: Vec<T>) -> Self {
        Self {
            object: "list",
            data,
        }
    }
}

fn slug_chars(slug: &str, extra: &[u8]) -> bool {
    !slug.is_empty()
        && slug.len() <= SLUG_MAX
        && slug.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || b == b'-'
                || b == b'_'
                || extra.contains(&b)
        })
}

/// A role or resource type slug: 1–48 lowercase letters, digits, `-` and `_`. Errors: 422
/// naming `field`.
pub fn slug(field: &str, value: &str) -> ApiResult<()> {
    if slug_chars(value, b"") {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            field,
            "invalid",
            format!("{field} must be 1-{SLUG_MAX} lowercase letters, digits, '-' or '_'."),
        ))
    }
}

/// A permission slug: 1–48 lowercase letters, digits, `-`, `_`, `:`, `.` and `*`. Errors: 422
/// naming `field`.
pub fn permission_slug(field: &str, value: &str) -> ApiResult<()> {
    if slug_chars(value, b":.*") {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            field,
            "invalid",
            format!(
                "{field} must be 1-{SLUG_MAX} lowercase letters, digits, '-', '_', ':', '.' or '*'."
            ),
        ))
    }
}

/// Whether a slug taken from a path can name a row (no NUL, not absurdly long).
pub fn path_key(value: &str) -> bool {
    !has_nul(value) && value.len() <= 1024
}

/// A required name of 1–48 characters (trimmed). Errors: 422 naming the field.
pub fn name(value: &str) -> ApiResult<String> {
    validate::non_blank("name", value)?;
    let name = value.trim().to_string();
    validate::max_chars("name", Some(&name), SLUG_MAX)?;
    Ok(name)
}

/// An optional description of at most 150 characters. Errors: 422 naming the field.
pub fn description(value: Option<&str>) -> ApiResult<()> {
    validate::max_chars("description", value, DESCRIPTION_MAX)
}

/// The target of a check, assignment or removal: exactly one of `resource_id` or
/// `resource_external_id` + `resource_type_slug`. A `resource_id` that is no resource id names
/// nothing (404 later).
///
/// Errors: 422 `invalid_request_parameters` when both or neither are given, or half the pair.
pub fn target(
    resource_id: Option<&str>,
    external_id: Option<&str>,
    type_slug: Option<&str>,
) -> ApiResult<ResourceRef> {
    match (resource_id, external_id, type_slug) {
        (Some(id), None, None) => Ok(AuthorizationResourceId::parse_lenient(id)
            .map_or_else(|| ResourceRef::Malformed(id.to_string()), ResourceRef::Id)),
        (None, Some(ext), Some(ty)) => Ok(ResourceRef::External {
            resource_type_slug: ty.to_string(),
            external_id: ext.to_string(),
        }),
        (Some(_), _, _) => Err(ApiError::invalid_field(
            "resource_id",
            "mutually_exclusive",
            "Provide either resource_id or resource_external_id and resource_type_slug, not both.",
        )),
        (None, None, None) => Err(ApiError::invalid_field(
            "resource_id",
            "required",
            "Provide resource_id, or resource_external_id and resource_type_slug.",
        )),
        (None, None, Some(_)) => Err(ApiError::invalid_field(
            "resource_external_id",
            "required",
            "resource_external_id is required with resource_type_slug.",
        )),
        (None, Some(_), None) => Err(ApiError::invalid_field(
            "resource_type_slug",
            "required",
            "resource_type_slug is required with resource_external_id.",
        )),
    }
}

/// The resource of an external-id path (organization, type, external id). Errors: 404.
pub async fn resource_by_path(
    state: &AppState,
    env: &EnvironmentId,
    (org, ty, ext): &(String, String, String),
) -> ApiResult<Resource> {
    let not_found = || ApiError::not_found("Authorization resource", format!("{ty}/{ext}"));
    let org = OrganizationId::parse_lenient(org).ok_or_else(not_found)?;
    if !path_key(ty) || !path_key(ext) {
        return Err(not_found());
    }
    let mut conn = state.db.acquire().await?;
    resources::find_by_external_id(&mut conn, env, &org, ty, ext)
        .await?
        .ok_or_else(not_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_spec_alphabets() {
        assert!(slug("slug", "org-admin_2").is_ok());
        assert!(slug("slug", "Admin").is_err());
        assert!(slug("slug", "a:b").is_err());
        assert!(slug("slug", &"a".repeat(49)).is_err());
        assert!(permission_slug("slug", "documents:read.*").is_ok());
        assert!(permission_slug("slug", "").is_err());
        assert!(permission_slug("slug", "a b").is_err());
    }

    #[test]
    fn a_target_is_an_id_or_an_external_pair() {
        assert!(matches!(
            target(Some("nope"), None, None),
            Ok(ResourceRef::Malformed(_))
        ));
        assert!(matches!(
            target(None, Some("x"), Some("doc")),
            Ok(ResourceRef::External { .. })
        ));
        assert!(target(Some("x"), Some("y"), None).is_err());
        assert!(target(None, Some("y"), None).is_err());
        assert!(target(None, None, None).is_err());
    }
}
