//! Vault key rotation in the background: after `POST /vault/v1/keys/rotate` retires an
//! environment's root key, this worker re-wraps the stored objects' data keys under the new one
//! in bounded batches ([`BATCH`] versions per transaction, `store::vault_keys::rewrap_batch`),
//! so no request waits on a rotation and every object stays readable throughout. Data keys held
//! by clients keep decrypting: retired root keys are kept.

use std::time::Duration;

use tokio::sync::watch;

use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::vault_keys;

/// Versions re-wrapped per transaction.
pub const BATCH: i64 = 100;
/// Pause between polls while there is nothing to re-wrap.
const IDLE: Duration = Duration::from_secs(10);

/// Runs one batch of at most `limit` versions; returns how many were re-wrapped.
pub async fn run_once(state: &AppState, limit: i64) -> ApiResult<usize> {
    let mut tx = state.db.begin().await?;
    let n = vault_keys::rewrap_batch(&mut tx, &state.vault, limit).await?;
    tx.commit().await?;
    Ok(n)
}

/// The worker loop: batches until none is left, then polls every [`IDLE`] until shutdown.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        let wait = match run_once(&state, BATCH).await {
            Ok(0) => IDLE,
            Ok(n) => {
                tracing::info!(
                    versions = n,
                    "Vault data keys re-wrapped under the active root key"
                );
                Duration::ZERO
            }
            Err(e) => {
                tracing::warn!(error = %e, "Vault re-wrap batch failed");
                IDLE
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
}
