//! Email delivery: `email::enqueue` in the caller's transaction, the worker sending over SMTP to
//! a local sink, retries with backoff, permanent failures, no SMTP configured, payload wiping.

use std::time::Duration;

use keystead::email::Email;
use keystead::store::email_outbox;
use serde_json::Value;

use crate::smtp_sink::SmtpSink;
use crate::support::TestApp;

async fn app_with_smtp(sink: &SmtpSink) -> TestApp {
    let url = sink.url();
    TestApp::with(move |s| {
        s.email.smtp_url = Some(url);
        s.email.from = "Acme Login <login@acme.test>".into();
    })
    .await
}

async fn queue(app: &TestApp, to: &str, e: &Email) {
    let mut tx = app.pool.begin().await.unwrap();
    email_outbox::enqueue(&mut tx, &app.tenant.environment_id, to, e)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// (status, attempts, payload is null, last_error) of every outbox row, oldest first.
async fn rows(app: &TestApp) -> Vec<(String, i32, bool, Option<String>)> {
    sqlx::query_as(
        "select status, attempts, payload is null, last_error from email_outbox
         where environment_id = $1 order by id",
    )
    .bind(&app.tenant.environment_id)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_committed_email_is_sent_after_commit_and_a_rolled_back_one_never() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    let env = app.tenant.environment_id.clone();

    let mut tx = app.pool.begin().await.unwrap();
    email_outbox::enqueue(
        &mut tx,
        &env,
        "ghost@acme.test",
        &Email::MagicAuth {
            code: "000000".into(),
        },
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();

    let mut tx = app.pool.begin().await.unwrap();
    email_outbox::enqueue(
        &mut tx,
        &env,
        "ada@acme.test",
        &Email::MagicAuth {
            code: "424242".into(),
        },
    )
    .await
    .unwrap();
    // Nothing is sent while the transaction is open.
    assert_eq!(app.drain_emails().await, 0);
    tx.commit().await.unwrap();

    assert_eq!(app.drain_emails().await, 1);
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "the rolled-back email was not sent");
    let m = &messages[0];
    assert_eq!(m.to, ["ada@acme.test"]);
    assert_eq!(m.from, "login@acme.test");
    assert_eq!(
        m.header("subject").as_deref(),
        Some("Your sign-in code for Test")
    );
    assert!(m.header("from").unwrap().contains("Acme Login"));
    assert_eq!(m.code(), "424242");
    let html = m.part("text/html").expect("html part");
    assert!(html.contains("424242") && html.contains("<html"), "{html}");
    assert!(rows(&app).await.is_empty(), "sent rows are deleted");
}

#[tokio::test]
async fn every_kind_of_email_renders_and_reaches_the_sink() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    let all = [
        (
            "a@acme.test",
            Email::EmailVerification {
                code: "111111".into(),
            },
        ),
        (
            "b@acme.test",
            Email::PasswordReset {
                url: "https://id.acme.test/reset?token=abc&x=1".into(),
            },
        ),
        (
            "c@acme.test",
            Email::Invitation {
                url: "https://app.acme.test/invite/xyz".into(),
                organization_name: Some("Acme <Corp>".into()),
                inviter_email: Some("boss@acme.test".into()),
            },
        ),
        (
            "d@acme.test",
            Email::EmailChange {
                code: "222222".into(),
                new_email: "d2@acme.test".into(),
            },
        ),
    ];
    for (to, e) in &all {
        queue(&app, to, e).await;
    }
    assert_eq!(app.drain_emails().await, 4);
    assert_eq!(
        sink.wait_for("a@acme.test", Duration::from_secs(1))
            .await
            .code(),
        "111111"
    );
    let reset = sink.wait_for("b@acme.test", Duration::from_secs(1)).await;
    assert!(
        reset
            .text()
            .contains("https://id.acme.test/reset?token=abc&x=1")
    );
    assert!(
        reset
            .part("text/html")
            .unwrap()
            .contains("https://id.acme.test/reset?token=abc&amp;x=1")
            || reset
                .part("text/html")
                .unwrap()
                .contains("https://id.acme.test/reset?token=abc&#38;x=1")
    );
    let invite = sink.wait_for("c@acme.test", Duration::from_secs(1)).await;
    assert!(invite.text().contains("boss@acme.test"));
    assert!(
        invite
            .part("text/html")
            .unwrap()
            .contains("Acme &#60;Corp&#62;")
    );
    let change = sink.wait_for("d@acme.test", Duration::from_secs(1)).await;
    assert_eq!(change.code(), "222222");
    assert!(change.text().contains("d2@acme.test"));
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    // A retry base well above one delivery round, so a slow round under load cannot make the
    // retried row due again before `drain_emails` returns.
    let app = TestApp::with(move |s| {
        s.email.smtp_url = Some(url);
        s.email.retry_base = Duration::from_millis(400);
    })
    .await;
    sink.fail_next(1);
    queue(
        &app,
        "retry@acme.test",
        &Email::MagicAuth {
            code: "135790".into(),
        },
    )
    .await;
    assert_eq!(app.drain_emails().await, 1);
    let r = rows(&app).await;
    assert_eq!(r.len(), 1);
    let (status, attempts, wiped, error) = &r[0];
    assert_eq!((status.as_str(), *attempts, *wiped), ("pending", 1, false));
    assert!(
        error.as_deref().unwrap_or_default().contains("451"),
        "{error:?}"
    );
    assert!(sink.messages().is_empty());
    // Not due yet: the first retry waits retry_base (400 ms here).
    assert_eq!(app.drain_emails().await, 0);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(app.drain_emails().await, 1);
    assert_eq!(
        sink.wait_for("retry@acme.test", Duration::from_secs(1))
            .await
            .code(),
        "135790"
    );
    assert!(rows(&app).await.is_empty());
}

