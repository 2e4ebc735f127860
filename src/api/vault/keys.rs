//! Vault data keys, as the official SDKs call them: `POST /vault/v1/keys/data-key` (Node
//! `createDataKey`, Python `create_data_key`), `POST /vault/v1/keys/decrypt` (`decryptDataKey`,
//! `create_decrypt`) and `POST /vault/v1/keys/rekey` (`createRekey`, `create_rekey`). The SDKs'
//! local `encrypt`/`decrypt` helpers are built on the first two.
//!
//! Keystead extension: `POST /vault/v1/keys/rotate` rotates the environment's root key; the
//! stored objects' data keys are re-wrapped in the background (`workers::vault_rewrap`).
//!
//! Events (WORKOS-API-NOTES §3.2): `vault.dek.read` when a data key is issued for a context,
//! `vault.dek.decrypted` when one is decrypted (rekey records both).

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::keyring::{self, RootKey, parse_context};
use crate::error::ApiResult;
use crate::http::{AppJson, Env};
use crate::ids::EnvironmentId;
use crate::state::AppState;
use crate::store::events::names;
use crate::store::vault_objects::{self, VaultEvent};

/// Routes of the key API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/vault/v1/keys/data-key", post(create_data_key))
        .route("/vault/v1/keys/decrypt", post(decrypt_data_key))
        .route("/vault/v1/keys/rekey", post(rekey_data_key))
        .route("/vault/v1/keys/rotate", post(rotate_root_key))
}

/// Body of `POST /vault/v1/keys/data-key`.
#[derive(Debug, Deserialize)]
pub struct CreateDataKey {
    /// The key context: any map of strings to strings.
    pub context: Value,
}

/// Body of `POST /vault/v1/keys/decrypt`.
#[derive(Debug, Deserialize)]
pub struct DecryptDataKey {
    /// An encrypted key blob (base64), as `encrypted_keys` was returned.
    pub keys: String,
}

/// Body of `POST /vault/v1/keys/rekey`.
#[derive(Debug, Deserialize)]
pub struct RekeyDataKey {
    /// The new key context.
    pub context: Value,
    /// The encrypted key blob (base64) to re-encrypt.
    pub encrypted_keys: String,
}

/// A data key with its encrypted key blob (`CreateDataKeyResponse`).
#[derive(Debug, Serialize)]
pub struct DataKeyPair {
    /// The key context it is wrapped for.
    pub context: Value,
    /// The data key (base64 of 32 bytes).
    pub data_key: String,
    /// The encrypted key blob (base64).
    pub encrypted_keys: String,
    /// The data key's id (a UUID).
    pub id: String,
}

/// A decrypted data key (`DecryptResponse`).
#[derive(Debug, Serialize)]
pub struct DecryptedDataKey {
    /// The data key (base64 of 32 bytes).
    pub data_key: String,
    /// The data key's id.
    pub id: String,
}

