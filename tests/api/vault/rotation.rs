//! Root-key rotation: `POST /vault/v1/keys/rotate` makes a new root key active at once; objects
//! and client-held data keys stay readable before, during and after the background re-wrap
//! (`workers::vault_rewrap::run_once`), which moves the stored data keys to the new root key in
//! bounded batches and leaves values untouched.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keystead::workers::vault_rewrap;
use serde_json::json;

use super::{create, data_key};
use crate::support::TestApp;

/// The root key id an encrypted key blob names (`"KSV1"`, kind, length, id).
fn root_of(blob: &[u8]) -> String {
    let len = usize::from(blob[5]);
    String::from_utf8(blob[6..6 + len].to_vec()).unwrap()
}

async fn stored_roots(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("select root_key_id from vault_object_versions order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn rotating_the_root_key_rewraps_in_bounded_batches_and_keeps_everything_readable() {
    let app = TestApp::new().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let meta = create(
            &app,
            &format!("s{i}"),
            &format!("value {i}"),
            json!({"n": i.to_string()}),
        )
        .await;
        ids.push(meta["id"].as_str().unwrap().to_string());
    }
    let held = data_key(&app, json!({"organization_id": "org_A"})).await;
    let old_root = root_of(
        &STANDARD
            .decode(held["encrypted_keys"].as_str().unwrap())
            .unwrap(),
    );
    assert!(old_root.starts_with("vault_root_key_"));
    assert!(stored_roots(&app).await.iter().all(|r| *r == old_root));
    // Nothing to do before a rotation.
    assert_eq!(vault_rewrap::run_once(&app.state, 2).await.unwrap(), 0);

    let res = app.post("/vault/v1/keys/rotate", &json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body, json!({"rotated": true, "pending_rewraps": 5}));
    // New data keys use the new root key at once; old ones still decrypt.
    let fresh = data_key(&app, json!({"organization_id": "org_A"})).await;
    let new_root = root_of(
        &STANDARD
            .decode(fresh["encrypted_keys"].as_str().unwrap())
            .unwrap(),
    );
    assert_ne!(new_root, old_root);
    let res = app
        .post(
            "/vault/v1/keys/decrypt",
            &json!({"keys": held["encrypted_keys"]}),
        )
        .await;
    assert_eq!(res.body["data_key"], held["data_key"], "{}", res.text);

    // Batches of 2: 2, 2, 1, then nothing; reads work between batches.
    let mut batches = Vec::new();
    loop {
        let n = vault_rewrap::run_once(&app.state, 2).await.unwrap();
        for (i, id) in ids.iter().enumerate() {
            let res = app.get(&format!("/vault/v1/kv/{id}")).await;
            assert_eq!(res.body["value"], format!("value {i}"), "{}", res.text);
        }
        if n == 0 {
            break;
        }
        batches.push(n);
    }
    assert_eq!(batches, [2, 2, 1]);
    assert!(stored_roots(&app).await.iter().all(|r| *r == new_root));
    let res = app.post("/vault/v1/keys/rotate", &json!({})).await;
    assert_eq!(res.body["pending_rewraps"], 5);
    // Updates after a rotation use the newest key; client-held keys of every generation decrypt.
    let res = app
        .put(
            &format!("/vault/v1/kv/{}", ids[0]),
            &json!({"value": "after"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        app.get(&format!("/vault/v1/kv/{}", ids[0])).await.body["value"],
        "after"
    );
    for pair in [&held, &fresh] {
        let res = app
            .post(
                "/vault/v1/keys/decrypt",
                &json!({"keys": pair["encrypted_keys"]}),
            )
            .await;
        assert_eq!(res.body["data_key"], pair["data_key"], "{}", res.text);
    }
    // Another environment's rotation is its own.
    let other = app.new_tenant("Other").await;
    let res = app
        .send(
            axum::http::Method::POST,
            "/vault/v1/keys/rotate",
            Some(&other.api_key),
            Some(&json!({})),
        )
        .await;
    assert_eq!(res.body, json!({"rotated": true, "pending_rewraps": 0}));
    while vault_rewrap::run_once(&app.state, 100).await.unwrap() > 0 {}
    let roots: Vec<String> =
        sqlx::query_scalar("select distinct root_key_id from vault_object_versions")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(roots.len(), 1, "all on the third root key");
}
