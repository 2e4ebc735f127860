//! Client secrets of Connect applications (spec tag `application.client-secrets`; schema
//! `NewConnectApplicationSecret`), table `connect_client_secrets` (migration 1410). A secret is
//! 48 random alphanumerics, returned once by [`insert`] and stored as its SHA-256 digest
//! ([`crate::crypto::sha256_hex`]) with a `secret_hint` (its last four characters).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};

use crate::crypto;
use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::{ConnectApplicationId, ConnectClientSecretId, EnvironmentId};

/// Length of a secret.
const SECRET_LEN: usize = 48;
/// Characters of the secret shown as its hint.
const HINT_LEN: usize = 4;

/// A secret as listed (never with its value).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ClientSecret {
    /// Always `"connect_application_secret"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// `secret_…`
    pub id: ConnectClientSecretId,
    /// The last characters of the secret.
    pub secret_hint: String,
    /// Last successful client authentication with it, `null` before the first.
    #[serde(with = "crate::timestamp::option")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// A secret as created, with its value shown this once.
#[derive(Debug, Serialize)]
pub struct NewClientSecret {
    /// The secret.
    #[serde(flatten)]
    pub client_secret: ClientSecret,
    /// The plaintext value (`secret`); its `Debug` hides it.
    #[serde(rename = "secret")]
    pub value: SecretValue,
}

/// The plaintext of a new secret, serialized as `secret`.
#[derive(Serialize)]
pub struct SecretValue(pub String);

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(…)")
    }
}

fn tag(mut s: ClientSecret) -> ClientSecret {
    s.object = "connect_application_secret";
    s
}

const COLUMNS: &str = "id, secret_hint, last_used_at, created_at, updated_at";

/// Creates a secret for the application.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    application_id: &ConnectApplicationId,
) -> ApiResult<NewClientSecret> {
    let value = crypto::random_alphanumeric(SECRET_LEN);
    let hint = value[value.len() - HINT_LEN..].to_string();
    let row: ClientSecret = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into connect_client_secrets (environment_id, id, application_id, secret_hash, secret_hint)
         values ($1, $2, $3, $4, $5) returning {COLUMNS}"
    )))
    .bind(env)
    .bind(ConnectClientSecretId::new())
    .bind(application_id)
    .bind(crypto::sha256_hex(&value))
    .bind(hint)
    .fetch_one(&mut **tx)
    .await?;
    Ok(NewClientSecret {
        client_secret: tag(row),
        value: SecretValue(value),
    })
}

/// How many secrets the application has.
pub async fn count(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    application_id: &ConnectApplicationId,
) -> ApiResult<i64> {
    Ok(sqlx::query_scalar(
        "select count(*) from connect_client_secrets where environment_id = $1 and application_id = $2",
    )
    .bind(env)
    .bind(application_id)
    .fetch_one(conn)
    .await?)
}

/// The application's secrets, oldest first.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    application_id: &ConnectApplicationId,
) -> ApiResult<Vec<ClientSecret>> {
    let rows: Vec<ClientSecret> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from connect_client_secrets
         where environment_id = $1 and application_id = $2 order by id"
    )))
    .bind(env)
    .bind(application_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(tag).collect())
}

/// Deletes a secret; `false` when there is none.
pub async fn delete(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &ConnectClientSecretId,
) -> ApiResult<bool> {
    let done =
        sqlx::query("delete from connect_client_secrets where environment_id = $1 and id = $2")
            .bind(env)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    Ok(done.rows_affected() > 0)
}

/// Whether `presented` is one of the application's secrets: its SHA-256 digest compared in
/// constant time with each stored digest. Records the matching secret's `last_used_at` (at most
/// once a minute).
pub async fn authenticate(
    pool: &PgPool,
    env: &EnvironmentId,
    application_id: &ConnectApplicationId,
    presented: &str,
) -> ApiResult<bool> {
    let stored: Vec<(ConnectClientSecretId, String)> = sqlx::query_as(
        "select id, secret_hash from connect_client_secrets
         where environment_id = $1 and application_id = $2",
    )
    .bind(env)
    .bind(application_id)
    .fetch_all(pool)
    .await?;
    let digest = crypto::sha256_hex(presented);
    let mut matched = None;
    for (id, hash) in &stored {
        if crypto::ct_eq(hash.as_bytes(), digest.as_bytes()) {
            matched = Some(id);
        }
    }
    let Some(id) = matched else {
        return Ok(false);
    };
    sqlx::query(
        "update connect_client_secrets set last_used_at = now()
         where environment_id = $1 and id = $2
           and (last_used_at is null or last_used_at < now() - interval '1 minute')",
    )
    .bind(env)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(true)
}
