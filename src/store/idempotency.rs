//! Idempotency-Key records (`idempotency_keys`): claim, complete, release, replay, purge — on
//! their own ([`claim`], [`complete`]), or recorded with the answer inside the handler's
//! transaction ([`record_in`]).
//! Used by the HTTP idempotency layer (`Idempotency-Key`). Keys are scoped per environment and live 24 h.

use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::EnvironmentId;

/// A stored response to replay.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// Selected headers (`content-type`, `location`) as a JSON object of strings.
    pub headers: Value,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// A stored record: request hash, state, status, headers, body.
type Record = (String, String, Option<i16>, Option<Value>, Option<Vec<u8>>);

/// What claiming a key found.
#[derive(Debug)]
pub enum Claim {
    /// The key is ours: run the request, then [`complete`] or [`release`].
    Started,
    /// The same request already completed: replay this.
    Replay(StoredResponse),
    /// The key was used for a different request.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

/// Claims `(env, key)` for a request with digest `request_hash`. A record older than 24 h, or
/// an in-progress one abandoned for `abandon_after_secs` (a crashed replica), is taken over.
pub async fn claim(
    pool: &PgPool,
    env: &EnvironmentId,
    key: &str,
    request_hash: &str,
    abandon_after_secs: i64,
) -> ApiResult<Claim> {
    let started: Option<bool> = sqlx::query_scalar(
        "insert into idempotency_keys (environment_id, key, request_hash, state) values ($1, $2, $3, 'in_progress')
         on conflict (environment_id, key) do update
           set request_hash = excluded.request_hash, state = 'in_progress', status = null, headers = null,
               body = null, created_at = now(), locked_at = now()
           where idempotency_keys.created_at < now() - interval '24 hours'
              or (idempotency_keys.state = 'in_progress'
                  and idempotency_keys.request_hash = excluded.request_hash
                  and idempotency_keys.locked_at < now() - make_interval(secs => $4))
         returning true",
    )
    .bind(env)
    .bind(key)
    .bind(request_hash)
    .bind(abandon_after_secs as f64)
    .fetch_optional(pool)
    .await?;
    if started.is_some() {
        return Ok(Claim::Started);
    }
    let mut conn = pool.acquire().await?;
    existing(&mut conn, env, key, request_hash).await
}

/// Records the answer of a request that ran without claiming its key first (the in-handler
/// routes of `http::idempotency`): inside the request's own transaction `tx`, so the change
/// and its answer commit together. Returns `false` when `(env, key)` already has a record
/// younger than 24 h (a concurrent request with the key waits here until the first one's
/// transaction ends); the caller then rolls back and answers with [`lookup`].
pub async fn record_in(
    tx: &mut Tx,
    env: &EnvironmentId,
    key: &str,
    request_hash: &str,
    response: &StoredResponse,
) -> ApiResult<bool> {
    record_on(tx, env, key, request_hash, response).await
}

/// [`record_in`] on its own (a client error that ended the request outside its transaction).
pub async fn record(
    pool: &PgPool,
    env: &EnvironmentId,
    key: &str,
    request_hash: &str,
    response: &StoredResponse,
) -> ApiResult<bool> {
    let mut conn = pool.acquire().await?;
    record_on(&mut conn, env, key, request_hash, response).await
}

async fn record_on(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    key: &str,
    request_hash: &str,
    response: &StoredResponse,
) -> ApiResult<bool> {
    let recorded: Option<bool> = sqlx::query_scalar(
        "insert into idempotency_keys (environment_id, key, request_hash, state, status, headers, body)
         values ($1, $2, $3, 'completed', $4, $5, $6)
         on conflict (environment_id, key) do update
           set request_hash = excluded.request_hash, state = 'completed', status = excluded.status,
               headers = excluded.headers, body = excluded.body, created_at = now(), locked_at = now()
           where idempotency_keys.created_at < now() - interval '24 hours'
         returning true",
    )
    .bind(env)
    .bind(key)
    .bind(request_hash)
    .bind(i16::try_from(response.status).unwrap_or(500))
    .bind(&response.headers)
    .bind(&response.body)
    .fetch_optional(conn)
    .await?;
    Ok(recorded.is_some())
}

/// What the record of `(env, key)` means for a request with digest `request_hash` that found
/// it taken: a replay, a mismatch, or still in progress.
pub async fn lookup(
    pool: &PgPool,
    env: &EnvironmentId,
    key: &str,
    request_hash: &str,
) -> ApiResult<Claim> {
    let mut conn = pool.acquire().await?;
    existing(&mut conn, env, key, request_hash).await
}

/// What an existing record means for a request with digest `request_hash`.
async fn existing(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    key: &str,
    request_hash: &str,
) -> ApiResult<Claim> {
    let row: Option<Record> = sqlx::query_as(
        "select request_hash, state, status, headers, body from idempotency_keys where environment_id = $1 and key = $2",
    )
    .bind(env)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        // Released between our insert and select: treat as in progress; the client retries.
        None => Claim::InProgress,
        Some((hash, _, _, _, _)) if hash != request_hash => Claim::Mismatch,
        Some((_, state, Some(status), headers, body)) if state == "completed" => {
            Claim::Replay(StoredResponse {
                status: u16::try_from(status).unwrap_or(500),
                headers: headers.unwrap_or(Value::Null),
                body: body.unwrap_or_default(),
            })
        }
        Some(_) => Claim::InProgress,
    })
}

/// Stores the response of a claimed key.
pub async fn complete(
    pool: &PgPool,
    env: &EnvironmentId,
    key: &str,
    response: &StoredResponse,
) -> ApiResult<()> {
    sqlx::query(
        "update idempotency_keys set state = 'completed', status = $3, headers = $4, body = $5
         where environment_id = $1 and key = $2",
    )
    .bind(env)
    .bind(key)
    .bind(i16::try_from(response.status).unwrap_or(500))
    .bind(&response.headers)
    .bind(&response.body)
    .execute(pool)
    .await?;
    Ok(())
}

/// Frees a claimed key (the request failed with a 5xx and may be retried as new).
pub async fn release(pool: &PgPool, env: &EnvironmentId, key: &str) -> ApiResult<()> {
    sqlx::query("delete from idempotency_keys where environment_id = $1 and key = $2")
        .bind(env)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes records older than 24 h; returns how many.
pub async fn purge_expired(pool: &PgPool) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("delete from idempotency_keys where created_at < now() - interval '24 hours'")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// Purges expired records every 10 minutes until `shutdown` turns true.
pub fn spawn_purger(
    pool: PgPool,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match purge_expired(&pool).await {
                Ok(n) if n > 0 => tracing::debug!(purged = n, "expired idempotency keys purged"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_secs(600)) => {}
                _ = shutdown.changed() => return,
            }
        }
    })
}
