//! Email delivery settings (`KEYSTEAD_SMTP_*`, `KEYSTEAD_EMAIL_*`), read by
//! [`crate::settings::Settings`] and the email worker.

use std::str::FromStr;
use std::time::Duration;

use anyhow::anyhow;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, Tokio1Executor};

use crate::config::EmailArgs;

/// Delivery settings (`KEYSTEAD_SMTP_*`, `KEYSTEAD_EMAIL_*`).
#[derive(Clone)]
pub struct EmailSettings {
    /// `smtp://`, `smtps://` or `smtp://…?tls=required` URL; `None` disables sending.
    pub smtp_url: Option<String>,
    /// The `From:` mailbox, e.g. `Acme <no-reply@acme.com>`.
    pub from: String,
    /// Timeout of one SMTP exchange.
    pub timeout: Duration,
    /// Attempts before a row is marked failed.
    pub max_attempts: u32,
    /// First retry delay; doubled for each further retry.
    pub retry_base: Duration,
    /// Idle poll interval.
    pub poll_interval: Duration,
    /// Emails sent at once per replica.
    pub concurrency: usize,
    /// Run the worker in this process.
    pub worker_enabled: bool,
    /// How long `failed`/`skipped` rows (without payload) are kept.
    pub retention: Duration,
}

/// The SMTP URL may carry a password: it is never printed.
impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSettings")
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<set>"))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("retry_base", &self.retry_base)
            .field("poll_interval", &self.poll_interval)
            .field("concurrency", &self.concurrency)
            .field("worker_enabled", &self.worker_enabled)
            .finish_non_exhaustive()
    }
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "Keystead <no-reply@localhost>".into(),
            timeout: Duration::from_secs(10),
            max_attempts: 8,
            retry_base: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            concurrency: 4,
            worker_enabled: true,
            retention: Duration::from_secs(7 * 86_400),
        }
    }
}

impl EmailSettings {
    /// Settings from the `serve` options; errors on a malformed SMTP URL or `From` address.
    pub fn from_args(a: &EmailArgs) -> anyhow::Result<Self> {
        let s = Self {
            smtp_url: a.smtp_url.clone().filter(|u| !u.trim().is_empty()),
            from: a.smtp_from.clone(),
            timeout: Duration::from_millis(a.smtp_timeout_ms.max(1)),
            max_attempts: a.email_max_attempts.max(1),
            retry_base: Duration::from_millis(a.email_retry_base_ms),
            poll_interval: Duration::from_millis(a.email_poll_interval_ms.max(10)),
            concurrency: a.email_concurrency.max(1),
            worker_enabled: !a.email_worker_disabled,
            ..Self::default()
        };
        Mailbox::from_str(&s.from)
            .map_err(|e| anyhow!("KEYSTEAD_SMTP_FROM is not a mailbox ({e})"))?;
        if let Some(url) = &s.smtp_url {
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map_err(|e| anyhow!("KEYSTEAD_SMTP_URL is not usable: {e}"))?;
        }
        Ok(s)
    }

    /// Whether emails are actually sent.
    pub fn enabled(&self) -> bool {
        self.smtp_url.is_some()
    }

    /// The delay after failed attempt `attempt` (1-based): `retry_base · 2^(attempt-1)`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.retry_base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
    }

    /// How long a claim is leased: the SMTP timeout (connect + exchange) plus a margin.
    pub fn lease(&self) -> Duration {
        self.timeout.saturating_mul(2) + Duration::from_secs(30)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_debug_hides_the_smtp_password() {
        let s = EmailSettings {
            smtp_url: Some("smtps://user:hunter2@mail.test".into()),
            ..Default::default()
        };
        assert_eq!(s.backoff(1), Duration::from_secs(30));
        assert_eq!(s.backoff(3), Duration::from_secs(120));
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(s.enabled() && !EmailSettings::default().enabled());
    }

    #[test]
    fn malformed_settings_are_refused_at_start() {
        use clap::Parser;
        #[derive(Parser)]
        struct Args {
            #[command(flatten)]
            email: EmailArgs,
        }
        let parse = |args: &[&str]| {
            let mut all = vec!["keystead"];
            all.extend_from_slice(args);
            EmailSettings::from_args(&Args::parse_from(all).email)
        };
        assert!(parse(&[]).is_ok_and(|s| !s.enabled()));
        assert!(parse(&["--smtp-url", "smtps://u:p@mail.test"]).is_ok_and(|s| s.enabled()));
        assert!(parse(&["--smtp-url", "ftp://mail.test"]).is_err());
        assert!(parse(&["--smtp-from", "not a mailbox"]).is_err());
    }
}
