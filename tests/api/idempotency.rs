//! `Idempotency-Key` through HTTP: replay, mismatch, in progress, 5xx not pinned, expiry,
//! per-environment scope.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};

async fn post_with_key(
    app: &TestApp,
    key_value: &str,
    path: &str,
    body: &Value,
    api_key: &str,
) -> TestResponse {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("authorization", format!("Bearer {api_key}"))
        .header("content-type", "application/json")
        .header("idempotency-key", key_value)
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    app.send_request(req).await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_retried_post_is_replayed_not_re_executed() {
    let app = TestApp::new().await;
    let body = json!({"name": "Acme"});
    let first = post_with_key(&app, "k-1", "/organizations", &body, &app.tenant.api_key).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let second = post_with_key(&app, "k-1", "/organizations", &body, &app.tenant.api_key).await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(second.body, first.body);
    assert_eq!(
        second.headers.get("content-type").unwrap(),
        "application/json"
    );
    assert_eq!(count(&app, "select count(*) from organizations").await, 1);
    assert_eq!(count(&app, "select count(*) from events").await, 1);

    // Client errors are stored and replayed too.
    let bad = post_with_key(
        &app,
        "k-2",
        "/organizations",
        &json!({}),
        &app.tenant.api_key,
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let again = post_with_key(
        &app,
        "k-2",
        "/organizations",
        &json!({}),
        &app.tenant.api_key,
    )
    .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
}

#[tokio::test]
async fn the_same_key_with_another_request_is_422_and_a_running_one_is_409() {
    let app = TestApp::new().await;
    post_with_key(
        &app,
        "k",
        "/organizations",
        &json!({"name": "A"}),
        &app.tenant.api_key,
    )
    .await;
    let other = post_with_key(
        &app,
        "k",
        "/organizations",
        &json!({"name": "B"}),
        &app.tenant.api_key,
    )
    .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.body["code"], "idempotency_key_mismatch");
    let other_path = post_with_key(
        &app,
        "k",
        "/user_management/users",
        &json!({"name": "A"}),
        &app.tenant.api_key,
    )
    .await;
    assert_eq!(other_path.body["code"], "idempotency_key_mismatch");

    // A first request still running (claimed, not completed) makes a replay wait: 409.
    sqlx::query("insert into idempotency_keys (environment_id, key, request_hash, state) values ($1, 'running', 'h', 'in_progress')")
        .bind(&app.tenant.environment_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let res = post_with_key(
        &app,
        "running",
        "/organizations",
        &json!({"name": "A"}),
        &app.tenant.api_key,
    )
    .await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "different hash → mismatch even while running"
    );
    let hash: String = {
        use sha2::{Digest, Sha256};
        let mut d = Sha256::new();
        d.update(b"POST\n/organizations\n");
        d.update(serde_json::to_vec(&json!({"name": "A"})).unwrap());
        hex::encode(d.finalize())
    };
    sqlx::query("update idempotency_keys set request_hash = $1 where key = 'running'")
        .bind(&hash)
        .execute(&app.pool)
        .await
        .unwrap();
    let res = post_with_key(
        &app,
        "running",
        "/organizations",
        &json!({"name": "A"}),
        &app.tenant.api_key,
    )
    .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.body["code"], "idempotency_request_in_progress");
}

