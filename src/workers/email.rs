//! Email delivery worker: sends the rows [`crate::email::enqueue`] queued in `email_outbox`.
//!
//! Each claimed row is rendered ([`crate::email::render`]) and sent over SMTP (lettre, pooled
//! connections) outside any transaction. Accepted → the row is deleted. A transient failure
//! (4xx reply, connection refused, timeout) is retried with exponential backoff until
//! `max_attempts`; a permanent one (5xx reply) fails the row at once. Without
//! `KEYSTEAD_SMTP_URL`, rows are marked `skipped`. Final rows lose their payload at once and are
//! purged after `retention`. Recipients, codes and links are never logged.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, anyhow};
use chrono::Utc;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::app::AppState;
use crate::config::EmailArgs;
use crate::email::{Email, render};
use crate::store::email_outbox::{self as outbox, Claimed};

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
    fn lease(&self) -> Duration {
        self.timeout.saturating_mul(2) + Duration::from_secs(30)
    }
}

/// A configured SMTP transport and sender.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// The transport for the settings, or `None` when no SMTP URL is configured. Must run inside
    /// the tokio runtime (the connection pool spawns its janitor).
    pub fn new(s: &EmailSettings) -> anyhow::Result<Option<Self>> {
        let Some(url) = &s.smtp_url else {
            return Ok(None);
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .context("KEYSTEAD_SMTP_URL")?
            .timeout(Some(s.timeout))
            .pool_config(
                PoolConfig::new()
                    .max_size(u32::try_from(s.concurrency).unwrap_or(4))
                    .idle_timeout(Duration::from_secs(60)),
            )
            .build();
        let from = Mailbox::from_str(&s.from).context("KEYSTEAD_SMTP_FROM")?;
        Ok(Some(Self { transport, from }))
    }
}

/// What one send attempt led to.
enum Sent {
    Accepted,
    Transient(String),
    Permanent(String),
}

fn short(e: &impl std::fmt::Display) -> String {
    e.to_string().chars().take(500).collect()
}

async fn send(mailer: &Mailer, c: &Claimed) -> Sent {
    let email: Email = match serde_json::from_value(c.payload.clone()) {
        Ok(e) => e,
        Err(e) => return Sent::Permanent(format!("unreadable payload: {e}")),
    };
    let rendered = match render(&email, &c.environment_name) {
        Ok(r) => r,
        Err(e) => return Sent::Permanent(format!("rendering failed: {e}")),
    };
    let to = match Mailbox::from_str(&c.recipient) {
        Ok(to) => to,
        Err(e) => return Sent::Permanent(format!("bad recipient: {e}")),
    };
    let message = Message::builder()
        .from(mailer.from.clone())
        .to(to)
        .subject(rendered.subject)
        .multipart(MultiPart::alternative_plain_html(
            rendered.text,
            rendered.html,
        ));
    let message = match message {
        Ok(m) => m,
        Err(e) => return Sent::Permanent(format!("building the message failed: {e}")),
    };
    match mailer.transport.send(message).await {
        Ok(_) => Sent::Accepted,
        Err(e) if e.is_permanent() => Sent::Permanent(short(&e)),
        Err(e) => Sent::Transient(short(&e)),
    }
}

/// Sends (or skips) one claimed email and records the outcome.
async fn deliver(state: &AppState, mailer: Option<&Mailer>, c: Claimed) -> anyhow::Result<()> {
    let s = &state.settings.email;
    let attempt = u32::try_from(c.attempts).unwrap_or(u32::MAX);
    let Some(mailer) = mailer else {
        tracing::info!(outbox_id = c.id, environment_id = %c.environment_id, kind = %c.kind,
            "email not sent: no SMTP server configured (KEYSTEAD_SMTP_URL)");
        outbox::finish(&state.db, &c, "skipped", Some("SMTP is not configured")).await?;
        return Ok(());
    };
    match send(mailer, &c).await {
        Sent::Accepted => {
            tracing::info!(outbox_id = c.id, environment_id = %c.environment_id, kind = %c.kind,
                attempt, "email sent");
            metrics::counter!("keystead_emails_sent_total", "kind" => c.kind.clone()).increment(1);
            outbox::delete_sent(&state.db, &c).await?;
        }
        Sent::Transient(error) if attempt < s.max_attempts => {
            let retry = Utc::now() + s.backoff(attempt);
            tracing::warn!(outbox_id = c.id, environment_id = %c.environment_id, kind = %c.kind,
                attempt, error = %error, retry_at = %retry, "email not sent; will retry");
            outbox::retry_at(&state.db, &c, retry, &error).await?;
        }
        Sent::Transient(error) | Sent::Permanent(error) => {
            tracing::warn!(outbox_id = c.id, environment_id = %c.environment_id, kind = %c.kind,
                attempt, error = %error, "email failed for good");
            metrics::counter!("keystead_emails_failed_total", "kind" => c.kind.clone())
                .increment(1);
            outbox::finish(&state.db, &c, "failed", Some(&error)).await?;
        }
    }
    Ok(())
}

async fn drain(state: &AppState, mailer: Option<&Mailer>, limit: usize) -> anyhow::Result<usize> {
    let s = &state.settings.email;
    let batch = outbox::claim(&state.db, limit as i64, s.lease()).await?;
    let n = batch.len();
    let mut set = JoinSet::new();
    for c in batch {
        let (state, mailer) = (state.clone(), mailer.cloned());
        set.spawn(async move { deliver(&state, mailer.as_ref(), c).await });
    }
    while let Some(done) = set.join_next().await {
        done??;
    }
    Ok(n)
}

/// Sends every email due now until none is due; returns how many attempts were made. Tests use
/// it to drain the queue deterministically.
pub async fn run_once(state: &AppState) -> anyhow::Result<usize> {
    let mailer = Mailer::new(&state.settings.email)?;
    let mut total = 0;
    loop {
        let n = drain(state, mailer.as_ref(), 100).await?;
        if n == 0 {
            outbox::purge(&state.db, state.settings.email.retention).await?;
            return Ok(total);
        }
        total += n;
    }
}

/// The worker loop: sends due emails `concurrency` at a time and sleeps `poll_interval` when
/// idle, until `shutdown` becomes `true`. Purges old final rows about once an hour.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let s = state.settings.email.clone();
    let mailer = match Mailer::new(&s) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = ?e, "email worker not started");
            return;
        }
    };
    tracing::info!(smtp = mailer.is_some(), "email worker started");
    let mut last_purge = std::time::Instant::now();
    while !*shutdown.borrow() {
        match drain(&state, mailer.as_ref(), s.concurrency).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = ?e, "email delivery round failed"),
        }
        if last_purge.elapsed() > Duration::from_secs(3600) {
            last_purge = std::time::Instant::now();
            if let Err(e) = outbox::purge(&state.db, s.retention).await {
                tracing::warn!(error = ?e, "purging the email outbox failed");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(s.poll_interval) => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::info!("email worker stopped");
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
