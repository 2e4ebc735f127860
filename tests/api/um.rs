//! Shared steps of the User Management tests: users, organizations, grants, TOTP codes and
//! access-token claims.

use axum::http::StatusCode;
use base64::Engine;
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};

pub const PASSWORD: &str = "correct horse battery";

/// Creates a user (with the test password unless `password` is false).
pub async fn user(app: &TestApp, email: &str, password: bool) -> Value {
    let mut body = json!({"email": email, "first_name": "Ada"});
    if password {
        body["password"] = json!(PASSWORD);
    }
    let res = app.post("/user_management/users", &body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body
}

/// Creates an organization.
pub async fn org(app: &TestApp, name: &str) -> Value {
    let res = app.post("/organizations", &json!({"name": name})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body
}

/// Adds `user` to `org` with `role`.
pub async fn member(app: &TestApp, user: &Value, org: &Value, role: &str) -> Value {
    let res = app
        .post(
            "/user_management/organization_memberships",
            &json!({"user_id": user["id"], "organization_id": org["id"], "role_slug": role}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body
}

/// `POST /user_management/authenticate` with the tenant's client credentials merged in.
pub async fn grant(app: &TestApp, mut body: Value) -> TestResponse {
    body["client_id"] = json!(app.tenant.client_id);
    if body.get("client_secret").is_none() {
        body["client_secret"] = json!(app.tenant.api_key);
    }
    app.send(
        axum::http::Method::POST,
        "/user_management/authenticate",
        None,
        Some(&body),
    )
    .await
}

/// The password grant for `email` with the test password.
pub async fn password(app: &TestApp, email: &str) -> TestResponse {
    grant(
        app,
        json!({"grant_type": "password", "email": email, "password": PASSWORD, "ip_address": "198.51.100.7"}),
    )
    .await
}

/// Waits until the current 30-second TOTP step has at least 5 seconds left, so a test's codes
/// are not split across a step boundary.
pub async fn fresh_step() {
    let left = 30 - keystead::crypto::totp::now() % 30;
    if left < 5 {
        tokio::time::sleep(std::time::Duration::from_secs(left + 1)).await;
    }
}

/// The current TOTP code of a Base32 secret.
pub fn totp(secret: &str) -> String {
    let raw = keystead::crypto::totp::from_base32(secret).expect("base32 secret");
    keystead::crypto::totp::generate(&raw, keystead::crypto::totp::now()).expect("code")
}

/// The TOTP code of a Base32 secret `steps` steps away from now.
pub fn totp_at(secret: &str, steps: i64) -> String {
    let raw = keystead::crypto::totp::from_base32(secret).expect("base32 secret");
    let now = keystead::crypto::totp::now() as i64 + steps * 30;
    keystead::crypto::totp::generate(&raw, now as u64).expect("code")
}

/// The claims of a JWT (signature not checked; `authenticate.rs` checks signatures).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("JWT payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// The `data` of this environment's events named `name`, oldest first.
pub async fn event_data(app: &TestApp, name: &str) -> Vec<Value> {
    sqlx::query_scalar(
        "select data from events where environment_id = $1 and event = $2 order by id",
    )
    .bind(&app.tenant.environment_id)
    .bind(name)
    .fetch_all(&app.pool)
    .await
    .expect("events")
}

/// Counts this environment's events named `name`.
pub async fn count(app: &TestApp, name: &str) -> usize {
    event_data(app, name).await.len()
}
