//! Validation (`POST /api_keys/validations`): the key or `null` for unknown, malformed and
//! other-environment values, the use recorded; API keys and environment keys never standing in
//! for each other.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{API_KEY_FIELDS, keys, org_key, validate};
use crate::support::TestApp;
use crate::um::org;

#[tokio::test]
async fn validation_answers_the_key_or_null_and_records_its_use() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let created = org_key(&app, &acme, "Production").await;
    let value = created["value"].as_str().unwrap();
    let res = validate(&app, value).await;
    let key = &res.body["api_key"];
    assert_eq!(keys(key), API_KEY_FIELDS.to_vec());
    assert_eq!(key["id"], created["id"]);
    assert_eq!(key["owner"], created["owner"]);
    assert_eq!(key["permissions"], created["permissions"]);
    assert!(key["last_used_at"].is_string(), "{}", res.text);
    let stored: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select last_used_at from product_api_keys where id = $1")
            .bind(created["id"].as_str().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(stored.is_some());
    // Served again (from the cache), the same key.
    assert_eq!(
        validate(&app, value).await.body["api_key"]["id"],
        created["id"]
    );

    for unknown in [
        "sk_unknown",
        &format!("{value}x"),
        &value[..value.len() - 1],
        "",
        "not-a-key",
        &"sk_".repeat(200),
    ] {
        let res = validate(&app, unknown).await;
        assert_eq!(res.body, json!({"api_key": null}), "{unknown}");
    }
    for (body, status) in [
        (json!({}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"value": 5}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"value": null}), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let res = app.post("/api_keys/validations", &body).await;
        assert_eq!(res.status, status, "{body}: {}", res.text);
    }
}

#[tokio::test]
async fn api_keys_and_environment_keys_never_stand_in_for_each_other() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let value = org_key(&app, &acme, "Production").await["value"]
        .as_str()
        .unwrap()
        .to_string();
    // An API key does not authenticate to Keystead's API.
    let res = app
        .send(Method::GET, "/organizations", Some(&value), None)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text);
    let res = app
        .send(
            Method::POST,
            "/api_keys/validations",
            Some(&value),
            Some(&json!({"value": value})),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text);
    // The environment's own key, and another environment's, are no API keys.
    let other = app.new_tenant("Other").await;
    for env_key in [app.tenant.api_key.clone(), other.api_key.clone()] {
        let res = validate(&app, &env_key).await;
        assert_eq!(res.body, json!({"api_key": null}));
    }
    // Another environment does not see this environment's API key.
    let res = app
        .send(
            Method::POST,
            "/api_keys/validations",
            Some(&other.api_key),
            Some(&json!({"value": value})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body, json!({"api_key": null}));
}
