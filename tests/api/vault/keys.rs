//! The data-key API through HTTP: create, decrypt and rekey; a key wrapped for one context
//! never unwraps as another (a relabelled or tampered blob is a 400); malformed contexts and
//! blobs are WorkOS-shaped 422s that write nothing.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{data_key, forge, keys_of};
use crate::support::TestApp;
use crate::um::{count, event_data};

#[tokio::test]
async fn a_data_key_decrypts_to_itself_and_rekeys_to_a_new_context() {
    let app = TestApp::new().await;
    let pair = data_key(&app, json!({"organization_id": "org_A", "region": "eu"})).await;
    assert_eq!(
        keys_of(&pair),
        ["context", "data_key", "encrypted_keys", "id"]
    );
    assert_eq!(
        pair["context"],
        json!({"organization_id": "org_A", "region": "eu"})
    );
    assert_eq!(
        STANDARD
            .decode(pair["data_key"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    assert_eq!(pair["id"].as_str().unwrap().len(), 36, "a UUID");

    let res = app
        .post(
            "/vault/v1/keys/decrypt",
            &json!({"keys": pair["encrypted_keys"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(keys_of(&res.body), ["data_key", "id"]);
    assert_eq!(res.body["data_key"], pair["data_key"]);
    assert_eq!(res.body["id"], pair["id"]);

    // Two data keys for the same context differ.
    let other = data_key(&app, json!({"region": "eu", "organization_id": "org_A"})).await;
    assert_ne!(other["data_key"], pair["data_key"]);
    assert_ne!(other["id"], pair["id"]);

    let res = app
        .post(
            "/vault/v1/keys/rekey",
            &json!({"context": {"organization_id": "org_B"}, "encrypted_keys": pair["encrypted_keys"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let rekeyed = res.body;
    assert_eq!(rekeyed["context"], json!({"organization_id": "org_B"}));
    assert_eq!(rekeyed["data_key"], pair["data_key"]);
    assert_eq!(rekeyed["id"], pair["id"]);
    assert_ne!(rekeyed["encrypted_keys"], pair["encrypted_keys"]);
    let res = app
        .post(
            "/vault/v1/keys/decrypt",
            &json!({"keys": rekeyed["encrypted_keys"]}),
        )
        .await;
    assert_eq!(res.body["data_key"], pair["data_key"], "{}", res.text);

    assert_eq!(count(&app, "vault.dek.read").await, 3);
    assert_eq!(count(&app, "vault.dek.decrypted").await, 3);
    let read = &event_data(&app, "vault.dek.read").await[0];
    assert_eq!(read["actor_source"], "api");
    assert!(read["actor_id"].as_str().unwrap().starts_with("key_"));
    assert_eq!(read["key_ids"], json!([pair["id"]]));
    assert_eq!(read["key_context"], pair["context"]);
}

#[tokio::test]
async fn a_key_wrapped_for_one_context_never_unwraps_as_another() {
    let app = TestApp::new().await;
    let pair = data_key(&app, json!({"organization_id": "org_AAAA"})).await;
    let blob = pair["encrypted_keys"].as_str().unwrap();
    // Relabel the blob's context: the wrap no longer authenticates.
    let forged = forge(blob, "org_AAAA", "org_BBBB");
    let res = app
        .post("/vault/v1/keys/decrypt", &json!({"keys": forged}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(
        res.body,
        json!({"message": "The encrypted keys could not be decrypted."})
    );
    let res = app
        .post(
            "/vault/v1/keys/rekey",
            &json!({"context": {"organization_id": "org_AAAA"}, "encrypted_keys": forged}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    // Flipping a bit of the wrapped key fails too.
    let mut bytes = STANDARD.decode(blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let res = app
        .post(
            "/vault/v1/keys/decrypt",
            &json!({"keys": STANDARD.encode(bytes)}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(count(&app, "vault.dek.decrypted").await, 0);
}

#[tokio::test]
async fn malformed_contexts_and_keys_are_workos_shaped_4xx() {
    let app = TestApp::new().await;
    for context in [
        json!("org_A"),
        json!(["org_A"]),
        json!({"organization_id": 5}),
        json!({"organization_id": {"id": "org_A"}}),
        json!({"organization_id": null}),
        json!({"": "x"}),
        json!({"k": "v".repeat(1025)}),
        Value::Object((0..33).map(|i| (format!("k{i}"), json!("v"))).collect()),
    ] {
        let res = app
            .post("/vault/v1/keys/data-key", &json!({ "context": context }))
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{context}: {}",
            res.text
        );
        assert_eq!(res.body["code"], "invalid_request_parameters");
        assert_eq!(res.error_fields(), ["context"]);
        let res = app
            .post(
                "/vault/v1/kv",
                &json!({"name": "n", "value": "v", "key_context": context}),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
        assert_eq!(res.error_fields(), ["key_context"]);
    }
    let res = app.post("/vault/v1/keys/data-key", &json!({})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    for keys in [
        "not base64!",
        "",
        "V09TLkVLTS52MQBiZjUxY2NlYy03OGI0LTUyMDAtYjM4My0zNTczMGU3MWVmNjE=",
        "S1NWMQ==",
    ] {
        let res = app
            .post("/vault/v1/keys/decrypt", &json!({ "keys": keys }))
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{keys}: {}",
            res.text
        );
        assert_eq!(res.error_fields(), ["keys"]);
        let res = app
            .post(
                "/vault/v1/keys/rekey",
                &json!({"context": {}, "encrypted_keys": keys}),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
        assert_eq!(res.error_fields(), ["encrypted_keys"]);
    }
    let res = app
        .post("/vault/v1/keys/decrypt", &json!({"keys": 5}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    assert_eq!(app.count_rows("vault_objects").await, 0);
    assert!(app.event_names().await.is_empty());
}
