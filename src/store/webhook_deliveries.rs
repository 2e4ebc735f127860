//! The webhook delivery queue: claiming due deliveries (`for update skip locked` plus a lease),
//! recording attempts, and the debugging view behind the extension route
//! `GET /webhook_endpoints/{id}/deliveries`.
//!
//! A claim commits at once and pushes `next_attempt_at` past the HTTP timeout (the lease), so no
//! transaction is open while a receiver is called, several workers never send the same row at
//! the same time, and a worker that dies mid-attempt leaves a row that is retried when its lease
//! runs out. Delivery is therefore at least once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool, Postgres, QueryBuilder};

use super::page::ListParams;
use crate::error::ApiResult;
use crate::ids::{EnvironmentId, EventId, WebhookEndpointId};

/// A claimed delivery with everything needed to send it.
#[derive(Debug, Clone, FromRow)]
pub struct Claimed {
    /// The delivery row.
    pub id: i64,
    /// The attempt number this claim is (1-based).
    pub attempts: i32,
    /// The environment.
    pub environment_id: EnvironmentId,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// Where to POST.
    pub endpoint_url: String,
    /// The vault-sealed signing secret.
    pub secret_enc: Vec<u8>,
    /// The event id.
    pub event_id: EventId,
    /// The event name.
    pub event: String,
    /// The event payload.
    pub data: Value,
    /// When the event was recorded.
    pub created_at: DateTime<Utc>,
}

/// Claims up to `limit` due deliveries of enabled endpoints, oldest due first, and leases them
/// for `lease` (their attempt counter is incremented now).
pub async fn claim(pool: &PgPool, limit: i64, lease: Duration) -> ApiResult<Vec<Claimed>> {
    Ok(sqlx::query_as(
        "with due as (
           select d.id from webhook_deliveries d
           join webhook_endpoints e on e.id = d.endpoint_id and e.status = 'enabled'
           where d.status = 'pending' and d.next_attempt_at <= now()
           order by d.next_attempt_at, d.id
           limit $1
           for update of d skip locked)
         update webhook_deliveries d
            set attempts = d.attempts + 1, last_attempt_at = now(),
                next_attempt_at = now() + make_interval(secs => $2)
           from due, webhook_endpoints e, events ev
          where d.id = due.id and e.id = d.endpoint_id and ev.id = d.event_id
         returning d.id, d.attempts, d.environment_id, d.endpoint_id, e.endpoint_url, e.secret_enc,
                   ev.id as event_id, ev.event, ev.data, ev.created_at",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await?)
}

/// What one HTTP attempt produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The response status, when a response arrived.
    pub status_code: Option<u16>,
    /// Transport error (timeout, connection refused, …).
    pub error: Option<String>,
    /// The first bytes of the response body.
    pub response_body: Option<String>,
    /// Wall time of the attempt.
    pub duration: Duration,
}

impl Outcome {
    /// A 2xx response.
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Records an attempt and moves the delivery on: `succeeded`, or back to `pending` at `retry_at`,
/// or `failed` when `retry_at` is `None` (attempts exhausted).
pub async fn record(
    pool: &PgPool,
    claimed: &Claimed,
    outcome: &Outcome,
    retry_at: Option<DateTime<Utc>>,
) -> ApiResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "insert into webhook_delivery_attempts (delivery_id, attempt, status_code, error, response_body, duration_ms)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(claimed.id)
    .bind(claimed.attempts)
    .bind(outcome.status_code.map(i32::from))
    .bind(&outcome.error)
    .bind(&outcome.response_body)
    .bind(i32::try_from(outcome.duration.as_millis()).unwrap_or(i32::MAX))
    .execute(&mut *tx)
    .await?;
    let (status, next) = match (outcome.succeeded(), retry_at) {
        (true, _) => ("succeeded", None),
        (false, Some(at)) => ("pending", Some(at)),
        (false, None) => ("failed", None),
    };
    sqlx::query(
        "update webhook_deliveries set status = $3, next_attempt_at = coalesce($4, next_attempt_at)
         where environment_id = $1 and id = $2",
    )
    .bind(&claimed.environment_id)
    .bind(claimed.id)
    .bind(status)
    .bind(next)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One recorded HTTP attempt.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Attempt {
    /// 1-based attempt number.
    pub attempt: i32,
    /// Response status, `null` on a transport error.
    pub status_code: Option<i32>,
    /// Transport error.
    pub error: Option<String>,
    /// The first bytes of the response body.
    pub response_body: Option<String>,
    /// Wall time in milliseconds.
    pub duration_ms: i32,
    /// When the attempt finished.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    delivery_id: i64,
}

/// A delivery of one event to one endpoint (extension object `webhook_delivery`).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Delivery {
    /// Always `"webhook_delivery"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// The event delivered (also the pagination cursor).
    pub event_id: EventId,
    /// The event name.
    pub event: String,
    /// `pending`, `succeeded`, `failed` (attempts exhausted) or `skipped` (endpoint disabled).
    pub status: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// When the next attempt is due (meaningful while `pending`).
    #[serde(with = "crate::timestamp")]
    pub next_attempt_at: DateTime<Utc>,
    /// When the last attempt started.
    #[serde(with = "crate::timestamp::option")]
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the delivery was queued.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Each attempt, oldest first.
    #[sqlx(skip)]
    pub attempt_log: Vec<Attempt>,
    #[serde(skip)]
    id: i64,
}

/// One page of an endpoint's deliveries with their attempts (cursor: `event_id`).
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    endpoint_id: &WebhookEndpointId,
    params: &ListParams,
) -> ApiResult<Vec<Delivery>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
        "select d.id, d.event_id, ev.event, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at,
                d.created_at
         from webhook_deliveries d join events ev on ev.id = d.event_id
         where d.environment_id = ",
    );
    qb.push_bind(env.to_string())
        .push(" and d.endpoint_id = ")
        .push_bind(endpoint_id.clone());
    params.push_keyset(&mut qb, "d.event_id");
    let mut rows: Vec<Delivery> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let ids: Vec<i64> = rows.iter().map(|d| d.id).collect();
    let attempts: Vec<Attempt> = sqlx::query_as(
        "select delivery_id, attempt, status_code, error, response_body, duration_ms, created_at
         from webhook_delivery_attempts where delivery_id = any($1) order by id",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    for d in &mut rows {
        d.object = "webhook_delivery";
        d.attempt_log = attempts
            .iter()
            .filter(|a| a.delivery_id == d.id)
            .cloned()
            .collect();
    }
    Ok(rows)
}
