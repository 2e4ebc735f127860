//! Vault root keys (`vault_root_keys`, migration 1600): each environment's 32-byte root keys,
//! sealed with the server's master key, from which `crypto::data_keys` derives one
//! key-encryption key per key context. One key is active at a time; retired keys stay to unwrap
//! what was wrapped under them. Requests unseal them in `api::vault::keyring`; a rotation's
//! re-wrapping ([`rewrap_batch`], driven by `workers::vault_rewrap`) unseals them here.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};

use crate::crypto::data_keys::{self, EncryptedKey};
use crate::crypto::vault::Vault;
use crate::db::Tx;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::{EnvironmentId, VaultObjectVersionId, VaultRootKeyId};

/// A stored root key (still sealed). Never serialized.
#[derive(Debug, Clone, FromRow)]
pub struct SealedRootKey {
    /// `vault_root_key_…`
    pub id: VaultRootKeyId,
    /// The key sealed with the master key.
    pub sealed_key: Vec<u8>,
    /// `active` or `retired`.
    pub state: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// The environment's active root key, if it has one.
pub async fn active(
    conn: &mut PgConnection,
    env: &EnvironmentId,
) -> ApiResult<Option<SealedRootKey>> {
    Ok(sqlx::query_as(
        "select id, sealed_key, state, created_at from vault_root_keys
         where environment_id = $1 and state = 'active'",
    )
    .bind(env)
    .fetch_optional(conn)
    .await?)
}

/// One root key of the environment (active or retired).
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &VaultRootKeyId,
) -> ApiResult<Option<SealedRootKey>> {
    Ok(sqlx::query_as(
        "select id, sealed_key, state, created_at from vault_root_keys
         where environment_id = $1 and id = $2",
    )
    .bind(env)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Stores `sealed` as the environment's active root key unless it already has one (a
/// concurrent first use); returns whether it was stored.
pub async fn insert_first(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &VaultRootKeyId,
    sealed: &[u8],
) -> ApiResult<bool> {
    let done = sqlx::query(
        "insert into vault_root_keys (environment_id, id, sealed_key) values ($1, $2, $3)
         on conflict (environment_id) where state = 'active' do nothing",
    )
    .bind(env)
    .bind(id)
    .bind(sealed)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Retires the active root key and makes `sealed` (id `id`) the active one. Returns the retired
/// key's id, if there was one.
///
/// Errors: 409 when a concurrent rotation made another key active first.
pub async fn rotate(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &VaultRootKeyId,
    sealed: &[u8],
) -> ApiResult<Option<VaultRootKeyId>> {
    let retired: Option<VaultRootKeyId> = sqlx::query_scalar(
        "update vault_root_keys set state = 'retired', retired_at = now()
         where environment_id = $1 and state = 'active' returning id",
    )
    .bind(env)
    .fetch_optional(&mut **tx)
    .await?;
    sqlx::query("insert into vault_root_keys (environment_id, id, sealed_key) values ($1, $2, $3)")
        .bind(env)
        .bind(id)
        .bind(sealed)
        .execute(&mut **tx)
        .await
        .on_constraint("vault_root_keys_active", || ApiError::Conflict {
            code: None,
            message: "Another rotation of this environment's root key is in progress; retry."
                .into(),
        })?;
    Ok(retired)
}

/// How many object versions of the environment still have their data key wrapped under a
/// retired root key.
pub async fn pending_rewraps(conn: &mut PgConnection, env: &EnvironmentId) -> ApiResult<i64> {
    Ok(sqlx::query_scalar(
        "select count(*) from vault_object_versions v
         join vault_root_keys k on k.environment_id = v.environment_id and k.id = v.root_key_id
         where v.environment_id = $1 and k.state = 'retired'",
    )
    .bind(env)
    .fetch_one(conn)
    .await?)
}

/// Unseals a stored root key with the master key.
fn unseal(vault: &Vault, sealed: &SealedRootKey) -> ApiResult<[u8; 32]> {
    vault
        .open(&sealed.sealed_key)?
        .try_into()
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("a Vault root key is not 32 bytes")))
}

#[derive(FromRow)]
struct Stale {
    environment_id: EnvironmentId,
    id: VaultObjectVersionId,
    root_key_id: VaultRootKeyId,
    encrypted_key: Vec<u8>,
}

/// One bounded batch of a root-key rotation: re-wraps the data keys of up to `limit` object
/// versions (of any environment) still wrapped under a retired root key, under their
/// environment's active root key (same data key, same id, same context), and returns how many
/// it re-wrapped. Rows are claimed with `for update skip locked`, so replicas share the work;
/// values are not touched, and every version stays readable before, during and after.
pub async fn rewrap_batch(tx: &mut Tx, vault: &Vault, limit: i64) -> ApiResult<usize> {
    let rows: Vec<Stale> = sqlx::query_as(
        "select v.environment_id, v.id, v.root_key_id, v.encrypted_key
         from vault_object_versions v
         join vault_root_keys k on k.environment_id = v.environment_id and k.id = v.root_key_id
         where k.state = 'retired'
         order by v.environment_id, v.id
         limit $1
         for update of v skip locked",
    )
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    let mut roots: HashMap<(EnvironmentId, VaultRootKeyId), [u8; 32]> = HashMap::new();
    let mut active: HashMap<EnvironmentId, (VaultRootKeyId, [u8; 32])> = HashMap::new();
    for row in &rows {
        let env = &row.environment_id;
        if !active.contains_key(env) {
            let sealed = self::active(tx, env).await?.ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("environment {env} has no active root key"))
            })?;
            active.insert(env.clone(), (sealed.id.clone(), unseal(vault, &sealed)?));
        }
        let old_key = (env.clone(), row.root_key_id.clone());
        if !roots.contains_key(&old_key) {
            let sealed = find(tx, env, &row.root_key_id)
                .await?
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("unknown root key")))?;
            roots.insert(old_key.clone(), unseal(vault, &sealed)?);
        }
        let fault =
            |what: &str| ApiError::Internal(anyhow::anyhow!("Vault version {}: {what}", row.id));
        let blob =
            EncryptedKey::parse(&row.encrypted_key).map_err(|_| fault("malformed data key"))?;
        let old = roots.get(&old_key).ok_or_else(|| fault("root key"))?;
        let key = blob
            .unwrap_key(old, env.as_str())
            .map_err(|_| fault("data key does not unwrap"))?;
        let (new_id, new_root) = active.get(env).ok_or_else(|| fault("active root key"))?;
        let rewrapped = data_keys::wrap(
            new_root,
            new_id.as_str(),
            env.as_str(),
            &blob.context,
            &key,
            &blob.data_key_id,
        );
        sqlx::query(
            "update vault_object_versions set encrypted_key = $3, root_key_id = $4
             where environment_id = $1 and id = $2",
        )
        .bind(env)
        .bind(&row.id)
        .bind(&rewrapped)
        .bind(new_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(rows.len())
}
