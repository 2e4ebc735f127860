//! The audit-log export worker: writes the CSV file of each pending export
//! (`POST /audit_logs/exports`) and marks it `ready`, or `error` with a reason.
//!
//! It is woken by a Postgres `NOTIFY` on `store::audit_log_exports::CHANNEL`, which the creating
//! request sends in its transaction, and also polls every `poll_interval` (a missed
//! notification, a lost listener connection, an export whose retry came due). Exports are
//! claimed with `for update skip locked` and a lease, so several replicas share the queue and
//! an export whose replica died is taken over when its lease runs out; each chunk written
//! renews the lease. A failed attempt is retried after `retry_delay` until `max_attempts`.
//!
//! The file streams: events are read in keyset pages of [`PAGE_ROWS`], each page a row stream
//! (`fetch`), encoded with the `csv` crate into a buffer that is stored as a chunk (a bytea row
//! of `audit_log_export_chunks`) whenever it reaches `chunk_bytes` (1 MiB), so memory stays
//! bounded whatever the export's size. When a bucket is configured
//! (`KEYSTEAD_AUDIT_LOG_EXPORT_S3_*`) the chunks are streamed into an object
//! `<prefix><environment>/<export>/<attempt>.csv` instead (a multipart upload past a few MiB),
//! which becomes visible only when complete. Columns, in order ([`header`]): `action, occurred_at,
//! actor_id, actor_type, actor_name, actor_metadata, context_location, context_user_agent,
//! metadata`, then `target_id_N, target_type_N, target_name_N, target_metadata_N` for N = 1 up
//! to the most targets one selected event has. Times are RFC 3339 UTC with milliseconds,
//! metadata columns hold compact JSON, and absent values are empty.

use anyhow::Context;
use futures_util::TryStreamExt;
use serde_json::Value;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

use crate::state::AppState;
use crate::storage::{self, S3Store};
use crate::store::audit_log_exports::{self as exports, Claimed, ExportedEvent, Written};

/// Events read per keyset page.
pub const PAGE_ROWS: i64 = 5_000;

/// The CSV header for files whose events have at most `max_targets` targets.
pub fn header(max_targets: usize) -> Vec<String> {
    let mut h: Vec<String> = [
        "action",
        "occurred_at",
        "actor_id",
        "actor_type",
        "actor_name",
        "actor_metadata",
        "context_location",
        "context_user_agent",
        "metadata",
    ]
    .map(String::from)
    .to_vec();
    for n in 1..=max_targets {
        for field in ["id", "type", "name", "metadata"] {
            h.push(format!("target_{field}_{n}"));
        }
    }
    h
}

/// `obj[key]` as CSV text: strings as they are, other JSON compact, absent or `null` empty.
fn text(obj: &Value, key: &str) -> String {
    match obj.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// One event's CSV row, `max_targets` target column groups wide.
pub fn row(e: &ExportedEvent, max_targets: usize) -> Vec<String> {
    let (actor, context) = (&e.actor.0, &e.context.0);
    let mut r = vec![
        e.action.clone(),
        crate::timestamp::format(&e.occurred_at),
        text(actor, "id"),
        text(actor, "type"),
        text(actor, "name"),
        text(actor, "metadata"),
        text(context, "location"),
        text(context, "user_agent"),
        e.metadata
            .as_ref()
            .filter(|m| !m.0.is_null())
            .map(|m| m.0.to_string())
            .unwrap_or_default(),
    ];
    let targets = e.targets.0.as_array().map(Vec::as_slice).unwrap_or(&[]);
    for n in 0..max_targets {
        let t = targets.get(n).unwrap_or(&Value::Null);
        for field in ["id", "type", "name", "metadata"] {
            r.push(text(t, field));
        }
    }
    r
}

/// Where the file's bytes go.
enum Sink {
    /// Chunk rows of `audit_log_export_chunks`.
    Postgres,
    /// An object of the configured bucket, streamed (multipart past a few MiB).
    S3 {
        store: S3Store,
        writer: Box<storage::Writer>,
        key: String,
    },
}

/// The CSV encoder, the chunk it is filling, and where full chunks go.
struct Chunks<'a> {
    state: &'a AppState,
    claimed: &'a Claimed,
    csv: csv::Writer<Vec<u8>>,
    sink: Sink,
    seq: i32,
    size: i64,
}

