//! Audit-log export settings (`KEYSTEAD_AUDIT_LOG_EXPORT_*`), read by
//! [`crate::settings::Settings`], the export worker (`workers::audit_log_exports`) and the
//! export routes (`api::audit_logs::exports`).

use std::time::Duration;

use crate::config::AuditLogExportArgs;

/// Export settings (`KEYSTEAD_AUDIT_LOG_EXPORT_*`).
#[derive(Debug, Clone)]
pub struct AuditLogExportSettings {
    /// Run the export worker in this process (exports still queue when off).
    pub worker_enabled: bool,
    /// How often an idle worker looks for pending exports (a `NOTIFY` wakes it sooner).
    pub poll_interval: Duration,
    /// How long a claim lasts without progress; each written chunk renews it. An export whose
    /// worker died is taken over once its lease has run out.
    pub lease: Duration,
    /// Claims of one export before it ends in `error`.
    pub max_attempts: u32,
    /// Delay before a failed attempt is retried.
    pub retry_delay: Duration,
    /// Size of one stored chunk of the CSV file, in bytes.
    pub chunk_bytes: usize,
    /// Lifetime of a download URL (WorkOS: 10 minutes).
    pub url_ttl: Duration,
}

impl Default for AuditLogExportSettings {
    fn default() -> Self {
        Self {
            worker_enabled: true,
            poll_interval: Duration::from_secs(5),
            lease: Duration::from_secs(60),
            max_attempts: 3,
            retry_delay: Duration::from_secs(10),
            chunk_bytes: 1024 * 1024,
            url_ttl: Duration::from_secs(600),
        }
    }
}

impl AuditLogExportSettings {
    /// Settings from the `serve` options.
    pub fn from_args(a: &AuditLogExportArgs) -> Self {
        Self {
            worker_enabled: !a.audit_log_export_worker_disabled,
            poll_interval: Duration::from_millis(a.audit_log_export_poll_interval_ms.max(10)),
            lease: Duration::from_secs(a.audit_log_export_lease_secs.max(1)),
            max_attempts: a.audit_log_export_max_attempts.max(1),
            ..Self::default()
        }
    }
}
