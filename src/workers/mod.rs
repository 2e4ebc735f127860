//! Background workers that run beside the HTTP server in every replica: the webhook delivery
//! worker ([`webhooks`]), the email delivery worker ([`email`]), the audit-log export worker
//! ([`audit_log_exports`]), and the audit-log stream worker and retention purge
//! ([`audit_log_streams`]), and the re-wrapping of Vault data keys after a root-key rotation
//! ([`vault_rewrap`]). Each stops when the shutdown signal flips to `true`.

pub mod audit_log_exports;
pub mod audit_log_streams;
pub mod email;
pub mod vault_rewrap;
pub mod webhooks;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::AppState;

/// Starts the workers the settings enable; `shutdown` set to `true` stops them (in-flight
/// deliveries get up to one delivery timeout to finish).
pub fn spawn(state: AppState, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let mut handles = Vec::new();
    if state.settings.webhooks.worker_enabled {
        handles.push(tokio::spawn(webhooks::run(state.clone(), shutdown.clone())));
    }
    if state.settings.audit_log_exports.worker_enabled {
        handles.push(tokio::spawn(audit_log_exports::run(
            state.clone(),
            shutdown.clone(),
        )));
    }
    if state.settings.audit_log_streams.worker_enabled {
        handles.push(tokio::spawn(audit_log_streams::run(
            state.clone(),
            shutdown.clone(),
        )));
    }
    if state.settings.audit_log_streams.purge_enabled {
        handles.push(tokio::spawn(audit_log_streams::purge::run(
            state.clone(),
            shutdown.clone(),
        )));
    }
    handles.push(tokio::spawn(vault_rewrap::run(
        state.clone(),
        shutdown.clone(),
    )));
    if state.settings.email.worker_enabled {
        handles.push(tokio::spawn(email::run(state, shutdown)));
    }
    handles
}