#[tokio::test]
async fn a_server_error_does_not_pin_the_key() {
    let app = TestApp::new().await;
    // Break event writes so the mutation fails with a 500 (and rolls back).
    sqlx::query("alter table events rename to events_broken")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = post_with_key(
        &app,
        "retry-me",
        "/organizations",
        &json!({"name": "A"}),
        &app.tenant.api_key,
    )
    .await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.body["code"], "internal_error");
    assert_eq!(
        count(&app, "select count(*) from organizations").await,
        0,
        "no partial write"
    );
    sqlx::query("alter table events_broken rename to events")
        .execute(&app.pool)
        .await
        .unwrap();
    let retry = post_with_key(
        &app,
        "retry-me",
        "/organizations",
        &json!({"name": "A"}),
        &app.tenant.api_key,
    )
    .await;
    assert_eq!(retry.status, StatusCode::CREATED);
    assert!(retry.headers.get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn keys_expire_after_a_day_and_are_scoped_per_environment() {
    let app = TestApp::new().await;
    let body = json!({"name": "A"});
    post_with_key(&app, "daily", "/organizations", &body, &app.tenant.api_key).await;
    let other = app.new_tenant("Other").await;
    let theirs = post_with_key(&app, "daily", "/organizations", &body, &other.api_key).await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    assert!(
        theirs.headers.get("idempotent-replayed").is_none(),
        "keys are per environment"
    );

    sqlx::query("update idempotency_keys set created_at = now() - interval '25 hours'")
        .execute(&app.pool)
        .await
        .unwrap();
    let fresh = post_with_key(&app, "daily", "/organizations", &body, &app.tenant.api_key).await;
    assert_eq!(fresh.status, StatusCode::CREATED);
    assert!(
        fresh.headers.get("idempotent-replayed").is_none(),
        "an expired key runs again"
    );
    assert_eq!(
        keystead::store::idempotency::purge_expired(&app.pool)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn requests_without_a_key_or_reads_are_untouched() {
    let app = TestApp::new().await;
    app.post("/organizations", &json!({"name": "A"})).await;
    app.post("/organizations", &json!({"name": "A"})).await;
    assert_eq!(count(&app, "select count(*) from organizations").await, 2);
    assert_eq!(
        count(&app, "select count(*) from idempotency_keys").await,
        0
    );
    let too_long = post_with_key(
        &app,
        &"k".repeat(300),
        "/organizations",
        &json!({"name": "A"}),
        &app.tenant.api_key,
    )
    .await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST);
}

/// On the routes that claim their key inside the handler's transaction (`POST /organizations`,
/// `POST /audit_logs/events`), concurrent requests with one key run once: the others wait for
/// the first to commit and replay its answer instead of answering 409.
#[tokio::test]
async fn concurrent_requests_with_one_key_run_once_on_in_handler_routes() {
    let app = TestApp::new().await;
    let body = json!({"name": "Raced"});
    let sends =
        (0..8).map(|_| post_with_key(&app, "race", "/organizations", &body, &app.tenant.api_key));
    let answers = futures_util::future::join_all(sends).await;
    let mut replayed = 0;
    for res in &answers {
        assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
        assert_eq!(res.body["id"], answers[0].body["id"]);
        replayed += usize::from(res.headers.get("idempotent-replayed").is_some());
    }
    assert_eq!(replayed, 7);
    assert_eq!(count(&app, "select count(*) from organizations").await, 1);
    assert_eq!(count(&app, "select count(*) from events").await, 1);
}

/// A client error decided after the handler's claim (an unknown organization: the transaction
/// rolls back) is still stored and replayed, and a later success with another key is unaffected.
#[tokio::test]
async fn a_client_error_after_the_in_handler_claim_is_stored_and_replayed() {
    let app = TestApp::new().await;
    app.post(
        "/audit_logs/actions/user.signed_in/schemas",
        &json!({"targets": [{"type": "team"}]}),
    )
    .await;
    let event = |org: &str| {
        json!({"organization_id": org, "event": {"action": "user.signed_in",
            "occurred_at": "2026-12-01T10:00:00Z", "actor": {"id": "user_1", "type": "user"},
            "targets": [{"id": "team_1", "type": "team"}], "context": {"location": "203.0.113.7"}}})
    };
    let send = async |key: &str, body: &Value| {
        post_with_key(&app, key, "/audit_logs/events", body, &app.tenant.api_key).await
    };
    let missing = event("org_01JXXXXXXXXXXXXXXXXXXXXXXX");
    let first = send("audit-404", &missing).await;
    assert_eq!(first.status, StatusCode::NOT_FOUND);
    let again = send("audit-404", &missing).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.body, first.body);

    let org = app.post("/organizations", &json!({"name": "Acme"})).await;
    let ok = event(org.body["id"].as_str().unwrap());
    let stored = send("audit-ok", &ok).await;
    assert_eq!(stored.status, StatusCode::OK);
    assert_eq!(stored.body, json!({"success": true}));
    let replay = send("audit-ok", &ok).await;
    assert_eq!(replay.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(
        count(&app, "select count(*) from audit_log_events").await,
        1
    );
    let other = send("audit-ok", &missing).await;
    assert_eq!(other.body["code"], "idempotency_key_mismatch");
}

/// An in-handler route runs again on a replay and rolls back; when that run fails because of
/// what the first one created (an `external_id` already taken), the first answer is still what
/// the replay gets.
#[tokio::test]
async fn a_replay_that_conflicts_with_the_first_run_still_replays_its_answer() {
    let app = TestApp::new().await;
    let body = json!({"name": "Acme", "external_id": "acme-1"});
    let first = post_with_key(&app, "ext", "/organizations", &body, &app.tenant.api_key).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let plain = app.post("/organizations", &body).await;
    assert_eq!(
        plain.status,
        StatusCode::BAD_REQUEST,
        "without the key the external id is taken: {}",
        plain.text
    );
    let again = post_with_key(&app, "ext", "/organizations", &body, &app.tenant.api_key).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.body, first.body);
    assert_eq!(count(&app, "select count(*) from organizations").await, 1);
    assert_eq!(count(&app, "select count(*) from events").await, 1);
}
