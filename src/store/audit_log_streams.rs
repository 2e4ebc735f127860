//! Audit-log streams (issue 12, extension `/organizations/{id}/audit_log_stream`): one per
//! organization, its sink's settings and vault-sealed secret, its delivery state
//! (`active`/`error`/`invalid`, `last_synced_at`), and the queue of events it still has to send
//! (`audit_log_stream_queue`, filled by a trigger on `audit_log_events`; see
//! `migrations/1202_audit_log_streams.sql`).
//!
//! Delivery claims a whole stream, not single events: [`claim`] leases due streams that have
//! queued events (`for update skip locked`, `next_attempt_at` pushed past the lease, committed at
//! once), so one worker at a time sends a stream's batch and no transaction is open while a sink
//! is called. [`batch`] reads the oldest queued events, [`delivered`] deletes exactly the queue
//! rows that were sent and marks the stream `active`, [`failed`] records the failure and the
//! next attempt. A worker that dies mid-batch leaves the rows queued and the stream due when its
//! lease runs out: delivery is at least once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{AssertSqlSafe, FromRow, PgConnection, PgPool};

use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::{AuditLogStreamId, EnvironmentId, OrganizationId};

/// An organization's stream, as the API shows it (never its secret).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct AuditLogStream {
    /// Always `"audit_log_stream"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// `als_…`.
    pub id: AuditLogStreamId,
    /// The organization whose events it carries.
    pub organization_id: OrganizationId,
    /// `GenericHttps`, `Datadog`, `Splunk` or `S3`.
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: String,
    /// `active`, `error` (failing, retried) or `invalid` (the sink refused the credentials).
    pub state: String,
    /// When a batch last reached the sink.
    #[serde(with = "crate::timestamp::option")]
    pub last_synced_at: Option<DateTime<Utc>>,
    /// The last failure, cleared by a success.
    pub last_error: Option<String>,
    /// The sink's settings without its secret.
    pub config: Value,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change (configuration or state).
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, organization_id, type, state, last_synced_at, last_error, config, \
                       created_at, updated_at";

fn shown(mut s: AuditLogStream) -> AuditLogStream {
    s.object = "audit_log_stream";
    s
}

/// A stream's sink, validated by the caller.
#[derive(Debug, Clone)]
pub struct NewStream {
    /// `GenericHttps`, `Datadog`, `Splunk` or `S3`.
    pub kind: &'static str,
    /// Settings without the secret.
    pub config: Value,
    /// The vault-sealed secret.
    pub secret_enc: Vec<u8>,
}

/// Creates `org`'s stream, or reconfigures the existing one in place (same id, state back to
/// `active`, due at once, its queued events kept for the new sink). Returns the stream and
/// whether it was created.
pub async fn upsert(
    tx: &mut Tx,
    env: &EnvironmentId,
    org: &OrganizationId,
    new: NewStream,
) -> ApiResult<(AuditLogStream, bool)> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        stream: AuditLogStream,
        created: bool,
    }
    let row: Row = sqlx::query_as(AssertSqlSafe(format!(
        "insert into audit_log_streams (environment_id, id, organization_id, type, config, secret_enc)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (environment_id, organization_id) do update
           set type = excluded.type, config = excluded.config, secret_enc = excluded.secret_enc,
               state = 'active', last_error = null, failures = 0, next_attempt_at = now()
         returning {COLUMNS}, (xmax = 0) as created"
    )))
    .bind(env)
    .bind(AuditLogStreamId::new())
    .bind(org)
    .bind(new.kind)
    .bind(new.config)
    .bind(new.secret_enc)
    .fetch_one(&mut **tx)
    .await?;
    Ok((shown(row.stream), row.created))
}

/// `org`'s stream, if it has one.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    org: &OrganizationId,
) -> ApiResult<Option<AuditLogStream>> {
    let row: Option<AuditLogStream> = sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from audit_log_streams where environment_id = $1 and organization_id = $2"
    )))
    .bind(env)
    .bind(org)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(shown))
}

