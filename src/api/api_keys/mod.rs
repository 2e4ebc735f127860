//! API Keys: the keys a SaaS application issues to its customers' organizations and their users,
//! validated on each of the application's requests. Spec tags `organizations.api_keys`
//! (`OrganizationApiKeysController_list`, `_create`: `GET`/`POST /organizations/{id}/api_keys`)
//! and `api_keys` (`UserApiKeysController_list`, `_create`: `GET`/`POST
//! /user_management/users/{id}/api_keys`; `ApiKeysController_delete`: `DELETE /api_keys/{id}`;
//! `ApiKeysController_validateApiKey`: `POST /api_keys/validations`), and the SDK-only
//! `POST /api_keys/{id}/expire` (workos-python `api_keys.create_api_key_expire`).
//!
//! The value (`sk_…`) is in the create response only; afterwards a key shows its
//! `obfuscated_value`. A validation answers 200 `{api_key}` with the key, or `null` for a value
//! that is unknown, deleted, expired, of another environment, a user key whose owner is no
//! longer an active member, or one of Keystead's own environment keys (those authenticate to
//! this API and are never API Keys; API Keys never authenticate to it). Validations are served
//! from `state::api_keys`'s cache.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::validate;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::http::extract::from_value;
use crate::http::{AppJson, Env, IdPath, List, ListParams, Order, Patch, QueryMap};
use crate::ids::{ApiKeyId, EnvironmentId, IdFilter, OrganizationId, UserId};
use crate::state::AppState;
use crate::store::api_keys::{self, ApiKey, ApiKeyWithValue, ListOwner, NewApiKey, Owner};
use crate::store::{organization_memberships, organizations, users};

/// Most permissions on one key.
pub const PERMISSIONS_MAX: usize = 100;
/// Longest permission slug.
pub const PERMISSION_MAX: usize = 128;

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/organizations/{id}/api_keys",
            get(list_organization_keys).post(create_organization_key),
        )
        .route(
            "/user_management/users/{id}/api_keys",
            get(list_user_keys).post(create_user_key),
        )
        .route("/api_keys/validations", post(validate_key))
        .route("/api_keys/{id}", axum::routing::delete(delete_key))
        .route("/api_keys/{id}/expire", post(expire_key))
}

/// Body of `POST /organizations/{id}/api_keys` (`CreateOrganizationApiKeyDto`).
#[derive(Debug, Deserialize)]
pub struct CreateOrganizationApiKey {
    /// Descriptive name.
    pub name: String,
    /// Permission slugs.
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    /// Expiry (ISO 8601, in the future); the Python SDK sends it.
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// Body of `POST /user_management/users/{id}/api_keys` (`CreateUserApiKeyDto`).
#[derive(Debug, Deserialize)]
pub struct CreateUserApiKey {
    /// Descriptive name.
    pub name: String,
    /// The organization the key can access; the user must be an active member.
    pub organization_id: String,
    /// Permission slugs.
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    /// Expiry (ISO 8601, in the future).
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// The checked name, permissions and expiry of a new key. Errors: 422 naming the field.
fn parse_fields(
    name: &str,
    permissions: Option<Vec<String>>,
    expires_at: Option<&str>,
) -> ApiResult<(String, Vec<String>, Option<DateTime<Utc>>)> {
    validate::non_blank("name", name)?;
    let name = name.trim().to_string();
    validate::max_chars("name", Some(&name), validate::NAME_MAX)?;
    let mut slugs: Vec<String> = Vec::new();
    for p in permissions.unwrap_or_default() {
        let ok = !p.trim().is_empty()
            && p.chars().count() <= PERMISSION_MAX
            && !p.chars().any(char::is_whitespace);
        if !ok {
            return Err(ApiError::invalid_field(
                "permissions",
                "invalid",
                format!(
                    "permissions must be slugs of 1-{PERMISSION_MAX} characters without spaces."
                ),
            ));
        }
        if !slugs.contains(&p) {
            slugs.push(p);
        }
    }
    if slugs.len() > PERMISSIONS_MAX {
        return Err(ApiError::invalid_field(
            "permissions",
            "invalid",
            format!("A key has at most {PERMISSIONS_MAX} permissions."),
        ));
    }
    let expires_at = match expires_at {
        None => None,
        Some(raw) => {
            let at = DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .filter(|t| *t > Utc::now())
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "expires_at",
                        "invalid",
                        "expires_at must be an ISO 8601 timestamp in the future.",
                    )
                })?;
            Some(at)
        }
    };
    Ok((name, slugs, expires_at))
}

