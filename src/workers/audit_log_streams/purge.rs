//! The audit-log retention purge: deletes each organization's events older than its retention
//! (30 or 365 days, `PUT /organizations/{id}/audit_logs_retention`; 365 until set), by
//! `occurred_at`.
//!
//! A pass lists the organizations that have events older than 30 days, then deletes each one's
//! expired events `purge_batch` rows per statement (each its own short transaction, rows found
//! through the organization/time index and taken with `skip locked`), yielding between
//! statements, so ingestion and exports never wait behind it and replicas may purge at once.
//! [`run`] repeats a pass every `purge_interval`; [`purge_once`] is one pass (tests call it).

use tokio::sync::watch;

use crate::state::AppState;
use crate::store::audit_log_purge;

/// One purge pass over every organization; returns how many events were deleted.
pub async fn purge_once(state: &AppState) -> anyhow::Result<u64> {
    let batch = state.settings.audit_log_streams.purge_batch.max(1);
    let mut total = 0;
    for org in audit_log_purge::candidates(&state.db).await? {
        loop {
            let deleted = audit_log_purge::purge_organization(&state.db, &org, batch).await?;
            total += deleted;
            if deleted < batch.unsigned_abs() {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    Ok(total)
}

/// Runs a pass at start and then every `purge_interval`, until `shutdown` becomes `true`.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let interval = state.settings.audit_log_streams.purge_interval;
    tracing::info!(
        interval_secs = interval.as_secs(),
        "audit-log retention purge started"
    );
    while !*shutdown.borrow() {
        match purge_once(&state).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "audit-log retention purge pass"),
            Err(e) => tracing::warn!(error = ?e, "audit-log retention purge pass failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::info!("audit-log retention purge stopped");
}
