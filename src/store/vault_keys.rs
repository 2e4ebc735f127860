//! Vault root keys (`vault_root_keys`, migration 1600): each environment's 32-byte root keys,
//! sealed with the server's master key, from which `crypto::data_keys` derives one
//! key-encryption key per key context. One key is active at a time; retired keys stay to unwrap
//! what was wrapped under them. The sealing and unsealing is the caller's (`api::vault`); this
//! file only stores bytes.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};

use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::{EnvironmentId, VaultRootKeyId};

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
        .await?;
    Ok(retired)
}
