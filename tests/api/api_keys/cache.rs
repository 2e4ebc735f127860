//! The validation cache across servers: a second server over the same database (its own state,
//! cache and change listener) keeps serving a validated key from memory, and stops within
//! moments (long before the cache's 60-second TTL) once the key is deleted or expired on the
//! first server, or deleted by a cascade (its organization deleted).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use keystead::crypto::vault::Vault;
use keystead::password::Hasher;
use keystead::state::AppState;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{org_key, validate};
use crate::support::TestApp;
use crate::um::org;

/// A second server: its own state (and so its own caches) over the app's database, with the
/// key-change listener running until the returned sender is dropped.
async fn replica(app: &TestApp) -> (Router, tokio::sync::watch::Sender<bool>) {
    let state = AppState::new(
        app.pool.clone(),
        Vault::new(&[7; 32]),
        app.state.settings.clone(),
        Arc::new(app.dns.clone()),
        Hasher::new(2),
    )
    .expect("state");
    let (stop, rx) = tokio::sync::watch::channel(false);
    keystead::http::auth::spawn_revocation_listener(state.clone(), rx);
    // Let the listener connect (it clears the caches when it does).
    tokio::time::sleep(Duration::from_millis(300)).await;
    (keystead::app::router(state), stop)
}

/// `POST /api_keys/validations` on `router`; the `api_key` of the answer.
async fn validate_on(router: &Router, api_key: &str, value: &str) -> Value {
    let req = Request::post("/api_keys/validations")
        .header("authorization", format!("Bearer {api_key}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({ "value": value }).to_string()))
        .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    body["api_key"].clone()
}

/// Polls the replica until the key no longer validates; panics after five seconds.
async fn until_invalid(router: &Router, api_key: &str, value: &str) {
    let started = Instant::now();
    while !validate_on(router, api_key, value).await.is_null() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the replica still validates the key"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_key_deleted_on_one_server_stops_validating_on_another() {
    let app = TestApp::new().await;
    let (replica, _stop) = replica(&app).await;
    let acme = org(&app, "Acme").await;
    let key = org_key(&app, &acme, "Production").await;
    let value = key["value"].as_str().unwrap();
    let api_key = app.tenant.api_key.clone();
    assert_eq!(
        validate_on(&replica, &api_key, value).await["id"],
        key["id"]
    );

    // Proof that the replica answers from its cache: with the row changed behind its back (no
    // trigger fires for `name`), it still answers the cached name.
    sqlx::query("update product_api_keys set name = 'renamed' where id = $1")
        .bind(key["id"].as_str().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        validate_on(&replica, &api_key, value).await["name"],
        "Production"
    );

    let res = app
        .delete(&format!("/api_keys/{}", key["id"].as_str().unwrap()))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    until_invalid(&replica, &api_key, value).await;
}

#[tokio::test]
async fn an_expired_key_and_a_cascade_reach_the_other_server() {
    let app = TestApp::new().await;
    let (replica, _stop) = replica(&app).await;
    let api_key = app.tenant.api_key.clone();
    let acme = org(&app, "Acme").await;
    let expiring = org_key(&app, &acme, "Expiring").await;
    let globex = org(&app, "Globex").await;
    let cascaded = org_key(&app, &globex, "Cascaded").await;
    for k in [&expiring, &cascaded] {
        let value = k["value"].as_str().unwrap();
        assert_eq!(validate_on(&replica, &api_key, value).await["id"], k["id"]);
    }

    let res = app
        .post(
            &format!("/api_keys/{}/expire", expiring["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    until_invalid(&replica, &api_key, expiring["value"].as_str().unwrap()).await;

    let res = app
        .delete(&format!(
            "/organizations/{}",
            globex["id"].as_str().unwrap()
        ))
        .await;
    assert!(res.status.is_success(), "{}", res.text);
    until_invalid(&replica, &api_key, cascaded["value"].as_str().unwrap()).await;
    // The first server agrees.
    let res = validate(&app, cascaded["value"].as_str().unwrap()).await;
    assert_eq!(res.body, json!({"api_key": null}));
}
