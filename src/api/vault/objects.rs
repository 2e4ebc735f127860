//! Vault objects, as the official SDKs call them (Node `vault.*Object*`, Python `vault.*_kv*`):
//! `POST /vault/v1/kv` (create), `GET /vault/v1/kv` (list), `GET /vault/v1/kv/name/{name}` and
//! `GET /vault/v1/kv/{id}` (read, decrypted), `GET /vault/v1/kv/{id}/metadata` (describe),
//! `PUT /vault/v1/kv/{id}` (update: a new version, optional `version_check`),
//! `DELETE /vault/v1/kv/{id}` (optional `?version_check=`) and `GET /vault/v1/kv/{id}/versions`.
//!
//! Each version has its own fresh data key, wrapped for the object's key context (fixed at
//! creation); the value is AES-256-GCM under it with the environment and version ids as
//! associated data. Limits: `name` 1 to [`NAME_MAX`] characters, `value` at most [`VALUE_MAX`]
//! bytes (UTF-8). Events: `vault.data.created|updated|deleted|read`, `vault.metadata.read`,
//! `vault.names.listed`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::keyring::{self, RootKey, parse_context};
use crate::crypto::data_keys::{self, KeyContext};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::has_nul;
use crate::http::{AppJson, Env, IdPath, List, ListParams, Order, QueryMap};
use crate::ids::{EnvironmentId, VaultObjectId, VaultObjectVersionId};
use crate::state::AppState;
use crate::state::environment_keys::AuthContext;
use crate::store::events::names;
use crate::store::vault_objects::{
    self, Key, NewObject, NewVersion, ObjectFilter, ObjectMetadata, ObjectSummary, ObjectVersion,
    ObjectWithoutValue, SealedVersion, VaultEvent,
};

/// Longest object name, in characters.
pub const NAME_MAX: usize = 256;
/// Largest value, in bytes of UTF-8 (512 KiB; the request body limit is 1 MiB by default).
pub const VALUE_MAX: usize = 512 * 1024;

/// Routes of the object API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/vault/v1/kv", get(list_objects).post(create_object))
        .route("/vault/v1/kv/name/{name}", get(read_object_by_name))
        .route(
            "/vault/v1/kv/{id}",
            get(read_object).put(update_object).delete(delete_object),
        )
        .route("/vault/v1/kv/{id}/metadata", get(describe_object))
        .route("/vault/v1/kv/{id}/versions", get(list_object_versions))
}

/// Body of `POST /vault/v1/kv`.
#[derive(Debug, Deserialize)]
pub struct CreateObject {
    /// Unique name in the environment.
    pub name: String,
    /// The plaintext value.
    pub value: String,
    /// The key context (a map of strings to strings).
    pub key_context: Value,
}

/// Body of `PUT /vault/v1/kv/{id}`.
#[derive(Debug, Deserialize)]
pub struct UpdateObject {
    /// The new plaintext value.
    pub value: String,
    /// When given (and not `null`), the update applies only if this is the current version.
    #[serde(default)]
    pub version_check: Option<String>,
}

/// An object with its decrypted value (`VaultObject`).
#[derive(Debug, Serialize)]
pub struct VaultObject {
    /// `secret_…`
    pub id: VaultObjectId,
    /// Metadata.
    pub metadata: ObjectMetadata,
    /// Name.
    pub name: String,
    /// The decrypted value.
    pub value: String,
}

/// `GET /vault/v1/kv/{id}/versions`: `{data, list_metadata}` with every version.
#[derive(Debug, Serialize)]
pub struct VersionList {
    /// Versions, newest first.
    pub data: Vec<ObjectVersion>,
    /// Always `{before: null, after: null}`: every version is on the one page.
    pub list_metadata: Value,
}

fn check_name(name: &str) -> ApiResult<()> {
    if name.trim().is_empty()
        || name.chars().count() > NAME_MAX
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::invalid_field(
            "name",
            "invalid",
            format!("name must be 1 to {NAME_MAX} characters, without control characters."),
        ));
    }
    Ok(())
}

fn check_value(value: &str) -> ApiResult<()> {
    if value.len() > VALUE_MAX {
        return Err(ApiError::invalid_field(
            "value",
            "too_long",
            format!("value must be at most {VALUE_MAX} bytes."),
        ));
    }
    Ok(())
}

/// The associated data a version's value is sealed with.
fn value_aad(env: &EnvironmentId, version: &VaultObjectVersionId) -> Vec<u8> {
    [env.as_bytes(), b"\0", version.as_bytes()].concat()
}

/// Seals `value` as a new version under a fresh data key wrapped for `context`.
fn seal(root: &RootKey, env: &EnvironmentId, context: &KeyContext, value: &str) -> NewVersion {
    let id = VaultObjectVersionId::new();
    let wrapped = root.new_data_key(env, context);
    let ciphertext = data_keys::seal_value(&wrapped.key, value.as_bytes(), &value_aad(env, &id));
    let etag = hex::encode(&Sha256::digest(&ciphertext)[..16]);
    NewVersion {
        id,
        root_key_id: root.id.clone(),
        encrypted_key: wrapped.blob,
        ciphertext,
        size: i32::try_from(value.len()).unwrap_or(i32::MAX),
        etag,
    }
}