/// Deletes `org`'s stream and its queue; whether there was one.
pub async fn delete(tx: &mut Tx, env: &EnvironmentId, org: &OrganizationId) -> ApiResult<bool> {
    let done = sqlx::query(
        "delete from audit_log_streams where environment_id = $1 and organization_id = $2",
    )
    .bind(env)
    .bind(org)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// A leased stream with what is needed to send to it.
#[derive(Debug, Clone, FromRow)]
pub struct Claimed {
    /// The environment.
    pub environment_id: EnvironmentId,
    /// The stream.
    pub id: AuditLogStreamId,
    /// Its organization.
    pub organization_id: OrganizationId,
    /// `GenericHttps`, `Datadog`, `Splunk` or `S3`.
    #[sqlx(rename = "type")]
    pub kind: String,
    /// The sink's settings.
    pub config: Value,
    /// The vault-sealed secret.
    pub secret_enc: Vec<u8>,
    /// Consecutive failed batches before this one.
    pub failures: i32,
}

/// Leases up to `limit` due streams that have queued events (not `invalid` ones), longest due
/// first, for `lease`.
pub async fn claim(pool: &PgPool, limit: i64, lease: Duration) -> ApiResult<Vec<Claimed>> {
    Ok(sqlx::query_as(
        "with due as (
           select s.environment_id, s.id from audit_log_streams s
           where s.state <> 'invalid' and s.next_attempt_at <= now()
             and exists (select 1 from audit_log_stream_queue q
                         where q.environment_id = s.environment_id and q.stream_id = s.id)
           order by s.next_attempt_at
           limit $1
           for update of s skip locked)
         update audit_log_streams s
            set next_attempt_at = now() + make_interval(secs => $2)
           from due
          where s.environment_id = due.environment_id and s.id = due.id
         returning s.environment_id, s.id, s.organization_id, s.type, s.config, s.secret_enc,
                   s.failures",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await?)
}

/// One queued event; the event fields are `None` when retention purged it before delivery.
#[derive(Debug, Clone, FromRow)]
pub struct Queued {
    /// The queue row.
    pub queue_id: i64,
    /// The event id (`audit_log_event_…`), stable across redeliveries.
    pub event_id: String,
    /// The action's name.
    pub action: Option<String>,
    /// The schema version it was checked against.
    pub version: Option<i32>,
    /// When it happened.
    pub occurred_at: Option<DateTime<Utc>>,
    /// `{id, type, name?, metadata?}`.
    pub actor: Option<Value>,
    /// `[{id, type, name?, metadata?}]`.
    pub targets: Option<Value>,
    /// `{location, user_agent?}`.
    pub context: Option<Value>,
    /// Event metadata.
    pub metadata: Option<Value>,
    /// When it was ingested.
    pub created_at: Option<DateTime<Utc>>,
}

/// The oldest `limit` queued events of a claimed stream.
pub async fn batch(pool: &PgPool, stream: &Claimed, limit: i64) -> ApiResult<Vec<Queued>> {
    Ok(sqlx::query_as(
        "select q.id as queue_id, q.event_id, e.action, e.version, e.occurred_at, e.actor,
                e.targets, e.context, e.metadata, e.created_at
         from audit_log_stream_queue q
         left join audit_log_events e on e.environment_id = q.environment_id and e.id = q.event_id
         where q.environment_id = $1 and q.stream_id = $2
         order by q.id
         limit $3",
    )
    .bind(&stream.environment_id)
    .bind(&stream.id)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Records a batch that reached the sink (or held only purged events): deletes its queue rows
/// and marks the stream `active`, synced now (when `synced`), due again at once.
pub async fn delivered(
    pool: &PgPool,
    stream: &Claimed,
    queue_ids: &[i64],
    synced: bool,
) -> ApiResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "delete from audit_log_stream_queue
         where environment_id = $1 and stream_id = $2 and id = any($3)",
    )
    .bind(&stream.environment_id)
    .bind(&stream.id)
    .bind(queue_ids)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "update audit_log_streams
            set state = 'active', last_error = null, failures = 0, next_attempt_at = now(),
                last_synced_at = case when $3 then now() else last_synced_at end
          where environment_id = $1 and id = $2",
    )
    .bind(&stream.environment_id)
    .bind(&stream.id)
    .bind(synced)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Records a failed batch: `state` (`error`, retried at `retry_at`; or `invalid`, not retried
/// until reconfigured) and the reason. The queue is left as it was.
pub async fn failed(
    pool: &PgPool,
    stream: &Claimed,
    state: &str,
    error: &str,
    retry_at: DateTime<Utc>,
) -> ApiResult<()> {
    sqlx::query(
        "update audit_log_streams
            set state = $3, last_error = $4, failures = failures + 1, next_attempt_at = $5
          where environment_id = $1 and id = $2",
    )
    .bind(&stream.environment_id)
    .bind(&stream.id)
    .bind(state)
    .bind(error)
    .bind(retry_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// How many events `org`'s stream still has queued (tests and diagnostics).
pub async fn queued(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    org: &OrganizationId,
) -> ApiResult<i64> {
    Ok(sqlx::query_scalar(
        "select count(*) from audit_log_stream_queue q
         join audit_log_streams s on s.environment_id = q.environment_id and s.id = q.stream_id
         where s.environment_id = $1 and s.organization_id = $2",
    )
    .bind(env)
    .bind(org)
    .fetch_one(conn)
    .await?)
}
