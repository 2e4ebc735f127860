//! Email delivery worker: sends the rows [`crate::store::email_outbox::enqueue`] queued in `email_outbox`.
//!
//! Each claimed row is rendered ([`crate::email::render`]) and sent over SMTP (lettre, pooled
//! connections) outside any transaction. Accepted → the row is deleted. A transient failure
//! (4xx reply, connection refused, timeout) is retried with exponential backoff until
//! `max_attempts`; a permanent one (5xx reply) fails the row at once. Without
//! `KEYSTEAD_SMTP_URL`, rows are marked `skipped`. Final rows lose their payload at once and are
//! purged after `retention`. Recipients, codes and links are never logged.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::email::{Email, render};
use crate::settings::email::EmailSettings;
use crate::state::AppState;
use crate::store::email_outbox::{self as outbox, Claimed};

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
