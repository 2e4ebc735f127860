//! The background queues of a test: draining them with the workers' own `run_once`, and the
//! check that a test leaves none of their jobs behind (crates.io's queue-drained check).
//!
//! A [`TestApp`] dropped while a webhook delivery or an email is still `pending`, or while an
//! audit-log stream that is not `invalid` still has queued events, fails the test, naming the
//! jobs: a test drains what it causes ([`TestApp::drain_webhooks`],
//! [`TestApp::drain_emails`]) and asserts on it, or declares with
//! [`TestApp::allow_pending_jobs`] that it means to end with jobs queued. Jobs that a running
//! worker (the real binary's, or an enabled in-process one) is still sending get [`SETTLE`] to
//! finish first; the test's own runtime is blocked meanwhile, so a test whose worker sends to a
//! server on that runtime waits with [`TestApp::wait_for_jobs`] before it ends. The check is skipped while the thread is already panicking (a
//! failed assertion stays the reported failure).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

use super::TestApp;

impl TestApp {
    /// Sends every queued email that is due (the email worker's `run_once`); returns how many
    /// attempts were made.
    pub async fn drain_emails(&self) -> usize {
        keystead::workers::email::run_once(&self.state)
            .await
            .expect("email run_once")
    }

    /// Sends every webhook delivery that is due (the webhook worker's `run_once`); returns how
    /// many attempts were made. Deliveries whose retry is not due yet stay queued.
    pub async fn drain_webhooks(&self) -> usize {
        keystead::workers::webhooks::run_once(&self.state)
            .await
            .expect("webhook run_once")
    }

    /// Waits (up to 10 s) until no webhook delivery or email is pending, for tests whose jobs a
    /// running worker sends (the real binary's, or an enabled in-process one) while this test's
    /// runtime serves the other end (an SMTP sink, a webhook receiver), which the check on drop
    /// cannot let run; panics naming the jobs still pending after that.
    pub async fn wait_for_jobs(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let jobs = pending_jobs(self.db_options.clone())
                .await
                .expect("read the queues");
            if jobs.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "jobs still pending after 10 s:\n  {}",
                jobs.join("\n  ")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Declares that this test means to end with webhook deliveries or emails still queued
    /// (retries not due yet, a worker that is stopped on purpose), so dropping the app does not
    /// fail it.
    pub fn allow_pending_jobs(&self) {
        self.pending_jobs_allowed.store(true, Ordering::Relaxed);
    }
}

/// How long a dropped app waits for pending jobs to be finished by a running worker.
const SETTLE: Duration = Duration::from_secs(3);

/// The `pending` webhook deliveries and emails of the database, one line each; when there are
/// some, asks again until none are left or [`SETTLE`] has passed.
async fn pending_jobs_after_settling(
    options: PgConnectOptions,
) -> Result<Vec<String>, sqlx::Error> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let jobs = pending_jobs(options.clone()).await?;
        if jobs.is_empty() || Instant::now() >= deadline {
            return Ok(jobs);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `pending` webhook deliveries and emails of the database, and the events queued for an
/// audit-log stream that is not `invalid` (one line per stream), one line each.
async fn pending_jobs(options: PgConnectOptions) -> Result<Vec<String>, sqlx::Error> {
    let mut conn = options.connect().await?;
    let webhooks: Vec<(i64, String, String, i32)> = sqlx::query_as(
        "select d.id, e.event, d.endpoint_id, d.attempts
         from webhook_deliveries d join events e on e.id = d.event_id
         where d.status = 'pending' order by d.id",
    )
    .fetch_all(&mut conn)
    .await?;
    let emails: Vec<(i64, String, String, i32, Option<String>)> = sqlx::query_as(
        "select id, kind, recipient, attempts, last_error from email_outbox
         where status = 'pending' order by id",
    )
    .fetch_all(&mut conn)
    .await?;
    let streams: Vec<(String, String, String, i64)> = sqlx::query_as(
        "select s.id, s.type, s.state, count(*) from audit_log_stream_queue q
         join audit_log_streams s on s.environment_id = q.environment_id and s.id = q.stream_id
         where s.state <> 'invalid' group by s.id, s.type, s.state order by s.id",
    )
    .fetch_all(&mut conn)
    .await?;
    let mut jobs: Vec<String> = webhooks
        .into_iter()
        .map(|(id, event, endpoint, attempts)| {
            format!("webhook delivery {id}: {event} to {endpoint} ({attempts} attempts)")
        })
        .collect();
    jobs.extend(emails.into_iter().map(|(id, kind, to, attempts, error)| {
        let error = error
            .map(|e| format!(", last error: {e}"))
            .unwrap_or_default();
        format!("email {id}: {kind} to {to} ({attempts} attempts{error})")
    }));
    jobs.extend(streams.into_iter().map(|(id, kind, state, n)| {
        format!("audit-log stream {id} ({kind}, {state}): {n} queued event(s)")
    }));
    Ok(jobs)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() || self.pending_jobs_allowed.load(Ordering::Relaxed) {
            return;
        }
        // Drop may run inside the test's runtime, which cannot be blocked on: ask on a thread
        // with a runtime and a connection of its own.
        let options = self.db_options.clone();
        let found = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(pending_jobs_after_settling(options))
        })
        .join()
        .expect("queue check thread");
        match found {
            Ok(jobs) if jobs.is_empty() => {}
            Ok(jobs) => panic!(
                "the test ended with {} queued job(s) it did not expect:\n  {}\nDrain them \
                 (app.drain_webhooks() / app.drain_emails() / \
                 workers::audit_log_streams::run_once) and assert on them, or call \
                 app.allow_pending_jobs() if the test means to leave them queued.",
                jobs.len(),
                jobs.join("\n  ")
            ),
            Err(e) => panic!("could not check the test's queues for pending jobs: {e}"),
        }
    }
}