/// Decrypts a stored version. A stored version that does not decrypt is a server fault (500).
async fn open(state: &AppState, env: &EnvironmentId, sealed: &SealedVersion) -> ApiResult<String> {
    let fault =
        |what: &str| ApiError::Internal(anyhow::anyhow!("Vault version {}: {what}", sealed.id));
    let blob = crate::crypto::data_keys::EncryptedKey::parse(&sealed.encrypted_key)
        .map_err(|_| fault("malformed data key"))?;
    let mut conn = state.db.acquire().await?;
    let key = keyring::unwrap(state, &mut conn, env, &blob)
        .await
        .map_err(|_| fault("data key does not unwrap"))?;
    let plain = data_keys::open_value(&key, &sealed.ciphertext, &value_aad(env, &sealed.id))
        .ok_or_else(|| fault("value does not decrypt"))?;
    String::from_utf8(plain).map_err(|_| fault("value is not UTF-8"))
}

/// Records a read event (`vault.data.read`, `vault.metadata.read`, `vault.names.listed`).
async fn record_read(
    state: &AppState,
    ctx: &AuthContext,
    event: crate::store::events::EventName,
    object: Option<&ObjectWithoutValue>,
    with_key: bool,
) -> ApiResult<()> {
    let env = &ctx.environment_id;
    let mut tx = state.db.begin().await?;
    let actor = vault_objects::actor(&mut tx, env, &ctx.environment_key_id).await?;
    let mut data = VaultEvent::by(&actor);
    data.kv_name = object.map(|o| o.name.clone());
    if with_key {
        data.key_id = object.map(|o| o.metadata.key_id.clone());
    }
    let context = object.map(|o| o.metadata.context.clone());
    vault_objects::record(&mut tx, env, event, &data, context.as_ref()).await?;
    tx.commit().await?;
    Ok(())
}

/// `POST /vault/v1/kv` → 201 `ObjectMetadata`; records `vault.data.created`.
///
/// Errors: 422 for a malformed `name`, `value` or `key_context`; 409 `object_name_conflict`.
async fn create_object(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateObject>,
) -> ApiResult<(StatusCode, Json<ObjectMetadata>)> {
    let env = &ctx.environment_id;
    check_name(&body.name)?;
    check_value(&body.value)?;
    let context = parse_context("key_context", &body.key_context)?;
    let root = RootKey::active(&state, env).await?;
    let version = seal(&root, env, &context, &body.value);
    let new = NewObject {
        id: VaultObjectId::new(),
        name: body.name,
        context: context.to_json(),
        key_id: root.kek_id(env, &context),
    };
    let mut tx = state.db.begin().await?;
    let actor = vault_objects::actor(&mut tx, env, &ctx.environment_key_id).await?;
    let object = vault_objects::insert(&mut tx, env, &new, &version, &actor).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(object.metadata)))
}

/// Reads and decrypts an object; records `vault.data.read`.
async fn read(state: &AppState, ctx: &AuthContext, key: Key<'_>) -> ApiResult<VaultObject> {
    let env = &ctx.environment_id;
    let found = {
        let mut conn = state.db.acquire().await?;
        vault_objects::find_sealed(&mut conn, env, key).await?
    };
    let Some((object, sealed)) = found else {
        return Err(match key {
            Key::Id(id) => ApiError::not_found_id::<VaultObjectId>(id.as_str()),
            Key::Name(name) => ApiError::not_found("Object", name),
        });
    };
    let value = open(state, env, &sealed).await?;
    record_read(state, ctx, names::VAULT_DATA_READ, Some(&object), true).await?;
    Ok(VaultObject {
        id: object.id,
        metadata: object.metadata,
        name: object.name,
        value,
    })
}

/// `GET /vault/v1/kv/{id}` → `VaultObject` (with `value`). Errors: 404.
async fn read_object(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<VaultObjectId>,
) -> ApiResult<Json<VaultObject>> {
    Ok(Json(read(&state, &ctx, Key::Id(&id)).await?))
}

/// `GET /vault/v1/kv/name/{name}` → `VaultObject`. Errors: 404.
async fn read_object_by_name(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(name): Path<String>,
) -> ApiResult<Json<VaultObject>> {
    if has_nul(&name) {
        return Err(ApiError::not_found("Object", ""));
    }
    Ok(Json(read(&state, &ctx, Key::Name(&name)).await?))
}

/// `GET /vault/v1/kv/{id}/metadata` → `ObjectWithoutValue`; records `vault.metadata.read`.
/// Errors: 404.
async fn describe_object(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<VaultObjectId>,
) -> ApiResult<Json<ObjectWithoutValue>> {
    let object = {
        let mut conn = state.db.acquire().await?;
        vault_objects::find(&mut conn, &ctx.environment_id, &id).await?
    }
    .ok_or_else(|| ApiError::not_found_id::<VaultObjectId>(id.as_str()))?;
    record_read(
        &state,
        &ctx,
        names::VAULT_METADATA_READ,
        Some(&object),
        false,
    )
    .await?;
    Ok(Json(object))
}

