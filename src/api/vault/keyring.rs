//! An environment's Vault root keys, unsealed for one request: the active one (created on the
//! environment's first use of Vault) wraps new data keys; any of them, active or retired,
//! unwraps the blobs that name it. Root keys are stored sealed with the server's master key
//! (`crypto::vault`, `store::vault_keys`) and never leave this process in clear.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use sqlx::PgConnection;

use crate::crypto::data_keys::{self, BlobError, DATA_KEY_LEN, EncryptedKey, KeyContext};
use crate::error::{ApiError, ApiResult};
use crate::ids::{EnvironmentId, VaultRootKeyId};
use crate::state::AppState;
use crate::store::vault_keys::{self, SealedRootKey};

/// An unsealed root key.
pub struct RootKey {
    /// `vault_root_key_…`
    pub id: VaultRootKeyId,
    key: [u8; 32],
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RootKey({})", self.id)
    }
}

/// A data key in clear with its id, and its encrypted key blob.
pub struct WrappedKey {
    /// The data key.
    pub key: [u8; DATA_KEY_LEN],
    /// Its id, as a UUID string.
    pub id: String,
    /// The encrypted key blob.
    pub blob: Vec<u8>,
}

fn unseal(state: &AppState, sealed: SealedRootKey) -> ApiResult<RootKey> {
    let key: [u8; 32] = state
        .vault
        .open(&sealed.sealed_key)?
        .try_into()
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("a Vault root key is not 32 bytes")))?;
    Ok(RootKey { id: sealed.id, key })
}

impl RootKey {
    /// The environment's active root key, created (on its own connection, committed at once)
    /// when the environment has none yet.
    pub async fn active(state: &AppState, env: &EnvironmentId) -> ApiResult<Self> {
        let mut conn = state.db.acquire().await?;
        if let Some(sealed) = vault_keys::active(&mut conn, env).await? {
            return unseal(state, sealed);
        }
        let mut key = [0u8; 32];
        rand::rng().fill(&mut key);
        let sealed = state.vault.seal(&key)?;
        vault_keys::insert_first(&mut conn, env, &VaultRootKeyId::new(), &sealed).await?;
        let stored = vault_keys::active(&mut conn, env)
            .await?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no active Vault root key")))?;
        unseal(state, stored)
    }

    /// The public id of `context`'s key-encryption key under this root key.
    pub fn kek_id(&self, env: &EnvironmentId, context: &KeyContext) -> String {
        data_keys::kek_id(self.id.as_str(), env.as_str(), context)
    }

    /// A fresh data key wrapped for `context`.
    pub fn new_data_key(&self, env: &EnvironmentId, context: &KeyContext) -> WrappedKey {
        let (key, id) = data_keys::new_data_key();
        self.wrap(env, context, key, id)
    }

    /// Wraps `key` (id `id`) for `context`.
    pub fn wrap(
        &self,
        env: &EnvironmentId,
        context: &KeyContext,
        key: [u8; DATA_KEY_LEN],
        id: [u8; 16],
    ) -> WrappedKey {
        let blob = data_keys::wrap(
            &self.key,
            self.id.as_str(),
            env.as_str(),
            context,
            &key,
            &id,
        );
        WrappedKey {
            key,
            id: data_keys::uuid_string(&id),
            blob,
        }
    }
}

/// The 400 of an encrypted key blob that is not one of this environment's.
fn undecryptable() -> ApiError {
    ApiError::BadRequest {
        code: None,
        message: "The encrypted keys could not be decrypted.".into(),
        errors: Vec::new(),
    }
}

/// Decodes base64 `keys` (sent in `field`) into a parsed blob. Errors: 422 naming the field
/// when it is not base64 or not an encrypted key blob.
pub fn parse_blob(field: &str, keys: &str) -> ApiResult<EncryptedKey> {
    let malformed = || {
        ApiError::invalid_field(
            field,
            "invalid",
            format!("{field} must be an encrypted data key as returned by this API (base64)."),
        )
    };
    let bytes = STANDARD.decode(keys.trim()).map_err(|_| malformed())?;
    EncryptedKey::parse(&bytes).map_err(|_| malformed())
}

/// Unwraps a parsed blob with the environment's root key it names.
///
/// Errors: 400 when the environment has no such root key or the blob does not authenticate
/// (tampered, wrapped in another environment).
pub async fn unwrap(
    state: &AppState,
    conn: &mut PgConnection,
    env: &EnvironmentId,
    blob: &EncryptedKey,
) -> ApiResult<[u8; DATA_KEY_LEN]> {
    let Some(id) = VaultRootKeyId::parse_lenient(&blob.root_key_id) else {
        return Err(undecryptable());
    };
    let Some(sealed) = vault_keys::find(conn, env, &id).await? else {
        return Err(undecryptable());
    };
    let root = unseal(state, sealed)?;
    blob.unwrap_key(&root.key, env.as_str())
        .map_err(|e: BlobError| match e {
            BlobError::Malformed | BlobError::Unauthentic => undecryptable(),
        })
}

/// Parses a key context sent in `field`. Errors: 422 `invalid_request_parameters` naming the
/// field when it is not an object of strings or breaks a limit of `crypto::data_keys`.
pub fn parse_context(field: &str, value: &serde_json::Value) -> ApiResult<KeyContext> {
    KeyContext::from_json(value)
        .map_err(|e| ApiError::invalid_field(field, "invalid", format!("{field} {e}.")))
}

/// Base64 of a blob, as the API returns `encrypted_keys`.
pub fn encode(blob: &[u8]) -> String {
    STANDARD.encode(blob)
}
