//! The email outbox (`email_outbox`): rows queued by [`enqueue`] inside the
//! caller's transaction, claimed by the email worker with `for update skip locked` plus a lease,
//! then deleted once sent or finalised (`failed`, `skipped`) with their payload wiped.
//!
//! A claim commits at once and pushes `next_attempt_at` past the SMTP timeout, so no transaction
//! is open while the SMTP server is talked to, two workers never send the same row at the same
//! time, and a worker that dies mid-send leaves a row that is retried when its lease runs out
//! (delivery is at least once).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgPool};

use crate::db::Tx;
use crate::email::Email;
use crate::error::{ApiError, ApiResult};
use crate::ids::EnvironmentId;

/// Queues an email in the caller's transaction; a worker sends it after commit (when SMTP is
/// configured).
///
/// Errors: 400 `invalid_email` when `to` is not an email address.
pub async fn enqueue(tx: &mut Tx, env: &EnvironmentId, to: &str, email: &Email) -> ApiResult<()> {
    let to = to.trim();
    if lettre::Address::from_str(to).is_err() {
        return Err(ApiError::bad_request(
            "invalid_email",
            format!("'{to}' is not a valid email address."),
        ));
    }
    let payload = serde_json::to_value(email).map_err(anyhow::Error::from)?;
    let id = insert(tx, env, email.kind(), to, &payload).await?;
    tracing::debug!(outbox_id = id, kind = email.kind(), "email queued");
    Ok(())
}

/// Queues one email in the caller's transaction; returns the row id.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    kind: &str,
    recipient: &str,
    payload: &Value,
) -> ApiResult<i64> {
    Ok(sqlx::query_scalar(
        "insert into email_outbox (environment_id, kind, recipient, payload) values ($1, $2, $3, $4)
         returning id",
    )
    .bind(env)
    .bind(kind)
    .bind(recipient)
    .bind(payload)
    .fetch_one(&mut **tx)
    .await?)
}

/// A claimed email with what is needed to render and send it.
#[derive(Clone, FromRow)]
pub struct Claimed {
    /// The outbox row.
    pub id: i64,
    /// The environment that queued it.
    pub environment_id: EnvironmentId,
    /// The environment's display name (the product name in the templates).
    pub environment_name: String,
    /// The email kind (`magic_auth`, …).
    pub kind: String,
    /// The recipient address.
    pub recipient: String,
    /// The serialised `Email` (secrets inside; never log it).
    pub payload: Value,
    /// The attempt number this claim is (1-based).
    pub attempts: i32,
}

impl std::fmt::Debug for Claimed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claimed")
            .field("id", &self.id)
            .field("environment_id", &self.environment_id)
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// Claims up to `limit` due emails, oldest due first, and leases them for `lease` (their attempt
/// counter is incremented now).
pub async fn claim(pool: &PgPool, limit: i64, lease: Duration) -> ApiResult<Vec<Claimed>> {
    Ok(sqlx::query_as(
        "with due as (
           select o.id from email_outbox o
           where o.status = 'pending' and o.next_attempt_at <= now() and o.payload is not null
           order by o.next_attempt_at, o.id
           limit $1
           for update of o skip locked)
         update email_outbox o
            set attempts = o.attempts + 1, last_attempt_at = now(),
                next_attempt_at = now() + make_interval(secs => $2)
           from due, environments e
          where o.id = due.id and e.id = o.environment_id
         returning o.id, o.environment_id, e.name as environment_name, o.kind, o.recipient,
                   o.payload, o.attempts",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await?)
}

/// The email was accepted by the SMTP server: the row (and its secrets) is deleted.
pub async fn delete_sent(pool: &PgPool, claimed: &Claimed) -> ApiResult<()> {
    sqlx::query("delete from email_outbox where environment_id = $1 and id = $2")
        .bind(&claimed.environment_id)
        .bind(claimed.id)
        .execute(pool)
        .await?;
    Ok(())
}

/// A transient failure: try again at `at`, remembering `error`.
pub async fn retry_at(
    pool: &PgPool,
    claimed: &Claimed,
    at: DateTime<Utc>,
    error: &str,
) -> ApiResult<()> {
    sqlx::query(
        "update email_outbox set next_attempt_at = $3, last_error = $4
         where environment_id = $1 and id = $2",
    )
    .bind(&claimed.environment_id)
    .bind(claimed.id)
    .bind(at)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// The email will never be sent: `status` is `failed` (permanent SMTP error or attempts
/// exhausted) or `skipped` (no SMTP configured). The payload is wiped.
pub async fn finish(
    pool: &PgPool,
    claimed: &Claimed,
    status: &str,
    error: Option<&str>,
) -> ApiResult<()> {
    sqlx::query(
        "update email_outbox set status = $3, last_error = $4, payload = null
         where environment_id = $1 and id = $2",
    )
    .bind(&claimed.environment_id)
    .bind(claimed.id)
    .bind(status)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes final (`failed`, `skipped`) rows last changed more than `age` ago; returns how many.
pub async fn purge(pool: &PgPool, age: Duration) -> ApiResult<u64> {
    Ok(sqlx::query(
        "delete from email_outbox where status <> 'pending'
           and updated_at < now() - make_interval(secs => $1)",
    )
    .bind(age.as_secs_f64())
    .execute(pool)
    .await?
    .rows_affected())
}
