//! Audit-log exports (spec tag `audit-logs`: `AuditLogExportJson`): the export rows, the queue
//! the export worker claims from, the events an export selects, and the CSV file's chunks when
//! it is stored in Postgres.
//!
//! An export is created `pending` with a `NOTIFY` on [`CHANNEL`] in the creating transaction
//! (delivered on commit, so a woken worker always finds the row). A worker claims it with
//! `for update skip locked` and a lease (`claimed_until`); every claim is a new attempt whose
//! chunks carry its number, and every chunk write renews the lease only while the attempt is
//! still the export's current one, so a worker that lost its lease (it stalled past it and
//! another replica took over) can neither write into nor finish the newer attempt.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, PgConnection, PgPool};

use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::{AuditLogExportId, EnvironmentId, OrganizationId};

/// The `LISTEN`/`NOTIFY` channel that wakes export workers; the payload is the export id.
pub const CHANNEL: &str = "audit_log_exports";

/// What an export selects: one organization's events with `range_start <= occurred_at <=
/// range_end`, narrowed by each filter that is `Some` (an event matches a list when its action,
/// actor name, actor id, or the type of one of its targets is in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFilter {
    /// The organization.
    pub organization_id: OrganizationId,
    /// Start of the range (inclusive).
    pub range_start: DateTime<Utc>,
    /// End of the range (inclusive).
    pub range_end: DateTime<Utc>,
    /// Actions to include.
    pub actions: Option<Vec<String>>,
    /// Actor names to include.
    pub actor_names: Option<Vec<String>>,
    /// Actor ids to include.
    pub actor_ids: Option<Vec<String>>,
    /// Target types to include.
    pub targets: Option<Vec<String>>,
}

/// An export as stored.
#[derive(Debug, Clone, FromRow)]
pub struct Export {
    /// The export's id.
    pub id: AuditLogExportId,
    /// `pending`, `ready` or `error`.
    pub state: String,
    /// Why it failed (state `error`).
    pub error: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

const EXPORT_COLUMNS: &str = "id, state, error, created_at, updated_at";

/// Creates a pending export of `filter` and wakes the workers (on commit).
pub async fn create(tx: &mut Tx, env: &EnvironmentId, filter: &ExportFilter) -> ApiResult<Export> {
    let id = AuditLogExportId::new();
    let export: Export = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into audit_log_exports (environment_id, id, organization_id, range_start,
           range_end, actions, actor_names, actor_ids, targets)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         returning {EXPORT_COLUMNS}"
    )))
    .bind(env)
    .bind(&id)
    .bind(&filter.organization_id)
    .bind(filter.range_start)
    .bind(filter.range_end)
    .bind(&filter.actions)
    .bind(&filter.actor_names)
    .bind(&filter.actor_ids)
    .bind(&filter.targets)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("select pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(&id)
        .execute(&mut **tx)
        .await?;
    Ok(export)
}

/// Export `id` of environment `env`.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &AuditLogExportId,
) -> ApiResult<Option<Export>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {EXPORT_COLUMNS} from audit_log_exports where environment_id = $1 and id = $2"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// A ready export's file, for the download route.
#[derive(Debug, Clone, FromRow)]
pub struct File {
    /// The export's environment.
    pub environment_id: EnvironmentId,
    /// The export.
    pub id: AuditLogExportId,
    /// `postgres` or `s3`.
    pub storage: String,
    /// The object's key (`s3`).
    pub object_key: Option<String>,
    /// The attempt whose chunks make the file (`postgres`).
    pub attempt: i32,
    /// How many chunks (`postgres`).
    pub chunk_count: i32,
    /// Size in bytes.
    pub size_bytes: i64,
}

