//! The harness's queue-drained check (`support/jobs.rs`): an app dropped with a queued email or
//! webhook delivery fails the test and names the jobs, unless the test drained them or allowed
//! them.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

/// An app with one queued email (Magic Auth) and one queued webhook delivery
/// (`organization.created` to an endpoint nobody listens on); returns the endpoint's id too.
async fn app_with_queued_jobs() -> (TestApp, String) {
    let app = TestApp::new().await;
    let res = app
        .post(
            "/webhook_endpoints",
            &json!({"endpoint_url": "http://127.0.0.1:9/hook", "events": ["organization.created"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let endpoint = res.body["id"].as_str().expect("endpoint id").to_string();
    let res = app
        .post("/organizations", &json!({"name": "Left Behind"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let res = app
        .post(
            "/user_management/magic_auth",
            &json!({"email": "left@example.com"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    (app, endpoint)
}

#[tokio::test]
async fn dropping_an_app_with_queued_jobs_fails_and_names_them() {
    let (app, _) = app_with_queued_jobs().await;
    let dropped = tokio::task::spawn_blocking(move || drop(app)).await;
    let panic = dropped.expect_err("the drop check fails").into_panic();
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("2 queued job(s)")
            && message.contains("organization.created to we_")
            && message.contains("email")
            && message.contains("magic_auth to left@example.com"),
        "{message}"
    );
}

#[tokio::test]
async fn allowed_or_drained_jobs_pass_the_check() {
    let (app, _) = app_with_queued_jobs().await;
    app.allow_pending_jobs();
    drop(app);

    let (app, endpoint) = app_with_queued_jobs().await;
    assert_eq!(app.drain_emails().await, 1);
    // The endpoint refuses the connection: the delivery is attempted, then waits for a retry
    // until the endpoint (and with it the delivery) is deleted.
    assert_eq!(app.drain_webhooks().await, 1);
    let res = app.delete(&format!("/webhook_endpoints/{endpoint}")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
    drop(app);
}