#[tokio::test]
async fn an_unreachable_server_is_retried_until_attempts_run_out() {
    let port = crate::binary::free_port();
    let app = TestApp::with(move |s| {
        s.email.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        s.email.max_attempts = 2;
        s.email.retry_base = Duration::from_millis(400);
    })
    .await;
    queue(
        &app,
        "nobody@acme.test",
        &Email::MagicAuth {
            code: "246810".into(),
        },
    )
    .await;
    assert_eq!(app.drain_emails().await, 1);
    assert_eq!(rows(&app).await[0].0, "pending");
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(app.drain_emails().await, 1);
    let (status, attempts, wiped, error) = rows(&app).await.remove(0);
    assert_eq!((status.as_str(), attempts, wiped), ("failed", 2, true));
    assert!(error.is_some());
}

#[tokio::test]
async fn a_permanent_rejection_fails_at_once_and_wipes_the_payload() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    queue(
        &app,
        "bounce@acme.test",
        &Email::MagicAuth {
            code: "975310".into(),
        },
    )
    .await;
    assert_eq!(app.drain_emails().await, 1);
    let (status, attempts, wiped, error) = rows(&app).await.remove(0);
    assert_eq!((status.as_str(), attempts, wiped), ("failed", 1, true));
    assert!(error.unwrap().contains("550"));
}

#[tokio::test]
async fn without_smtp_emails_are_skipped_and_their_secrets_dropped() {
    let app = TestApp::with(|s| s.email.retention = Duration::from_millis(300)).await;
    assert!(!app.state.settings.email.enabled());
    queue(
        &app,
        "quiet@acme.test",
        &Email::PasswordReset {
            url: "https://id.acme.test/reset?token=secret".into(),
        },
    )
    .await;
    let payload: Value = sqlx::query_scalar("select payload from email_outbox")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(payload["type"], "password_reset");
    assert_eq!(app.drain_emails().await, 1);
    let (status, _, wiped, _) = rows(&app).await.remove(0);
    assert_eq!((status.as_str(), wiped), ("skipped", true));
    // Final rows are purged after the retention period.
    tokio::time::sleep(Duration::from_millis(350)).await;
    app.drain_emails().await;
    assert!(rows(&app).await.is_empty());
}

#[tokio::test]
async fn a_malformed_recipient_is_refused_at_enqueue() {
    let app = TestApp::new().await;
    let mut tx = app.pool.begin().await.unwrap();
    let err = email_outbox::enqueue(
        &mut tx,
        &app.tenant.environment_id,
        "not an address",
        &Email::MagicAuth { code: "1".into() },
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
    assert_eq!(err.body()["code"], "invalid_email");
}

#[tokio::test]
async fn emails_of_one_environment_are_deleted_with_it() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    let mut tx = app.pool.begin().await.unwrap();
    email_outbox::enqueue(
        &mut tx,
        &other.environment_id,
        "x@other.test",
        &Email::MagicAuth {
            code: "123123".into(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(rows(&app).await.is_empty(), "rows are per environment");
    sqlx::query("delete from environments where id = $1")
        .bind(&other.environment_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("select count(*) from email_outbox")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}
