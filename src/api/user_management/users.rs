//! `/user_management/users`: list, create, get, get by external id, update (`PUT`, partial,
//! including the password), delete. Spec tag `user-management.users`
//! (operations `UserlandUsersController_*`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::api::validate;
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::has_nul;
use crate::http::{AppJson, Env, IdPath, List, ListParams, Order, Patch, QueryMap};
use crate::ids::{IdFilter, UserId};
use crate::password::{self, HashType};
use crate::state::AppState;
use crate::store::metadata::MetadataChange;
use crate::store::organization_memberships;
use crate::store::users::{self, NewUser, User, UserChanges, UserFilter};

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/user_management/users", get(list_users).post(create_user))
        .route(
            "/user_management/users/{id}",
            get(get_user).put(update_user).delete(delete_user),
        )
        .route(
            "/user_management/users/external_id/{external_id}",
            get(get_user_by_external_id),
        )
}

/// Body of `POST /user_management/users` (spec: `CreateUserlandUserDto`).
#[derive(Debug, Deserialize)]
pub struct CreateUser {
    /// Email address; required.
    pub email: String,
    /// Plain password (hashed with argon2id); exclusive with `password_hash`.
    #[serde(default)]
    pub password: Option<String>,
    /// Imported hash; requires `password_hash_type`.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// Scheme of `password_hash`.
    #[serde(default)]
    pub password_hash_type: Option<HashType>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Whether the email is already verified.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// String-to-string metadata.
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// The caller's id for the user.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Preferred locale.
    #[serde(default)]
    pub locale: Option<String>,
}

/// Body of `PUT /user_management/users/{id}`: every field optional.
#[derive(Debug, Deserialize)]
pub struct UpdateUser {
    /// New email.
    #[serde(default)]
    pub email: Option<String>,
    /// New first name; `null` clears it.
    #[serde(default)]
    pub first_name: Patch<String>,
    /// New last name; `null` clears it.
    #[serde(default)]
    pub last_name: Patch<String>,
    /// New verification flag.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// New plain password.
    #[serde(default)]
    pub password: Option<String>,
    /// New imported hash.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// Scheme of `password_hash`.
    #[serde(default)]
    pub password_hash_type: Option<HashType>,
    /// Metadata to merge (`null` values remove keys); `null` clears all.
    #[serde(default)]
    pub metadata: Patch<Map<String, Value>>,
    /// New external id; `null` clears it.
    #[serde(default)]
    pub external_id: Patch<String>,
    /// New locale; `null` clears it.
    #[serde(default)]
    pub locale: Patch<String>,
}

/// Turns `password` / `password_hash` + `password_hash_type` into the hash to store.
///
/// Errors: 400 `password_and_password_hash_provided`, `password_and_password_hash_type_provided`,
/// `invalid_password_hash`, `password_strength_error`.
async fn password_hash(
    state: &AppState,
    password: Option<String>,
    hash: Option<String>,
    kind: Option<HashType>,
) -> ApiResult<Option<String>> {
    match (password, hash, kind) {
        (None, None, None) => Ok(None),
        (Some(_), Some(_), _) => Err(ApiError::bad_request(
            "password_and_password_hash_provided",
            "Provide either password or password_hash, not both.",
        )),
        (Some(_), None, Some(_)) => Err(ApiError::bad_request(
            "password_and_password_hash_type_provided",
            "password_hash_type only applies to password_hash.",
        )),
        (Some(pw), None, None) => {
            password::check_strength(&pw).map_err(|m| ApiError::BadRequest {
                code: Some("password_strength_error"),
                message: "Password does not meet strength requirements.".into(),
                errors: vec![serde_json::json!({ "code": "password_too_weak", "message": m })],
            })?;
            Ok(Some(state.passwords.hash(pw).await?))
        }
        (None, Some(hash), Some(kind)) => password::import(&hash, kind)
            .map(Some)
            .map_err(|e| ApiError::bad_request("invalid_password_hash", e.to_string())),
        (None, Some(_), None) | (None, None, Some(_)) => Err(ApiError::bad_request(
            "invalid_password_hash",
            "password_hash and password_hash_type must be given together.",
        )),
    }
}