impl<'a> Chunks<'a> {
    fn new(state: &'a AppState, claimed: &'a Claimed) -> anyhow::Result<Self> {
        let s = &state.settings.audit_log_exports;
        let sink = match &s.s3 {
            None => Sink::Postgres,
            Some(config) => {
                let store = S3Store::new(config)?;
                let key = format!(
                    "{}{}/{}/{}.csv",
                    s.s3_prefix, claimed.environment_id, claimed.id, claimed.attempt
                );
                let writer = Box::new(store.writer(&key)?);
                Sink::S3 { store, writer, key }
            }
        };
        Ok(Self {
            state,
            claimed,
            csv: Self::writer(state),
            sink,
            seq: 0,
            size: 0,
        })
    }

    fn writer(state: &AppState) -> csv::Writer<Vec<u8>> {
        let cap = state.settings.audit_log_exports.chunk_bytes + 64 * 1024;
        csv::WriterBuilder::new()
            .flexible(false)
            .from_writer(Vec::with_capacity(cap))
    }

    /// Encodes one record; stores the chunk when it is full.
    async fn record(&mut self, fields: &[String]) -> anyhow::Result<()> {
        self.csv.write_record(fields)?;
        if self.csv.get_ref().len() >= self.state.settings.audit_log_exports.chunk_bytes {
            self.flush().await?;
        }
        Ok(())
    }

    /// Stores what is buffered as the next chunk (nothing when empty) and renews the lease.
    async fn flush(&mut self) -> anyhow::Result<()> {
        let csv = std::mem::replace(&mut self.csv, Self::writer(self.state));
        let data = csv.into_inner().context("encoding the CSV")?;
        if data.is_empty() {
            return Ok(());
        }
        let (db, c) = (&self.state.db, self.claimed);
        let lease = self.state.settings.audit_log_exports.lease;
        let size = i64::try_from(data.len())?;
        let current = match &mut self.sink {
            Sink::Postgres => exports::write_chunk(db, c, self.seq, &data, lease).await?,
            Sink::S3 { writer, .. } => {
                writer.write(data).await.context("writing to the bucket")?;
                exports::renew(db, c, lease).await?
            }
        };
        anyhow::ensure!(current, "the export's claim was taken over (lease expired)");
        self.seq += 1;
        self.size += size;
        Ok(())
    }

    /// Stores the rest and completes the file; what to record as written.
    async fn finish(mut self, row_count: i64) -> anyhow::Result<(Written, Option<S3Store>)> {
        self.flush().await?;
        Ok(match self.sink {
            Sink::Postgres => (
                Written {
                    storage: "postgres",
                    object_key: None,
                    chunk_count: self.seq,
                    size_bytes: self.size,
                    row_count,
                },
                None,
            ),
            Sink::S3 { store, writer, key } => {
                writer.finish().await.context("completing the object")?;
                let written = Written {
                    storage: "s3",
                    object_key: Some(key),
                    chunk_count: 0,
                    size_bytes: self.size,
                    row_count,
                };
                (written, Some(store))
            }
        })
    }
}

/// Writes the CSV file of claimed export `c` where the settings say (Postgres chunks, or an
/// object of the bucket); returns what was written and, for a bucket, its client.
async fn write_file(state: &AppState, c: &Claimed) -> anyhow::Result<(Written, Option<S3Store>)> {
    let env = &c.environment_id;
    let mut conn = state.db.acquire().await?;
    let max_targets = exports::max_targets(&mut conn, env, &c.filter).await?;
    let max_targets = usize::try_from(max_targets).unwrap_or(0);
    let mut chunks = Chunks::new(state, c)?;
    chunks.record(&header(max_targets)).await?;
    let mut rows_total = 0i64;
    let mut after = None;
    loop {
        let mut page = exports::events_page(&mut conn, env, &c.filter, after.take(), PAGE_ROWS);
        let mut rows = 0i64;
        let mut last = None;
        while let Some(event) = page.try_next().await? {
            rows += 1;
            chunks.record(&row(&event, max_targets)).await?;
            last = Some((event.occurred_at, event.id));
        }
        drop(page);
        rows_total += rows;
        if rows < PAGE_ROWS {
            break;
        }
        after = last;
        // A page without a full chunk still shows progress.
        let lease = state.settings.audit_log_exports.lease;
        anyhow::ensure!(
            exports::renew(&state.db, c, lease).await?,
            "the export's claim was taken over (lease expired)"
        );
    }
    chunks.finish(rows_total).await
}

