//! Environment keys: the server's own API keys of an environment (`sk_test_…`/`sk_live_…`, the
//! `api_keys` table, the `keystead api-keys` CLI), stored as SHA-256 digests, resolved on every
//! request, revocable. Keystead extension (WorkOS manages these keys in its dashboard). Named
//! apart from the WorkOS "API Keys" product (organization and user API keys).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};

use crate::crypto;
use crate::db::Tx;
use crate::ids::{EnvironmentId, EnvironmentKeyId};

/// Postgres channel carrying the SHA-256 digests of revoked keys; every server listens on it
/// and drops the key from its cache.
pub const REVOCATION_CHANNEL: &str = "keystead_api_key_revoked";

/// Whom a presented key belongs to.
#[derive(Debug, Clone)]
pub struct EnvironmentKeyOwner {
    /// The environment (`environment_…`).
    pub environment_id: EnvironmentId,
    /// The key (`key_…`).
    pub environment_key_id: EnvironmentKeyId,
    /// The environment's client id (`client_…`).
    pub client_id: String,
}

/// An API key as listed (never with its value).
#[derive(Debug, Serialize, FromRow)]
pub struct EnvironmentKey {
    /// `key_…`
    pub id: EnvironmentKeyId,
    /// Display name.
    pub name: String,
    /// `sk_...3456`
    pub obfuscated_value: String,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Revocation time, if revoked.
    #[serde(with = "crate::timestamp::option")]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Stores a key's digest; returns its id.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    name: &str,
    value: &str,
) -> sqlx::Result<EnvironmentKeyId> {
    let id = EnvironmentKeyId::new();
    sqlx::query(
        "insert into api_keys (id, environment_id, name, key_hash, obfuscated_value) values ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(env)
    .bind(name)
    .bind(crypto::sha256_hex(value))
    .bind(crypto::obfuscate(value))
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Resolves a presented key to its environment; `None` when unknown or revoked.
///
/// The lookup is by digest, so timing reveals nothing about the key's value.
pub async fn authenticate(pool: &PgPool, value: &str) -> sqlx::Result<Option<EnvironmentKeyOwner>> {
    if !value.starts_with("sk_") {
        return Ok(None);
    }
    let row: Option<(EnvironmentKeyId, EnvironmentId, String)> = sqlx::query_as(
        "select k.id, k.environment_id, e.client_id from api_keys k
         join environments e on e.id = k.environment_id
         where k.key_hash = $1 and k.revoked_at is null",
    )
    .bind(crypto::sha256_hex(value))
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(environment_key_id, environment_id, client_id)| EnvironmentKeyOwner {
            environment_id,
            environment_key_id,
            client_id,
        },
    ))
}

/// The environment's keys, oldest first.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
) -> sqlx::Result<Vec<EnvironmentKey>> {
    sqlx::query_as(
        "select id, name, obfuscated_value, created_at, revoked_at from api_keys where environment_id = $1 order by id",
    )
    .bind(env)
    .fetch_all(conn)
    .await
}

/// Revokes a key by id and notifies every server to drop it from its cache
/// ([`REVOCATION_CHANNEL`]); `false` when there is no such key.
pub async fn revoke(conn: &mut PgConnection, id: &EnvironmentKeyId) -> sqlx::Result<bool> {
    let digest: Option<String> = sqlx::query_scalar(
        "update api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1 returning key_hash",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(digest) = digest else {
        return Ok(false);
    };
    sqlx::query("select pg_notify($1, $2)")
        .bind(REVOCATION_CHANNEL)
        .bind(&digest)
        .execute(conn)
        .await?;
    Ok(true)
}
