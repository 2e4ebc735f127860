//! Audit-log stream delivery and retention purge settings (`KEYSTEAD_AUDIT_LOG_STREAM_*`,
//! `KEYSTEAD_AUDIT_LOG_PURGE_*`), read by [`crate::settings::Settings`] and the workers in
//! `workers::audit_log_streams`.

use std::time::Duration;

use crate::config::AuditLogStreamArgs;

/// Stream delivery and purge settings.
#[derive(Debug, Clone)]
pub struct AuditLogStreamSettings {
    /// Most events per batch.
    pub batch_size: usize,
    /// First retry delay; doubled for each further consecutive failure.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Timeout of one request to a sink.
    pub timeout: Duration,
    /// Idle poll interval.
    pub poll_interval: Duration,
    /// Streams sent to at once per replica.
    pub concurrency: usize,
    /// Run the delivery worker in this process.
    pub worker_enabled: bool,
    /// Interval between two retention purge passes.
    pub purge_interval: Duration,
    /// Events deleted per purge statement.
    pub purge_batch: i64,
    /// Run the retention purge in this process.
    pub purge_enabled: bool,
}

impl Default for AuditLogStreamSettings {
    fn default() -> Self {
        Self {
            batch_size: 500,
            retry_base: Duration::from_secs(10),
            max_backoff: Duration::from_secs(3600),
            timeout: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            concurrency: 8,
            worker_enabled: true,
            purge_interval: Duration::from_secs(3600),
            purge_batch: 1000,
            purge_enabled: true,
        }
    }
}

impl AuditLogStreamSettings {
    /// Settings from the `serve` options.
    pub fn from_args(a: &AuditLogStreamArgs) -> Self {
        Self {
            batch_size: a.audit_log_stream_batch_size.clamp(1, 1000),
            retry_base: Duration::from_millis(a.audit_log_stream_retry_base_ms),
            max_backoff: Duration::from_millis(a.audit_log_stream_max_backoff_ms),
            timeout: Duration::from_millis(a.audit_log_stream_timeout_ms.max(1)),
            poll_interval: Duration::from_millis(a.audit_log_stream_poll_interval_ms.max(10)),
            concurrency: a.audit_log_stream_concurrency.max(1),
            worker_enabled: !a.audit_log_stream_worker_disabled,
            purge_interval: Duration::from_secs(a.audit_log_purge_interval_secs.max(1)),
            purge_batch: a.audit_log_purge_batch.clamp(1, 100_000),
            purge_enabled: !a.audit_log_purge_disabled,
        }
    }

    /// The delay after `failures` consecutive failed batches (1-based):
    /// `retry_base · 2^(failures-1)`, at most `max_backoff`.
    pub fn backoff(&self, failures: u32) -> Duration {
        self.retry_base
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
            .min(self.max_backoff)
    }

    /// How long a stream is leased while one batch is in flight: two request timeouts (an S3
    /// object may take a multipart upload) plus a margin.
    pub fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(30)
    }
}