/// Runs one claimed attempt to its end: `ready`, a retry later, or `error`.
async fn process(state: &AppState, c: Claimed) -> anyhow::Result<()> {
    let s = &state.settings.audit_log_exports;
    let attempt = u32::try_from(c.attempt).unwrap_or(u32::MAX);
    if attempt > s.max_attempts {
        let reason = format!("the export did not finish in {} attempts", s.max_attempts);
        tracing::warn!(export_id = %c.id, %reason, "audit-log export failed");
        exports::mark_failed(&state.db, &c, &reason, None).await?;
        return Ok(());
    }
    let started = std::time::Instant::now();
    match write_file(state, &c).await {
        Ok((written, bucket)) => {
            let ready = exports::mark_ready(&state.db, &c, &written).await?;
            if let (false, Some(store), Some(key)) = (ready, bucket, &written.object_key) {
                // Another attempt owns the export now: this one's object is an orphan.
                if let Err(e) = store.delete(key).await {
                    tracing::warn!(export_id = %c.id, error = %e, "orphan export object not deleted");
                }
            }
            tracing::info!(
                export_id = %c.id,
                rows = written.row_count,
                bytes = written.size_bytes,
                ms = started.elapsed().as_millis() as u64,
                ready,
                "audit-log export written"
            );
        }
        Err(e) => {
            let reason = format!("{e:#}");
            let retry = (attempt < s.max_attempts).then_some(s.retry_delay);
            tracing::warn!(export_id = %c.id, attempt, %reason, retry = retry.is_some(), "audit-log export attempt failed");
            exports::mark_failed(&state.db, &c, &reason, retry).await?;
        }
    }
    Ok(())
}

/// Runs every export that can be claimed now, one after the other, until none is left;
/// returns how many attempts were made. Tests use it to run exports deterministically.
pub async fn run_once(state: &AppState) -> anyhow::Result<usize> {
    let lease = state.settings.audit_log_exports.lease;
    let mut n = 0;
    while let Some(c) = exports::claim(&state.db, lease).await? {
        n += 1;
        process(state, c).await?;
    }
    Ok(n)
}

/// Waits for a notification; never returns without a listener.
async fn notified(listener: &mut Option<PgListener>) {
    let Some(l) = listener else {
        return std::future::pending().await;
    };
    if let Err(e) = l.recv().await {
        tracing::warn!(error = %e, "audit-log export listener lost; polling until it is back");
        *listener = None;
    }
}

/// The worker loop: runs what can be claimed, then waits for a `NOTIFY`, the poll interval or
/// shutdown. An export in progress at shutdown is abandoned; its lease runs out and a replica
/// (this one after a restart) takes it over.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let poll = state.settings.audit_log_exports.poll_interval;
    let mut listener: Option<PgListener> = None;
    tracing::info!("audit-log export worker started");
    while !*shutdown.borrow() {
        if listener.is_none() {
            let connected = async {
                let mut l = PgListener::connect_with(&state.db).await?;
                l.listen(exports::CHANNEL).await?;
                Ok::<_, sqlx::Error>(l)
            };
            match connected.await {
                Ok(l) => listener = Some(l),
                Err(e) => tracing::warn!(error = %e, "audit-log export listener not connected"),
            }
        }
        tokio::select! {
            r = run_once(&state) => {
                if let Err(e) = r {
                    tracing::warn!(error = ?e, "running audit-log exports failed");
                }
            }
            _ = shutdown.changed() => break,
        }
        tokio::select! {
            () = notified(&mut listener) => {}
            () = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::info!("audit-log export worker stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_has_four_columns_per_target() {
        let h = header(2);
        assert_eq!(h.len(), 9 + 8);
        assert_eq!(h[8], "metadata");
        assert_eq!(h[9], "target_id_1");
        assert_eq!(h[16], "target_metadata_2");
        assert_eq!(header(0).len(), 9);
    }
}
