//! Audit-log stream delivery: each organization's events, in batches, to its sink
//! (`GenericHttps`, `Datadog`, `Splunk`, `S3`: formats in [`sinks`]), and the retention purge
//! ([`purge`]).
//!
//! **Design.** Ingestion does no stream work of its own: the `audit_log_events` insert fires a
//! trigger (`migrations/1202_audit_log_streams.sql`) that adds one narrow row to
//! `audit_log_stream_queue` in the same transaction, and only when the organization has a
//! stream; for every other organization it is one primary-key probe of `audit_log_streams`. The
//! request never waits on a sink. A queue (rather than a cursor over `audit_log_events`) makes
//! the hand-off exact: a queue row commits or rolls back with its event, so events whose
//! transactions commit out of order (ids and timestamps are taken before commit) can never be
//! skipped, and no visibility horizon is needed.
//!
//! **Delivery.** A worker leases a whole stream (`store::audit_log_streams::claim`: `for update
//! skip locked`, then `next_attempt_at` pushed past the lease and committed), reads its oldest
//! queued events (up to `batch_size`), sends them as one batch outside any transaction, and then
//! deletes exactly the queue rows it sent. One worker at a time sends a given stream, so batches
//! keep queue order, and several replicas share the streams. A crash between the send and the
//! delete leaves the rows queued and the stream due again when the lease runs out: delivery is
//! at least once (every event carries a stable `id` for de-duplication). States: `active` after
//! a success (`last_synced_at` = now); `error` after a passing failure (5xx, 429, timeout,
//! refused connection), retried after `retry_base · 2^(failures-1)` capped at `max_backoff`,
//! forever; `invalid` when the sink refuses the credentials (401/403, S3 access denied) or the
//! configuration is unusable, not retried until the stream is reconfigured
//! (`POST /organizations/{id}/audit_log_stream` again). Events keep queuing meanwhile.
//! Plain-`http://` sinks are sent to only while the environment's `allow_http_webhook_endpoints`
//! setting is on.

pub mod purge;
pub mod sinks;

use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::settings::AuditLogStreamSettings;
use crate::state::AppState;
use crate::store::audit_log_streams::{self as streams, Claimed};
use crate::store::environment_settings;
use sinks::{Failure, Sink, StreamEvent};

/// The HTTP client of the HTTP sinks: timeouts, no redirects, no cookies.
pub fn client(s: &AuditLogStreamSettings) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(s.timeout)
        .connect_timeout(s.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "Keystead-AuditLogStreams/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .context("building the audit-log stream HTTP client")
}

/// Whether the stream's URL may be used now: not `http://`, or `http://` while the
/// environment's `allow_http_webhook_endpoints` setting is on.
async fn scheme_allowed(state: &AppState, stream: &Claimed) -> anyhow::Result<bool> {
    let http = sinks::target_url(stream)
        .is_some_and(|u| u.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("http:")));
    if !http {
        return Ok(true);
    }
    let mut conn = state.db.acquire().await?;
    Ok(
        environment_settings::get(&mut conn, &stream.environment_id, &state.settings)
            .await?
            .allow_http_webhook_endpoints,
    )
}

/// Sends one batch of a leased stream and records the outcome; returns how many events were
/// sent (0 when the batch failed or held only purged events).
pub async fn deliver(
    state: &AppState,
    http: &reqwest::Client,
    stream: Claimed,
) -> anyhow::Result<usize> {
    let s = &state.settings.audit_log_streams;
    let limit = i64::try_from(s.batch_size).unwrap_or(500);
    let queued = streams::batch(&state.db, &stream, limit).await?;
    let ids: Vec<i64> = queued.iter().map(|q| q.queue_id).collect();
    let events: Vec<StreamEvent<'_>> = queued
        .iter()
        .filter_map(|q| StreamEvent::of(&stream, q))
        .collect();
    if events.is_empty() {
        streams::delivered(&state.db, &stream, &ids, false).await?;
        return Ok(0);
    }
    let outcome = if scheme_allowed(state, &stream).await? {
        let secret = String::from_utf8(state.vault.open(&stream.secret_enc)?)?;
        let sink = Sink {
            http,
            stream: &stream,
            secret: &secret,
        };
        sink.send(&events).await
    } else {
        Err(Failure::Invalid(
            "http:// URLs are not allowed in this environment (allow_http_webhook_endpoints)"
                .into(),
        ))
    };
    let sent = events.len();
    match outcome {
        Ok(()) => {
            streams::delivered(&state.db, &stream, &ids, true).await?;
            tracing::info!(stream_id = %stream.id, kind = %stream.kind, events = sent,
                "audit-log stream batch delivered");
            Ok(sent)
        }
        Err(Failure::Retry(reason)) => {
            let failures = u32::try_from(stream.failures)
                .unwrap_or(0)
                .saturating_add(1);
            let retry_at = Utc::now() + s.backoff(failures);
            tracing::warn!(stream_id = %stream.id, kind = %stream.kind, failures, %reason,
                "audit-log stream batch failed; retrying");
            streams::failed(&state.db, &stream, "error", &reason, retry_at).await?;
            Ok(0)
        }
        Err(Failure::Invalid(reason)) => {
            tracing::warn!(stream_id = %stream.id, kind = %stream.kind, %reason,
                "audit-log stream refused by its sink; marked invalid");
            streams::failed(&state.db, &stream, "invalid", &reason, Utc::now()).await?;
            Ok(0)
        }
    }
}

/// Sends every due batch, streams concurrently, until no stream is due (at most 1000 rounds);
/// returns how many events reached their sinks. Tests use it to drain the queues
/// deterministically.
pub async fn run_once(state: &AppState) -> anyhow::Result<usize> {
    let s = &state.settings.audit_log_streams;
    let http = client(s)?;
    let mut total = 0;
    for _ in 0..1000 {
        let claimed = streams::claim(&state.db, 100, s.lease()).await?;
        if claimed.is_empty() {
            break;
        }
        let mut set = JoinSet::new();
        for stream in claimed {
            let (state, http) = (state.clone(), http.clone());
            set.spawn(async move { deliver(&state, &http, stream).await });
        }
        while let Some(done) = set.join_next().await {
            total += done??;
        }
    }
    Ok(total)
}

/// The worker loop: leases due streams while it has free slots, sends each batch in its own
/// task, and sleeps `poll_interval` when idle, until `shutdown` becomes `true`.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let s = state.settings.audit_log_streams.clone();
    let http = match client(&s) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = ?e, "audit-log stream worker not started");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(s.concurrency));
    tracing::info!(
        concurrency = s.concurrency,
        "audit-log stream worker started"
    );
    while !*shutdown.borrow() {
        let free = slots.available_permits();
        let claimed = if free > 0 {
            streams::claim(&state.db, free as i64, s.lease()).await
        } else {
            Ok(Vec::new())
        };
        match claimed {
            Ok(batch) if !batch.is_empty() => {
                for stream in batch {
                    let Ok(permit) = slots.clone().acquire_owned().await else {
                        return;
                    };
                    let (state, http) = (state.clone(), http.clone());
                    tokio::spawn(async move {
                        if let Err(e) = deliver(&state, &http, stream).await {
                            tracing::warn!(error = ?e, "audit-log stream batch not recorded");
                        }
                        drop(permit);
                    });
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = ?e, "claiming audit-log streams failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(s.poll_interval) => {}
            _ = shutdown.changed() => {}
        }
    }
    let all = u32::try_from(s.concurrency).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(s.timeout, slots.acquire_many(all)).await;
    tracing::info!("audit-log stream worker stopped");
}
