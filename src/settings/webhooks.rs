//! Webhook delivery settings (`KEYSTEAD_WEBHOOK_*`), read by [`crate::settings::Settings`] and
//! the delivery worker.

use std::time::Duration;

use crate::config::WebhookArgs;

/// Delivery settings (`KEYSTEAD_WEBHOOK_*`).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Attempts before a delivery is marked failed.
    pub max_attempts: u32,
    /// First retry delay; doubled for each further retry.
    pub retry_base: Duration,
    /// Timeout of one POST.
    pub timeout: Duration,
    /// Idle poll interval.
    pub poll_interval: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// `KEYSTEAD_WEBHOOK_ALLOW_HTTP` when given: the default of every environment's
    /// `allow_http_webhook_endpoints` setting; when `None`, staging environments accept `http://`
    /// endpoints and production ones do not (see `store::environment_settings`).
    pub allow_http: Option<bool>,
    /// Run the worker in this process.
    pub worker_enabled: bool,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            max_attempts: 12,
            retry_base: Duration::from_secs(120),
            timeout: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            concurrency: 16,
            allow_http: None,
            worker_enabled: true,
        }
    }
}

impl WebhookSettings {
    /// Settings from the `serve` options.
    pub fn from_args(a: &WebhookArgs) -> Self {
        Self {
            max_attempts: a.webhook_max_attempts.max(1),
            retry_base: Duration::from_millis(a.webhook_retry_base_ms),
            timeout: Duration::from_millis(a.webhook_timeout_ms.max(1)),
            poll_interval: Duration::from_millis(a.webhook_poll_interval_ms.max(10)),
            concurrency: a.webhook_concurrency.max(1),
            allow_http: a.webhook_allow_http,
            worker_enabled: !a.webhook_worker_disabled,
        }
    }

    /// The delay after failed attempt `attempt` (1-based): `retry_base · 2^(attempt-1)`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.retry_base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
    }

    /// How long a claim is leased: the POST timeout plus a margin.
    pub fn lease(&self) -> Duration {
        self.timeout + Duration::from_secs(30)
    }
}