/// Creates the key in one transaction; a concurrently deleted owner is the owner's 404.
async fn create(
    state: &AppState,
    env: &EnvironmentId,
    new: NewApiKey,
) -> ApiResult<(StatusCode, Json<ApiKeyWithValue>)> {
    let mut tx = state.db.begin().await?;
    let org = new.owner.organization_id().clone();
    let created = api_keys::insert(&mut tx, env, &new)
        .await
        .on_constraint("product_api_keys_organization_fkey", || {
            ApiError::not_found_id::<OrganizationId>(org.as_str())
        })
        .on_constraint("product_api_keys_user_fkey", || {
            ApiError::not_found_id::<UserId>(match &new.owner {
                Owner::User { id, .. } => id.as_str(),
                Owner::Organization { id } => id.as_str(),
            })
        })?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `POST /organizations/{id}/api_keys` `{name, permissions?, expires_at?}` → 201
/// `OrganizationApiKeyWithValue`; records `api_key.created`. Errors: 404 for an unknown
/// organization; 422 for a bad field.
async fn create_organization_key(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationId>,
    AppJson(body): AppJson<CreateOrganizationApiKey>,
) -> ApiResult<(StatusCode, Json<ApiKeyWithValue>)> {
    let env = &ctx.environment_id;
    let (name, permissions, expires_at) =
        parse_fields(&body.name, body.permissions, body.expires_at.as_deref())?;
    let mut conn = state.db.acquire().await?;
    if organizations::find(&mut conn, env, &id).await?.is_none() {
        return Err(ApiError::not_found_id::<OrganizationId>(id));
    }
    drop(conn);
    let new = NewApiKey {
        owner: Owner::Organization { id },
        name,
        permissions,
        expires_at,
    };
    create(&state, env, new).await
}

/// A 422 of the user-key operation turned into its 400 (the spec answers a bad body of
/// `POST /user_management/users/{id}/api_keys` with 400 `{message, errors[{code, field}]}`).
fn as_bad_request(e: ApiError) -> ApiError {
    match e {
        ApiError::Unprocessable {
            code,
            message,
            errors,
        } => ApiError::BadRequest {
            code: Some(code),
            message,
            errors,
        },
        other => other,
    }
}

/// `POST /user_management/users/{id}/api_keys` `{name, organization_id, permissions?,
/// expires_at?}` → 201 `UserApiKeyWithValue`; records `api_key.created`. Errors: 400 for a
/// missing or bad field; 404 for an unknown user; 422 for an unknown organization or a user who
/// is not an active member of it.
async fn create_user_key(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<UserId>,
    AppJson(body): AppJson<Value>,
) -> ApiResult<(StatusCode, Json<ApiKeyWithValue>)> {
    let env = &ctx.environment_id;
    let body: CreateUserApiKey = from_value(body).map_err(as_bad_request)?;
    let (name, permissions, expires_at) =
        parse_fields(&body.name, body.permissions, body.expires_at.as_deref())
            .map_err(as_bad_request)?;
    let mut conn = state.db.acquire().await?;
    if users::find(&mut conn, env, &id).await?.is_none() {
        return Err(ApiError::not_found_id::<UserId>(id));
    }
    let unknown_org = || ApiError::Unprocessable {
        code: "organization_not_found",
        message: format!("Organization not found: '{}'.", body.organization_id),
        errors: Vec::new(),
    };
    let org = OrganizationId::parse_lenient(&body.organization_id).ok_or_else(unknown_org)?;
    if organizations::find(&mut conn, env, &org).await?.is_none() {
        return Err(unknown_org());
    }
    if organization_memberships::active_roles(&mut conn, env, &id, &org)
        .await?
        .is_none()
    {
        return Err(ApiError::Unprocessable {
            code: "organization_membership_required",
            message: format!("User '{id}' has no active membership in organization '{org}'."),
            errors: Vec::new(),
        });
    }
    drop(conn);
    let new = NewApiKey {
        owner: Owner::User {
            id,
            organization_id: org,
        },
        name,
        permissions,
        expires_at,
    };
    create(&state, env, new).await
}

/// `GET /organizations/{id}/api_keys`: the organization's own keys, newest first. Errors: 404
/// for an unknown organization; 422 for bad list parameters.
async fn list_organization_keys(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationId>,
    q: QueryMap,
) -> ApiResult<Json<List<ApiKey>>> {
    let env = &ctx.environment_id;
    let params = ListParams::from_query(&q, Order::Desc)?;
    let mut conn = state.db.acquire().await?;
    if organizations::find(&mut conn, env, &id).await?.is_none() {
        return Err(ApiError::not_found_id::<OrganizationId>(id));
    }
    let rows = api_keys::list(&mut conn, env, ListOwner::Organization(&id), &params).await?;
    Ok(Json(params.page(rows, |k| &k.id)))
}

/// `GET /user_management/users/{id}/api_keys[?organization_id=]`: the user's keys, newest
/// first. Errors: 404 for an unknown user; 422 for bad list parameters.
async fn list_user_keys(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<UserId>,
    q: QueryMap,
) -> ApiResult<Json<List<ApiKey>>> {
    let env = &ctx.environment_id;
    let params = ListParams::from_query(&q, Order::Desc)?;
    let org = q
        .get("organization_id")
        .map(IdFilter::<OrganizationId>::parse);
    let mut conn = state.db.acquire().await?;
    if users::find(&mut conn, env, &id).await?.is_none() {
        return Err(ApiError::not_found_id::<UserId>(id));
    }
    let rows = api_keys::list(&mut conn, env, ListOwner::User(&id, org.as_ref()), &params).await?;
    Ok(Json(params.page(rows, |k| &k.id)))
}

/// `DELETE /api_keys/{id}` → 204: the key stops validating on every server; records
/// `api_key.revoked`. Errors: 404.
async fn delete_key(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<ApiKeyId>,
) -> ApiResult<StatusCode> {
    let env = &ctx.environment_id;
    let mut tx = state.db.begin().await?;
    let key = api_keys::delete(&mut tx, env, &id)
        .await?
        .ok_or_else(|| ApiError::not_found_id::<ApiKeyId>(id))?;
    tx.commit().await?;
    state.api_keys.evict_key(env, &key);
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /api_keys/{id}/expire`.
#[derive(Debug, Default, Deserialize)]
pub struct ExpireApiKey {
    /// Absent (or in the past): expire now; `null`: clear a scheduled expiry; a future ISO 8601
    /// timestamp: schedule it.
    #[serde(default)]
    pub expires_at: Patch<String>,
}

/// `POST /api_keys/{id}/expire` `{expires_at?}` → 200 `ApiKey` (the SDK-only path of
/// workos-python): expires the key now, schedules or clears its expiry; records
/// `api_key.updated`. Errors: 404; 409 `api_key_expired` when it has expired already; 422 for
/// a malformed `expires_at`.
async fn expire_key(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<ApiKeyId>,
    AppJson(body): AppJson<ExpireApiKey>,
) -> ApiResult<Json<ApiKey>> {
    let env = &ctx.environment_id;
    let now = Utc::now();
    let requested = match body.expires_at {
        Patch::Absent => Some(now),
        Patch::Null => None,
        Patch::Value(raw) => {
            let at = DateTime::parse_from_rfc3339(&raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::invalid_field(
                        "expires_at",
                        "invalid",
                        "expires_at must be an ISO 8601 timestamp or null.",
                    )
                })?;
            Some(at.max(now))
        }
    };
    let mut tx = state.db.begin().await?;
    let current = api_keys::lock(&mut tx, env, &id)
        .await?
        .ok_or_else(|| ApiError::not_found_id::<ApiKeyId>(id))?;
    if current.is_expired_at(now) {
        return Err(ApiError::Conflict {
            code: Some("api_key_expired"),
            message: format!("API key '{}' has already expired.", current.id),
        });
    }
    let key = api_keys::set_expiry(&mut tx, env, &current, requested).await?;
    tx.commit().await?;
    state.api_keys.evict_key(env, &key);
    Ok(Json(key))
}

/// Body of `POST /api_keys/validations` (`ValidateApiKeyDto`).
#[derive(Debug, Deserialize)]
pub struct ValidateApiKey {
    /// The presented value.
    pub value: String,
}

/// `POST /api_keys/validations` `{value}` → 200 `{api_key: ApiKey | null}` (see the module
/// documentation for when it is `null`). Errors: 422 when `value` is missing or not a string.
async fn validate_key(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<ValidateApiKey>,
) -> ApiResult<Json<Validation>> {
    let api_key = state
        .api_keys
        .validate(&state.db, &ctx.environment_id, &body.value)
        .await?;
    Ok(Json(Validation { api_key }))
}

/// The answer of `POST /api_keys/validations` (`ApiKeyValidationResponse`).
#[derive(Debug, Serialize)]
pub struct Validation {
    /// The key, `null` when the value is not a valid key of the environment.
    pub api_key: Option<ApiKey>,
}
