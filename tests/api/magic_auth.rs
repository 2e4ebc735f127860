//! Magic Auth: `POST /user_management/magic_auth`, `GET …/{id}` and the
//! `urn:workos:oauth:grant-type:magic-auth:code` grant (the user of a new email created by the
//! send, verified on first use; single use, expiry, attempt limit, send limit, events, tenancy).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::TestApp;
use crate::um::{count, event_data, grant, user};

const GRANT: &str = "urn:workos:oauth:grant-type:magic-auth:code";

async fn send(app: &TestApp, email: &str) -> Value {
    let res = app
        .post("/user_management/magic_auth", &json!({"email": email}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body
}

async fn redeem(app: &TestApp, email: &str, code: &str) -> crate::support::TestResponse {
    grant(
        app,
        json!({"grant_type": GRANT, "email": email, "code": code, "ip_address": "203.0.113.9"}),
    )
    .await
}

#[tokio::test]
async fn a_first_magic_code_creates_the_user_it_names_and_signs_it_in() {
    let app = TestApp::new().await;
    let m = send(&app, "New@Example.com").await;
    assert_eq!(m["object"], "magic_auth");
    assert!(m["id"].as_str().unwrap().starts_with("magic_auth_"));
    assert_eq!(m["email"], "new@example.com");
    let code = m["code"].as_str().unwrap();
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    let created = chrono::DateTime::parse_from_rfc3339(m["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(m["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_minutes(), 10);
    let user_id = m["user_id"].as_str().unwrap();
    assert!(user_id.starts_with("user_"));
    let created_user = app.get(&format!("/user_management/users/{user_id}")).await;
    assert_eq!(
        created_user.status,
        StatusCode::OK,
        "the user_id the send returns resolves: {}",
        created_user.text
    );
    assert_eq!(created_user.body["email"], "new@example.com");
    assert_eq!(created_user.body["email_verified"], false);
    assert_eq!(
        app.event_names().await,
        ["user.created", "magic_auth.created"],
        "the user is created with the code, in its transaction"
    );
    assert_eq!(
        event_data(&app, "user.created").await[0],
        created_user.body,
        "user.created carries the user"
    );
    let got = app
        .get(&format!(
            "/user_management/magic_auth/{}",
            m["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(got.body, m, "reads return the code as the spec says");
    let event = &event_data(&app, "magic_auth.created").await[0];
    assert_eq!(event["id"], m["id"]);
    assert!(event.get("code").is_none(), "events never carry the code");
    let stored: String = sqlx::query_scalar("select code_hash from magic_auths")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!stored.contains(code), "codes are stored hashed");

    let ok = redeem(&app, "new@example.com", code).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["user"]["id"], user_id);
    assert_eq!(ok.body["user"]["email_verified"], true);
    assert_eq!(ok.body["authentication_method"], "MagicAuth");
    let sessions = app
        .get(&format!("/user_management/users/{user_id}/sessions"))
        .await;
    assert_eq!(sessions.body["data"][0]["auth_method"], "magic_code");
    let names = app.event_names().await;
    assert_eq!(
        names,
        [
            "user.created",
            "magic_auth.created",
            "user.updated",
            "session.created",
            "authentication.magic_auth_succeeded"
        ],
        "the sign-in verifies the email of the user the send created"
    );
    let verified = app.get(&format!("/user_management/users/{user_id}")).await;
    assert_eq!(verified.body["email_verified"], true);
    let attempt = &event_data(&app, "authentication.magic_auth_succeeded").await[0];
    assert_eq!(
        *attempt,
        json!({"type": "magic_auth", "status": "succeeded", "ip_address": "203.0.113.9",
               "user_agent": null, "user_id": user_id, "email": "new@example.com"})
    );

    let reused = redeem(&app, "new@example.com", code).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    assert_eq!(reused.body["code"], "one_time_code_previously_used");
    assert_eq!(count(&app, "authentication.magic_auth_failed").await, 1);
    assert_eq!(app.drain_emails().await, 1, "the emails this test queued");
}

#[tokio::test]
async fn codes_for_existing_users_name_them_and_verify_their_email() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com", false).await;
    assert_eq!(u["email_verified"], false);
    let m = send(&app, "ada@example.com").await;
    assert_eq!(m["user_id"], u["id"]);
    let ok = redeem(&app, "ADA@example.com", m["code"].as_str().unwrap()).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["user"]["id"], u["id"]);
    assert_eq!(ok.body["user"]["email_verified"], true);
    assert!(
        app.event_names()
            .await
            .contains(&"user.updated".to_string())
    );
    assert_eq!(app.drain_emails().await, 1, "the emails this test queued");
}

#[tokio::test]
async fn wrong_expired_and_exhausted_codes_fail_with_their_codes() {
    let app = TestApp::new().await;
    let m = send(&app, "ada@example.com").await;
    let code = m["code"].as_str().unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let res = redeem(&app, "ada@example.com", wrong).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["code"], "invalid_one_time_code");
    let failed = &event_data(&app, "authentication.magic_auth_failed").await[0];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["user_id"], m["user_id"], "the send created the user");
    assert_eq!(failed["error"]["code"], "invalid_one_time_code");
    assert_eq!(
        redeem(&app, "other@example.com", code).await.body["code"],
        "invalid_one_time_code",
        "a code works only for its email"
    );

    sqlx::query("update magic_auths set expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        redeem(&app, "ada@example.com", code).await.body["code"],
        "one_time_code_expired"
    );

    let m = send(&app, "bob@example.com").await;
    let code = m["code"].as_str().unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        redeem(&app, "bob@example.com", wrong).await;
    }
    assert_eq!(
        redeem(&app, "bob@example.com", code).await.body["code"],
        "one_time_code_too_many_attempts"
    );
    assert_eq!(
        redeem(&app, "bob@example.com", "12").await.body["code"],
        "invalid_one_time_code"
    );
    let sessions: i64 = sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    assert_eq!(app.drain_emails().await, 2, "the emails this test queued");
}

