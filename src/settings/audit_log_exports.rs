//! Audit-log export settings (`KEYSTEAD_AUDIT_LOG_EXPORT_*`), read by
//! [`crate::settings::Settings`], the export worker (`workers::audit_log_exports`) and the
//! export routes (`api::audit_logs::exports`). Export files are stored in Postgres unless a
//! bucket is configured (`KEYSTEAD_AUDIT_LOG_EXPORT_S3_*`), then in that S3-compatible bucket.

use std::time::Duration;

use anyhow::bail;

use crate::config::AuditLogExportArgs;
use crate::storage::S3Config;

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
    /// The bucket export files are written to; `None`: Postgres (`audit_log_export_chunks`).
    pub s3: Option<S3Config>,
    /// Prefix of the export objects' keys in the bucket (`<prefix><environment>/<export>/<attempt>.csv`).
    pub s3_prefix: String,
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
            s3: None,
            s3_prefix: "audit-log-exports/".into(),
        }
    }
}

impl AuditLogExportSettings {
    /// Settings from the `serve` options; errors on a bucket without credentials.
    pub fn from_args(a: &AuditLogExportArgs) -> anyhow::Result<Self> {
        let s3 = match a.audit_log_export_s3_bucket.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(bucket) => {
                let (Some(key_id), Some(secret)) = (
                    a.audit_log_export_s3_access_key_id.clone(),
                    a.audit_log_export_s3_secret_access_key.clone(),
                ) else {
                    bail!(
                        "KEYSTEAD_AUDIT_LOG_EXPORT_S3_BUCKET needs …_S3_ACCESS_KEY_ID and \
                         …_S3_SECRET_ACCESS_KEY"
                    );
                };
                let endpoint = a
                    .audit_log_export_s3_endpoint
                    .clone()
                    .filter(|e| !e.trim().is_empty());
                Some(S3Config {
                    path_style: a
                        .audit_log_export_s3_path_style
                        .unwrap_or(endpoint.is_some()),
                    endpoint,
                    region: a.audit_log_export_s3_region.clone(),
                    bucket: bucket.to_string(),
                    access_key_id: key_id,
                    secret_access_key: secret,
                })
            }
        };
        Ok(Self {
            worker_enabled: !a.audit_log_export_worker_disabled,
            poll_interval: Duration::from_millis(a.audit_log_export_poll_interval_ms.max(10)),
            lease: Duration::from_secs(a.audit_log_export_lease_secs.max(1)),
            max_attempts: a.audit_log_export_max_attempts.max(1),
            s3,
            s3_prefix: a.audit_log_export_s3_prefix.clone(),
            ..Self::default()
        })
    }
}
