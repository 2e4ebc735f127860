//! Idempotency-Key records (`idempotency_keys`): claim, complete, release, replay, purge — on
//! their own ([`claim`], [`complete`]) or inside the handler's transaction ([`claim_in`],
//! [`complete_in`]).
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

/// Claims `(env, key)` inside the handler's own transaction `tx` (the request runs, stores its
/// answer with [`complete_in`] and commits once). The claim row stays uncommitted until then, so a
/// concurrent request with the same key waits on it and then replays the stored answer; a
/// rollback leaves nothing behind. Only a record older than 24 h is taken over (a claim made
/// this way is never left `in_progress`; one left by [`claim`] answers [`Claim::InProgress`]).
pub async fn claim_in(
    tx: &mut Tx,
    env: &EnvironmentId,
    key: &str,
    request_hash: &str,
) -> ApiResult<Claim> {
    let started: Option<bool> = sqlx::query_scalar(
        "insert into idempotency_keys (environment_id, key, request_hash, state) values ($1, $2, $3, 'in_progress')
         on conflict (environment_id, key) do update
           set request_hash = excluded.request_hash, state = 'in_progress', status = null, headers = null,
               body = null, created_at = now(), locked_at = now()
           where idempotency_keys.created_at < now() - interval '24 hours'
         returning true",
    )
    .bind(env)
    .bind(key)
    .bind(request_hash)
    .fetch_optional(&mut **tx)
    .await?;
    if started.is_some() {
        return Ok(Claim::Started);
    }
    existing(tx, env, key, request_hash).await
}

/// Stores the answer of a key claimed with [`claim_in`], in the same transaction.
pub async fn complete_in(
    tx: &mut Tx,
    env: &EnvironmentId,
    key: &str,
    response: &StoredResponse,
) -> ApiResult<()> {
    complete_on(tx, env, key, response).await
}

/// Stores an answer for `(env, key)` unless the key already has a record (a client error that
/// ended the request before or after its handler's claim rolled back). Returns whether it did.
pub async fn store_if_absent(
    pool: &PgPool,
    env: &EnvironmentId,
    key: &str,
    request_hash: &str,
    response: &StoredResponse,
) -> ApiResult<bool> {
    Ok(sqlx::query(
        "insert into idempotency_keys (environment_id, key, request_hash, state, status, headers, body)
         values ($1, $2, $3, 'completed', $4, $5, $6)
         on conflict (environment_id, key) do nothing",
    )
    .bind(env)
    .bind(key)
    .bind(request_hash)
    .bind(i16::try_from(response.status).unwrap_or(500))
    .bind(&response.headers)
    .bind(&response.body)
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
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
    let mut conn = pool.acquire().await?;
    complete_on(&mut conn, env, key, response).await
}

async fn complete_on(
    conn: &mut PgConnection,
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
    .execute(conn)
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
