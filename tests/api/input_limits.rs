//! Lengths and addresses (issue 10 §2): an over-long name answers 422 naming the field and
//! writes nothing, a name at the limit is kept, an address with an invisible character is
//! refused on user create and on magic auth, and an oversized body answers 413.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;

/// `validate::NAME_MAX`.
const NAME_MAX: usize = 256;

async fn count(app: &TestApp, table: &str) -> i64 {
    let sql = match table {
        "organizations" => "select count(*) from organizations where environment_id = $1",
        "users" => "select count(*) from users where environment_id = $1",
        other => panic!("no count for {other}"),
    };
    sqlx::query_scalar(sql)
        .bind(&app.tenant.environment_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

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
    assert_eq!(count(&app, "organizations").await, 0);
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
    assert_eq!(count(&app, "users").await, 0);
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
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert_eq!(res.body["code"], "invalid_email");
    let res = app
        .post("/user_management/magic_auth", &json!({"email": sneaky}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert_eq!(res.body["code"], "invalid_email");
    assert_eq!(count(&app, "users").await, 0);
    assert!(app.event_names().await.is_empty());
    assert_eq!(app.drain_emails().await, 0);
}

#[tokio::test]
async fn an_oversized_body_is_a_workos_shaped_413() {
    let app = TestApp::new().await;
    let res = app
        .post("/organizations", &json!({"name": "x".repeat(1024 * 1024)}))
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res.body["message"].is_string(), "{}", res.body);
    assert_eq!(count(&app, "organizations").await, 0);
}