/// The file of export `id` when it is ready. Looked up by id alone: the download route has no
/// API key, and its signed URL names the export.
pub async fn ready_file(conn: &mut PgConnection, id: &AuditLogExportId) -> ApiResult<Option<File>> {
    Ok(sqlx::query_as(
        "select environment_id, id, storage, object_key, ready_attempt as attempt,
                chunk_count, size_bytes
         from audit_log_exports
         where id = $1 and state = 'ready' and ready_attempt is not null
           and chunk_count is not null and size_bytes is not null and storage is not null",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Chunk `seq` of a file stored in Postgres.
pub async fn chunk(pool: &PgPool, file: &File, seq: i32) -> ApiResult<Option<Vec<u8>>> {
    Ok(sqlx::query_scalar(
        "select data from audit_log_export_chunks
         where environment_id = $1 and export_id = $2 and attempt = $3 and seq = $4",
    )
    .bind(&file.environment_id)
    .bind(&file.id)
    .bind(file.attempt)
    .bind(seq)
    .fetch_optional(pool)
    .await?)
}

/// An export a worker claimed: one attempt at writing its file.
#[derive(Debug, Clone, FromRow)]
pub struct Claimed {
    /// The export's environment.
    pub environment_id: EnvironmentId,
    /// The export.
    pub id: AuditLogExportId,
    /// This attempt's number (1, 2, …).
    pub attempt: i32,
    /// What to export.
    #[sqlx(flatten)]
    pub filter: ExportFilter,
}

impl<'r> FromRow<'r, sqlx::postgres::PgRow> for ExportFilter {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        Ok(Self {
            organization_id: row.try_get("organization_id")?,
            range_start: row.try_get("range_start")?,
            range_end: row.try_get("range_end")?,
            actions: row.try_get("actions")?,
            actor_names: row.try_get("actor_names")?,
            actor_ids: row.try_get("actor_ids")?,
            targets: row.try_get("targets")?,
        })
    }
}

/// Claims the oldest pending export that no live lease holds, for `lease`; its chunks of
/// earlier attempts are deleted. `None` when there is none.
pub async fn claim(pool: &PgPool, lease: Duration) -> ApiResult<Option<Claimed>> {
    let mut tx = pool.begin().await?;
    let claimed: Option<Claimed> = sqlx::query_as(
        "with next as (
           select environment_id, id from audit_log_exports
           where state = 'pending' and (claimed_until is null or claimed_until < now())
           order by created_at
           limit 1
           for update skip locked)
         update audit_log_exports x
            set attempts = x.attempts + 1, claimed_until = now() + make_interval(secs => $1)
           from next
          where x.environment_id = next.environment_id and x.id = next.id
         returning x.environment_id, x.id, x.attempts as attempt, x.organization_id,
                   x.range_start, x.range_end, x.actions, x.actor_names, x.actor_ids, x.targets",
    )
    .bind(lease.as_secs_f64())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(c) = &claimed {
        sqlx::query(
            "delete from audit_log_export_chunks
             where environment_id = $1 and export_id = $2 and attempt < $3",
        )
        .bind(&c.environment_id)
        .bind(&c.id)
        .bind(c.attempt)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(claimed)
}

/// Stores chunk `seq` of attempt `c` and renews its lease, in one statement; `false` (nothing
/// written) when the attempt is no longer the export's current one.
pub async fn write_chunk(
    pool: &PgPool,
    c: &Claimed,
    seq: i32,
    data: &[u8],
    lease: Duration,
) -> ApiResult<bool> {
    let written = sqlx::query(
        "with current as (
           update audit_log_exports set claimed_until = now() + make_interval(secs => $5)
           where environment_id = $1 and id = $2 and attempts = $3 and state = 'pending'
           returning environment_id, id)
         insert into audit_log_export_chunks (environment_id, export_id, attempt, seq, data)
         select environment_id, id, $3, $4, $6 from current",
    )
    .bind(&c.environment_id)
    .bind(&c.id)
    .bind(c.attempt)
    .bind(seq)
    .bind(lease.as_secs_f64())
    .bind(data)
    .execute(pool)
    .await?;
    Ok(written.rows_affected() == 1)
}

/// Renews attempt `c`'s lease; `false` when it is no longer the export's current attempt.
pub async fn renew(pool: &PgPool, c: &Claimed, lease: Duration) -> ApiResult<bool> {
    let done = sqlx::query(
        "update audit_log_exports set claimed_until = now() + make_interval(secs => $4)
         where environment_id = $1 and id = $2 and attempts = $3 and state = 'pending'",
    )
    .bind(&c.environment_id)
    .bind(&c.id)
    .bind(c.attempt)
    .bind(lease.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Where a finished file is and what it holds.
#[derive(Debug, Clone)]
pub struct Written {
    /// `postgres` or `s3`.
    pub storage: &'static str,
    /// The object's key (`s3`).
    pub object_key: Option<String>,
    /// Chunks stored in Postgres (0 for `s3`).
    pub chunk_count: i32,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Data rows (events).
    pub row_count: i64,
}

/// Marks attempt `c`'s export `ready` with its file; `false` when the attempt is no longer the
/// export's current one (nothing changed).
pub async fn mark_ready(pool: &PgPool, c: &Claimed, w: &Written) -> ApiResult<bool> {
    let done = sqlx::query(
        "update audit_log_exports
            set state = 'ready', claimed_until = null, error = null, storage = $4,
                object_key = $5, ready_attempt = $3, chunk_count = $6, size_bytes = $7,
                row_count = $8
          where environment_id = $1 and id = $2 and attempts = $3 and state = 'pending'",
    )
    .bind(&c.environment_id)
    .bind(&c.id)
    .bind(c.attempt)
    .bind(w.storage)
    .bind(&w.object_key)
    .bind(w.chunk_count)
    .bind(w.size_bytes)
    .bind(w.row_count)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records that attempt `c` failed with `reason`: the export is retried after `retry_after`, or,
/// when that is `None`, ends in state `error`. Its chunks are deleted.
pub async fn mark_failed(
    pool: &PgPool,
    c: &Claimed,
    reason: &str,
    retry_after: Option<Duration>,
) -> ApiResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "update audit_log_exports
            set error = $4,
                state = case when $5::float8 is null then 'error' else 'pending' end,
                claimed_until = case when $5::float8 is null then null
                                     else now() + make_interval(secs => $5::float8) end
          where environment_id = $1 and id = $2 and attempts = $3 and state = 'pending'",
    )
    .bind(&c.environment_id)
    .bind(&c.id)
    .bind(c.attempt)
    .bind(reason)
    .bind(retry_after.map(|d| d.as_secs_f64()))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "delete from audit_log_export_chunks
         where environment_id = $1 and export_id = $2 and attempt = $3",
    )
    .bind(&c.environment_id)
    .bind(&c.id)
    .bind(c.attempt)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The largest number of targets one selected event has (0 when none is selected): the CSV
/// file's `target_*_N` columns go up to it.
pub async fn max_targets(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    f: &ExportFilter,
) -> ApiResult<i32> {
    let n: Option<i32> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select max(jsonb_array_length(targets))::int4 from audit_log_events e where {EVENT_FILTER}"
    )))
    .bind(env)
    .bind(&f.organization_id)
    .bind(f.range_start)
    .bind(f.range_end)
    .bind(&f.actions)
    .bind(&f.actor_names)
    .bind(&f.actor_ids)
    .bind(&f.targets)
    .fetch_one(conn)
    .await?;
    Ok(n.unwrap_or(0))
}