/// Records the given events by the request's API key, in one transaction.
async fn record(
    state: &AppState,
    env: &EnvironmentId,
    key: &crate::ids::EnvironmentKeyId,
    events: Vec<(crate::store::events::EventName, VaultEvent, Option<Value>)>,
) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    let actor = vault_objects::actor(&mut tx, env, key).await?;
    for (name, mut data, context) in events {
        data.actor_id.clone_from(&actor.id);
        data.actor_name.clone_from(&actor.name);
        vault_objects::record(&mut tx, env, name, &data, context.as_ref()).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn blank_event() -> VaultEvent {
    VaultEvent::by(&vault_objects::Actor {
        id: String::new(),
        name: String::new(),
    })
}

/// `POST /vault/v1/keys/data-key` → 200 `{context, data_key, encrypted_keys, id}`: a fresh
/// AES-256 data key and its blob, wrapped for `context`; records `vault.dek.read`.
///
/// Errors: 422 when `context` is not a map of strings to strings.
async fn create_data_key(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateDataKey>,
) -> ApiResult<Json<DataKeyPair>> {
    let env = &ctx.environment_id;
    let context = parse_context("context", &body.context)?;
    let root = RootKey::active(&state, env).await?;
    let wrapped = root.new_data_key(env, &context);
    let mut data = blank_event();
    data.key_ids = Some(vec![wrapped.id.clone()]);
    data.key_context = Some(context.to_json());
    record(
        &state,
        env,
        &ctx.environment_key_id,
        vec![(names::VAULT_DEK_READ, data, Some(context.to_json()))],
    )
    .await?;
    Ok(Json(DataKeyPair {
        context: context.to_json(),
        data_key: STANDARD.encode(wrapped.key),
        encrypted_keys: keyring::encode(&wrapped.blob),
        id: wrapped.id,
    }))
}

/// `POST /vault/v1/keys/decrypt` → 200 `{data_key, id}`; records `vault.dek.decrypted`.
///
/// Errors: 422 when `keys` is not an encrypted key blob; 400 when it does not decrypt in this
/// environment (tampered, or made in another environment).
async fn decrypt_data_key(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<DecryptDataKey>,
) -> ApiResult<Json<DecryptedDataKey>> {
    let env = &ctx.environment_id;
    let blob = keyring::parse_blob("keys", &body.keys)?;
    let mut conn = state.db.acquire().await?;
    let key = keyring::unwrap(&state, &mut conn, env, &blob).await?;
    drop(conn);
    let mut data = blank_event();
    data.key_id = Some(blob.id());
    record(
        &state,
        env,
        &ctx.environment_key_id,
        vec![(
            names::VAULT_DEK_DECRYPTED,
            data,
            Some(blob.context.to_json()),
        )],
    )
    .await?;
    Ok(Json(DecryptedDataKey {
        data_key: STANDARD.encode(key),
        id: blob.id(),
    }))
}

/// `POST /vault/v1/keys/rekey` → 200 `{context, data_key, encrypted_keys, id}`: the same data
/// key (same id) wrapped for the new `context` under the active root key; records
/// `vault.dek.decrypted` and `vault.dek.read`.
///
/// Errors: 422 for a malformed `context` or `encrypted_keys`; 400 when `encrypted_keys` does
/// not decrypt in this environment.
async fn rekey_data_key(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<RekeyDataKey>,
) -> ApiResult<Json<DataKeyPair>> {
    let env = &ctx.environment_id;
    let context = parse_context("context", &body.context)?;
    let blob = keyring::parse_blob("encrypted_keys", &body.encrypted_keys)?;
    let mut conn = state.db.acquire().await?;
    let key = keyring::unwrap(&state, &mut conn, env, &blob).await?;
    drop(conn);
    let root = RootKey::active(&state, env).await?;
    let wrapped = root.wrap(env, &context, key, blob.data_key_id);
    let mut decrypted = blank_event();
    decrypted.key_id = Some(blob.id());
    let mut issued = blank_event();
    issued.key_ids = Some(vec![wrapped.id.clone()]);
    issued.key_context = Some(context.to_json());
    record(
        &state,
        env,
        &ctx.environment_key_id,
        vec![
            (
                names::VAULT_DEK_DECRYPTED,
                decrypted,
                Some(blob.context.to_json()),
            ),
            (names::VAULT_DEK_READ, issued, Some(context.to_json())),
        ],
    )
    .await?;
    Ok(Json(DataKeyPair {
        context: context.to_json(),
        data_key: STANDARD.encode(wrapped.key),
        encrypted_keys: keyring::encode(&wrapped.blob),
        id: wrapped.id,
    }))
}

/// Answer of `POST /vault/v1/keys/rotate`.
#[derive(Debug, Serialize)]
pub struct Rotation {
    /// Always `true`.
    pub rotated: bool,
    /// Object versions whose data key is still to re-wrap under the new root key.
    pub pending_rewraps: i64,
}

/// `POST /vault/v1/keys/rotate` (Keystead extension) → 200 `{rotated, pending_rewraps}`: a new
/// random root key becomes active (new data keys are wrapped under it); the old one is retired
/// but kept, so every data key made under it, stored or held by a client, still decrypts; the
/// worker re-wraps stored objects' data keys in bounded batches.
async fn rotate_root_key(
    State(state): State<AppState>,
    Env(ctx): Env,
) -> ApiResult<Json<Rotation>> {
    let env = &ctx.environment_id;
    let mut key = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut key);
    let sealed = state.vault.seal(&key)?;
    let mut tx = state.db.begin().await?;
    crate::store::vault_keys::rotate(&mut tx, env, &crate::ids::VaultRootKeyId::new(), &sealed)
        .await?;
    let pending_rewraps = crate::store::vault_keys::pending_rewraps(&mut tx, env).await?;
    tx.commit().await?;
    Ok(Json(Rotation {
        rotated: true,
        pending_rewraps,
    }))
}