/// `GET /user_management/users` — filters `email`, `organization_id` (or deprecated `organization`).
async fn list_users(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
) -> ApiResult<Json<List<User>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let filter = UserFilter {
        email: q.get("email").map(EmailAddress::new),
        organization_id: q
            .get("organization_id")
            .or_else(|| q.get("organization"))
            .map(IdFilter::parse),
    };
    let mut conn = state.db.acquire().await?;
    let rows = users::list(&mut conn, &ctx.environment_id, &filter, &params).await?;
    Ok(Json(params.page(rows, |u| &u.id)))
}

/// `POST /user_management/users` → 201 User; records `user.created`.
async fn create_user(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let email = validate::email(&body.email)?;
    validate::max_chars("first_name", body.first_name.as_deref(), validate::NAME_MAX)?;
    validate::max_chars("last_name", body.last_name.as_deref(), validate::NAME_MAX)?;
    validate::max_chars("locale", body.locale.as_deref(), validate::LOCALE_MAX)?;
    validate::external_id(body.external_id.as_deref())?;
    let metadata = validate::new_metadata(body.metadata)?;
    let password_hash = password_hash(
        &state,
        body.password,
        body.password_hash,
        body.password_hash_type,
    )
    .await?;
    let new = NewUser {
        email,
        email_verified: body.email_verified.unwrap_or(false),
        first_name: body.first_name,
        last_name: body.last_name,
        profile_picture_url: None,
        external_id: body.external_id,
        metadata,
        locale: body.locale,
        password_hash,
    };
    let mut tx = state.db.begin().await?;
    let user = users::insert(&mut tx, &ctx.environment_id, new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// `GET /user_management/users/{id}`.
async fn get_user(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<UserId>,
) -> ApiResult<Json<User>> {
    let mut conn = state.db.acquire().await?;
    users::find(&mut conn, &ctx.environment_id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("User", id))
}

/// `GET /user_management/users/external_id/{external_id}`.
async fn get_user_by_external_id(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(external_id): Path<String>,
) -> ApiResult<Json<User>> {
    let found = if has_nul(&external_id) {
        None
    } else {
        let mut conn = state.db.acquire().await?;
        users::find_by_external_id(&mut conn, &ctx.environment_id, &external_id).await?
    };
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found("User", external_id))
}

/// `PUT /user_management/users/{id}` — partial update; records `user.updated`.
async fn update_user(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<UserId>,
    AppJson(body): AppJson<UpdateUser>,
) -> ApiResult<Json<User>> {
    let email = body.email.as_deref().map(EmailAddress::parse).transpose()?;
    let first_name = body.first_name.value().map(String::as_str);
    validate::max_chars("first_name", first_name, validate::NAME_MAX)?;
    let last_name = body.last_name.value().map(String::as_str);
    validate::max_chars("last_name", last_name, validate::NAME_MAX)?;
    let locale = body.locale.value().map(String::as_str);
    validate::max_chars("locale", locale, validate::LOCALE_MAX)?;
    validate::external_id(body.external_id.value().map(String::as_str))?;
    if let Patch::Value(m) = &body.metadata {
        validate::metadata(m)?;
    }
    let env = &ctx.environment_id;
    // Fail fast on an unknown id before spending a password hash on it.
    {
        let mut conn = state.db.acquire().await?;
        users::find(&mut conn, env, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("User", &id))?;
    }
    let password_hash = password_hash(
        &state,
        body.password,
        body.password_hash,
        body.password_hash_type,
    )
    .await?;
    let metadata = match body.metadata {
        Patch::Absent => None,
        Patch::Null => Some(MetadataChange::Clear),
        Patch::Value(update) => Some(MetadataChange::Merge(update)),
    };
    let changes = UserChanges {
        email,
        email_verified: body.email_verified,
        first_name: body.first_name.into_update(),
        last_name: body.last_name.into_update(),
        external_id: body.external_id.into_update(),
        metadata,
        locale: body.locale.into_update(),
        password_hash,
    };
    let mut tx = state.db.begin().await?;
    let user = users::update(&mut tx, env, &id, changes).await?;
    tx.commit().await?;
    Ok(Json(user))
}

/// `DELETE /user_management/users/{id}` → 200 with no body; records `user.deleted`.
async fn delete_user(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<UserId>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    organization_memberships::delete_user(&mut tx, &ctx.environment_id, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::OK)
}
