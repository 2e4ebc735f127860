//! Cross-cutting behaviour: health, API-key auth, unknown routes, malformed bodies, request ids.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn health_is_public() {
    let app = TestApp::new().await;
    let res = app.send(Method::GET, "/health", None, None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["status"], "ok");
}

#[tokio::test]
async fn missing_unknown_and_revoked_keys_are_401_with_a_workos_body() {
    let app = TestApp::new().await;
    let none = app.send(Method::GET, "/organizations", None, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.body["message"].is_string());
    let unknown = app
        .send(Method::GET, "/organizations", Some("sk_test_nope"), None)
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let garbage = app
        .send(Method::GET, "/organizations", Some("garbage"), None)
        .await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);

    sqlx::query("update api_keys set revoked_at = now() where environment_id = $1")
        .bind(&app.tenant.environment_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let revoked = app.get("/organizations").await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn api_keys_are_stored_only_as_hashes() {
    let app = TestApp::new().await;
    let stored: Vec<String> = sqlx::query_scalar("select key_hash from api_keys")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(!stored.iter().any(|h| h.contains(&app.tenant.api_key)));
    assert!(app.tenant.api_key.starts_with("sk_test_"));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_json() {
    let app = TestApp::new().await;
    let res = app.get("/nope").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(res.body["message"].is_string());
    let res = app
        .send(
            Method::PATCH,
            "/organizations",
            Some(&app.tenant.api_key),
            Some(&json!({})),
        )
        .await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(res.body["message"].is_string());
}

#[tokio::test]
async fn malformed_and_oversize_bodies_are_workos_shaped() {
    let app = TestApp::new().await;
    let req = Request::builder()
        .method(Method::POST)
        .uri("/organizations")
        .header("authorization", format!("Bearer {}", app.tenant.api_key))
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let res = app.send_request(req).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body["message"].as_str().unwrap().contains("JSON"));

    let huge = json!({"name": "x".repeat(100 * 1024)});
    let res = app.post("/organizations", &huge).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res.body["message"].is_string());
}

#[tokio::test]
async fn request_ids_are_generated_or_echoed() {
    let app = TestApp::new().await;
    let res = app.get("/health").await;
    assert!(res.headers.get("x-request-id").is_some());
    let req = Request::builder()
        .uri("/health")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let res = app.send_request(req).await;
    assert_eq!(res.headers.get("x-request-id").unwrap(), "abc-123");
}
