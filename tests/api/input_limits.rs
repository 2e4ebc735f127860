//! Lengths and addresses (issue 10 §2): an over-long name answers 422 naming the field and
//! writes nothing, a name at the limit is kept, an address with an invisible character is
//! refused on user create and on magic auth, and an oversized body answers 413. A bad address
//! answers with the status and code the spec gives each operation, and the per-address send
//! limit answers the spec's `daily_quota_exceeded`.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;

/// `validate::NAME_MAX`.
const NAME_MAX: usize = 256;

fn assert_too_long(body: &Value, field: &str) {
    assert_eq!(body["code"], "invalid_request_parameters", "{body}");
    assert_eq!(
        body["errors"][0],
        json!({"code": "too_long", "field": field}),
        "{body}"
    );
}

#[tokio::test]
async fn an_over_long_organization_name_is_refused_and_writes_nothing() {
    let app = TestApp::new().await;
    let long = "n".repeat(NAME_MAX + 1);
    let res = app.post("/organizations", &json!({"name": long})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_too_long(&res.body, "name");
    let res = app
        .post(
            "/organizations",
            &json!({"name": "x", "stripe_customer_id": "c".repeat(256)}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_too_long(&res.body, "stripe_customer_id");
    assert_eq!(app.count_rows("organizations").await, 0);
    assert!(app.event_names().await.is_empty());

    // At the limit (counted in characters, not bytes) it is kept.
    let at_limit = "é".repeat(NAME_MAX);
    let created = app.post("/organizations", &json!({"name": at_limit})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["name"], at_limit);
    let id = created.body["id"].as_str().unwrap().to_string();
    let events = app.event_names().await;

    // An update past the limit changes nothing.
    let res = app
        .put(&format!("/organizations/{id}"), &json!({"name": long}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_too_long(&res.body, "name");
    assert_eq!(
        app.get(&format!("/organizations/{id}")).await.body["name"],
        at_limit
    );
    assert_eq!(app.event_names().await, events);
}

#[tokio::test]
async fn over_long_user_names_are_refused_and_write_nothing() {
    let app = TestApp::new().await;
    let long = "n".repeat(NAME_MAX + 1);
    for field in ["first_name", "last_name"] {
        let res = app
            .post(
                "/user_management/users",
                &json!({"email": "ada@example.com", field: long}),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_too_long(&res.body, field);
    }
    let res = app
        .post(
            "/user_management/users",
            &json!({"email": "ada@example.com", "locale": "l".repeat(65)}),
        )
        .await;
    assert_too_long(&res.body, "locale");
    assert_eq!(app.count_rows("users").await, 0);
    assert!(app.event_names().await.is_empty());

    let at_limit = "n".repeat(NAME_MAX);
    let created = app
        .post(
            "/user_management/users",
            &json!({"email": "ada@example.com", "first_name": at_limit, "last_name": at_limit}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["first_name"], at_limit);
    let id = created.body["id"].as_str().unwrap().to_string();
    let events = app.event_names().await;

    let res = app
        .put(
            &format!("/user_management/users/{id}"),
            &json!({"last_name": long}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_too_long(&res.body, "last_name");
    assert_eq!(
        app.get(&format!("/user_management/users/{id}")).await.body["last_name"],
        at_limit
    );
    assert_eq!(app.event_names().await, events);
}

#[tokio::test]
async fn an_address_with_an_invisible_character_is_refused() {
    let app = TestApp::new().await;
    let sneaky = "ad\u{200b}a@example.com";
    let res = app
        .post("/user_management/users", &json!({"email": sneaky}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_bad_email(&res.body);
    let res = app
        .post("/user_management/magic_auth", &json!({"email": sneaky}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_bad_email(&res.body);
    assert_eq!(app.count_rows("users").await, 0);
    assert!(app.event_names().await.is_empty());
    assert_eq!(app.drain_emails().await, 0);
}

fn assert_bad_email(body: &Value) {
    assert_eq!(body["code"], "invalid_request_parameters", "{body}");
    assert_eq!(
        body["errors"],
        json!([{"code": "invalid_email", "field": "email"}]),
        "{body}"
    );
}

/// The operations whose spec answers a bad address with 422 `invalid_request_parameters`
/// (`POST /user_management/users`, `/invitations`, `/password_reset`; `/magic_auth` documents
/// a 422 and no `invalid_email` among its 400s) name the field and write nothing.
#[tokio::test]
async fn a_bad_address_is_the_specs_422_on_create_and_send_routes_and_writes_nothing() {
    let app = TestApp::new().await;
    for route in [
        "/user_management/users",
        "/user_management/invitations",
        "/user_management/magic_auth",
        "/user_management/password_reset",
    ] {
        for bad in ["not-an-email", "ada@example", "ad a@example.com"] {
            let res = app.post(route, &json!({"email": bad})).await;
            assert_eq!(
                res.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{route} {bad}: {}",
                res.text
            );
            assert_bad_email(&res.body);
        }
    }
    for table in ["users", "invitations", "magic_auths", "password_resets"] {
        assert_eq!(app.count_rows(table).await, 0, "{table}");
    }
    assert!(app.event_names().await.is_empty());
    assert_eq!(app.drain_emails().await, 0);
}

/// `PUT /user_management/users/{id}` keeps 400 `invalid_email`: the spec lists it among the
/// operation's 400s.
#[tokio::test]
async fn a_bad_address_on_user_update_stays_the_specs_400_invalid_email() {
    let app = TestApp::new().await;
    let created = app
        .post(
            "/user_management/users",
            &json!({"email": "ada@example.com"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_string();
    let events = app.event_names().await;
    let res = app
        .put(
            &format!("/user_management/users/{id}"),
            &json!({"email": "not-an-email"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(res.body["code"], "invalid_email");
    assert_eq!(
        app.get(&format!("/user_management/users/{id}")).await.body["email"],
        "ada@example.com"
    );
    assert_eq!(app.event_names().await, events);
}

/// The per-address send limit answers 429 `daily_quota_exceeded` (the code the spec names for
/// the 429 of Magic Auth, password reset, email verification and email change sends) with
/// `Retry-After`, and the refused send writes nothing.
#[tokio::test]
async fn the_send_limit_is_the_specs_daily_quota_exceeded() {
    let app = TestApp::new().await;
    let mut ids = Vec::new();
    for email in ["bob@example.com", "cy@example.com", "dee@example.com"] {
        let created = app
            .post("/user_management/users", &json!({"email": email}))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        ids.push(created.body["id"].as_str().unwrap().to_string());
    }
    let verify = format!("/user_management/users/{}/email_verification/send", ids[1]);
    let change = format!("/user_management/users/{}/email_change/send", ids[2]);
    // The sends class is keyed by address: one address per route.
    let cases = [
        (
            "/user_management/magic_auth",
            json!({"email": "ada@example.com"}),
            "magic_auths",
        ),
        (
            "/user_management/password_reset",
            json!({"email": "bob@example.com"}),
            "password_resets",
        ),
        (verify.as_str(), json!({}), "email_verifications"),
        (
            change.as_str(),
            json!({"new_email": "new@example.com"}),
            "users",
        ),
    ];
    for (route, body, table) in cases {
        for _ in 0..3 {
            let res = app.post(route, &body).await;
            assert!(res.status.is_success(), "{route}: {}", res.text);
        }
        let rows = app.count_rows(table).await;
        let events = app.event_names().await;
        let res = app.post(route, &body).await;
        assert_eq!(
            res.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{route}: {}",
            res.text
        );
        assert_eq!(
            res.body,
            json!({"code": "daily_quota_exceeded", "message": "Too many requests."}),
            "{route}"
        );
        assert!(res.headers.get("retry-after").is_some(), "{route}");
        assert_eq!(app.count_rows(table).await, rows, "{route}");
        assert_eq!(app.event_names().await, events, "{route}");
    }
    app.drain_emails().await;
}

#[tokio::test]
async fn an_oversized_body_is_a_workos_shaped_413() {
    let app = TestApp::new().await;
    let res = app
        .post("/organizations", &json!({"name": "x".repeat(1024 * 1024)}))
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res.body["message"].is_string(), "{}", res.body);
    assert_eq!(app.count_rows("organizations").await, 0);
}