/// The `where` clause of an export's events ($1 environment … $8 target types).
const EVENT_FILTER: &str = "e.environment_id = $1 and e.organization_id = $2
    and e.occurred_at >= $3 and e.occurred_at <= $4
    and ($5::text[] is null or e.action = any($5))
    and ($6::text[] is null or e.actor->>'name' = any($6))
    and ($7::text[] is null or e.actor->>'id' = any($7))
    and ($8::text[] is null or exists (
          select 1 from jsonb_array_elements(e.targets) t where t->>'type' = any($8)))";

/// One selected event, as the CSV file needs it.
#[derive(Debug, Clone, FromRow)]
pub struct ExportedEvent {
    /// The keyset cursor (with `occurred_at`).
    pub id: String,
    /// The action.
    pub action: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// `{id, type, name?, metadata?}`.
    pub actor: Json<Value>,
    /// `[{id, type, name?, metadata?}]`.
    pub targets: Json<Value>,
    /// `{location, user_agent?}`.
    pub context: Json<Value>,
    /// Event metadata.
    pub metadata: Option<Json<Value>>,
}

/// Where a page of events starts: after this `(occurred_at, id)`.
pub type Cursor = (DateTime<Utc>, String);

/// Up to `limit` selected events after `after`, in `(occurred_at, id)` order, as a stream (rows
/// are decoded as they arrive, never collected).
pub fn events_page<'c>(
    conn: &'c mut PgConnection,
    env: &EnvironmentId,
    f: &ExportFilter,
    after: Option<Cursor>,
    limit: i64,
) -> BoxStream<'c, Result<ExportedEvent, sqlx::Error>> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select e.id, e.action, e.occurred_at, e.actor, e.targets, e.context, e.metadata
         from audit_log_events e
         where {EVENT_FILTER}
           and ($9::timestamptz is null or (e.occurred_at, e.id) > ($9, $10::text))
         order by e.occurred_at, e.id
         limit $11"
    )))
    .bind(env.clone())
    .bind(f.organization_id.clone())
    .bind(f.range_start)
    .bind(f.range_end)
    .bind(f.actions.clone())
    .bind(f.actor_names.clone())
    .bind(f.actor_ids.clone())
    .bind(f.targets.clone())
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch(conn)
}