/// `PUT /vault/v1/kv/{id}` → `ObjectWithoutValue`: a new version under a fresh data key for
/// the object's key context; records `vault.data.updated`.
///
/// Errors: 404; 422 for a malformed `value`; 409 `version_check_failed` when `version_check`
/// is not the current version.
async fn update_object(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<VaultObjectId>,
    AppJson(body): AppJson<UpdateObject>,
) -> ApiResult<Json<ObjectWithoutValue>> {
    let env = &ctx.environment_id;
    check_value(&body.value)?;
    let not_found = || ApiError::not_found_id::<VaultObjectId>(id.as_str());
    let current = {
        let mut conn = state.db.acquire().await?;
        vault_objects::find(&mut conn, env, &id).await?
    }
    .ok_or_else(not_found)?;
    // The context is fixed at creation, so sealing before locking the row is safe.
    let context = parse_context("key_context", &current.metadata.context)?;
    let root = RootKey::active(&state, env).await?;
    let version = seal(&root, env, &context, &body.value);
    let mut tx = state.db.begin().await?;
    let actor = vault_objects::actor(&mut tx, env, &ctx.environment_key_id).await?;
    let updated = vault_objects::update(
        &mut tx,
        env,
        &id,
        body.version_check.as_deref(),
        &version,
        &actor,
    )
    .await?
    .ok_or_else(not_found)?;
    tx.commit().await?;
    Ok(Json(updated))
}

/// `DELETE /vault/v1/kv/{id}` (optional `?version_check=`) → 200 `{name, success: true}`;
/// deletes every version and records `vault.data.deleted`.
///
/// Errors: 404; 409 `version_check_failed`.
async fn delete_object(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<VaultObjectId>,
    q: QueryMap,
) -> ApiResult<Json<Value>> {
    let env = &ctx.environment_id;
    let mut tx = state.db.begin().await?;
    let actor = vault_objects::actor(&mut tx, env, &ctx.environment_key_id).await?;
    let deleted = vault_objects::delete(&mut tx, env, &id, q.get("version_check"), &actor)
        .await?
        .ok_or_else(|| ApiError::not_found_id::<VaultObjectId>(id.as_str()))?;
    tx.commit().await?;
    Ok(Json(json!({"name": deleted.name, "success": true})))
}

/// `GET /vault/v1/kv/{id}/versions` → `{data: [ObjectVersion], list_metadata}`. Errors: 404.
async fn list_object_versions(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<VaultObjectId>,
) -> ApiResult<Json<VersionList>> {
    let mut conn = state.db.acquire().await?;
    let data = vault_objects::versions(&mut conn, &ctx.environment_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found_id::<VaultObjectId>(id.as_str()))?;
    Ok(Json(VersionList {
        data,
        list_metadata: json!({"before": null, "after": null}),
    }))
}

/// An RFC 3339 instant, or what JavaScript's `Date.prototype.toString` writes (`Sat Dec 05 2026
/// 19:33:04 GMT+0000 (Coordinated Universal Time)`): the Node SDK puts its `updatedAfter` `Date`
/// into the query string as is.
fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let js = raw.split(" (").next().unwrap_or(raw);
    DateTime::parse_from_str(js, "%a %b %d %Y %H:%M:%S GMT%z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `GET /vault/v1/kv` → list of `ObjectSummary`, newest first by default; `search` keeps names
/// containing it (case-insensitive), `updated_after` (or `updatedAfter`, as the Python SDK
/// sends it) those changed after an RFC 3339 instant. Records `vault.names.listed`.
///
/// Errors: 422 for a malformed `limit`, `order` or `updated_after`.
async fn list_objects(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
) -> ApiResult<Json<List<ObjectSummary>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let updated_after = match q.get("updated_after").or_else(|| q.get("updatedAfter")) {
        None => None,
        Some(raw) => Some(parse_instant(raw).ok_or_else(|| {
            ApiError::invalid_field(
                "updated_after",
                "invalid",
                "updated_after must be an RFC 3339 timestamp.",
            )
        })?),
    };
    let filter = ObjectFilter {
        search: q.get("search").filter(|s| !s.is_empty()).map(String::from),
        updated_after,
    };
    let list = {
        let mut conn = state.db.acquire().await?;
        vault_objects::list(&mut conn, &ctx.environment_id, &filter, &params).await?
    };
    record_read(&state, &ctx, names::VAULT_NAMES_LISTED, None, false).await?;
    Ok(Json(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_as_rfc_3339_or_as_javascript_writes_them() {
        let t = parse_instant("2026-12-05T19:33:04Z").unwrap();
        assert_eq!(
            parse_instant("Sat Dec 05 2026 19:33:04 GMT+0000 (Coordinated Universal Time)"),
            Some(t)
        );
        assert_eq!(
            parse_instant("Sat Dec 05 2026 20:33:04 GMT+0100 (Central European Standard Time)"),
            Some(t)
        );
        assert_eq!(parse_instant("yesterday"), None);
    }
}