#[tokio::test]
async fn sends_are_limited_per_email_and_codes_are_tenant_scoped() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    for _ in 0..3 {
        send(&app, "ada@example.com").await;
    }
    let limited = app
        .post(
            "/user_management/magic_auth",
            &json!({"email": "ada@example.com"}),
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["code"], "daily_quota_exceeded");
    assert!(limited.headers.get("retry-after").is_some());
    // Another address is not affected; repeated sends name the same future user.
    let a = send(&app, "bob@example.com").await;
    let ids: Vec<String> = sqlx::query_scalar(
        "select distinct user_id from magic_auths where email = 'ada@example.com'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(ids.len(), 1);

    let res = app
        .send(
            Method::GET,
            &format!("/user_management/magic_auth/{}", a["id"].as_str().unwrap()),
            Some(&other.api_key),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let mut body = json!({"grant_type": GRANT, "email": "bob@example.com", "code": a["code"]});
    body["client_id"] = json!(other.client_id);
    body["client_secret"] = json!(other.api_key);
    let res = app
        .send(
            Method::POST,
            "/user_management/authenticate",
            None,
            Some(&body),
        )
        .await;
    assert_eq!(res.body["code"], "invalid_one_time_code");
    assert_eq!(
        app.post("/user_management/magic_auth", &json!({"email": "nope"}))
            .await
            .body["code"],
        "invalid_request_parameters"
    );
    assert_eq!(
        app.get("/user_management/magic_auth/magic_auth_nope")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.drain_emails().await, 4, "the emails this test queued");
}

#[tokio::test]
async fn a_magic_code_sent_with_an_invitation_accepts_it() {
    let app = TestApp::new().await;
    let o = crate::um::org(&app, "Acme").await;
    let i = app
        .post(
            "/user_management/invitations",
            &json!({"email": "new@example.com", "organization_id": o["id"]}),
        )
        .await
        .body;
    let bad = app
        .post(
            "/user_management/magic_auth",
            &json!({"email": "else@example.com", "invitation_token": i["token"]}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["error"], "invitation_invalid");
    let m = app
        .post(
            "/user_management/magic_auth",
            &json!({"email": "new@example.com", "invitation_token": i["token"]}),
        )
        .await
        .body;
    let ok = redeem(&app, "new@example.com", m["code"].as_str().unwrap()).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["organization_id"], o["id"]);
    assert_eq!(count(&app, "invitation.accepted").await, 1);
    assert_eq!(app.drain_emails().await, 2, "the emails this test queued");
}

#[tokio::test]
async fn concurrent_sends_for_a_new_email_create_one_user() {
    let app = TestApp::new().await;
    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let req = Request::post("/user_management/magic_auth")
            .header("authorization", format!("Bearer {}", app.tenant.api_key))
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"email": "grace@example.com"}).to_string(),
            ))
            .unwrap();
        sends.spawn(app.router.clone().oneshot(req));
    }
    let mut user_ids = Vec::new();
    while let Some(res) = sends.join_next().await {
        let res = res.unwrap().unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        user_ids.push(body["user_id"].as_str().unwrap().to_string());
    }
    user_ids.dedup();
    assert_eq!(user_ids.len(), 1, "{user_ids:?}");
    let found = app
        .get(&format!("/user_management/users/{}", user_ids[0]))
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    assert_eq!(count(&app, "user.created").await, 1);
    assert_eq!(app.drain_emails().await, 3, "the emails this test queued");
}

#[tokio::test]
async fn a_send_while_magic_auth_is_off_is_refused_and_creates_nothing() {
    let app = TestApp::new().await;
    let off = app
        .send(
            Method::PATCH,
            "/environment",
            Some(&app.tenant.api_key),
            Some(&json!({"settings": {"sign_in_methods": {"magic_auth": false}}})),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
    let res = app
        .post(
            "/user_management/magic_auth",
            &json!({"email": "off@example.com"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(res.body["error"], "authentication_method_not_allowed");
    assert!(res.body["error_description"].is_string());
    assert_eq!(count(&app, "user.created").await, 0);
    assert_eq!(count(&app, "magic_auth.created").await, 0);
    let users = app
        .get("/user_management/users?email=off%40example.com")
        .await;
    assert_eq!(users.body["data"], json!([]));

    // Turned back on, the same send works.
    app.send(
        Method::PATCH,
        "/environment",
        Some(&app.tenant.api_key),
        Some(&json!({"settings": {"sign_in_methods": {"magic_auth": true}}})),
    )
    .await;
    send(&app, "off@example.com").await;
    app.drain_emails().await;
}
