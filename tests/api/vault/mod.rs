//! Vault through HTTP: data keys (create, decrypt, rekey) bound to their key context and
//! environment, objects (create, read by id and by name, describe, list, update with
//! `version_check`, versions, delete), bad input answered with WorkOS-shaped 4xx and nothing
//! written, nothing stored in clear, and events. The data-key API is in `keys.rs`, the
//! official SDKs in `sdk.rs`.

mod keys;
mod rotation;
mod sdk;

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::um::{count, event_data};

/// `POST /vault/v1/keys/data-key` for `context` → the pair.
pub async fn data_key(app: &TestApp, context: Value) -> Value {
    let res = app
        .post("/vault/v1/keys/data-key", &json!({ "context": context }))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body
}

/// `POST /vault/v1/kv` → the metadata.
pub async fn create(app: &TestApp, name: &str, value: &str, context: Value) -> Value {
    let res = app
        .post(
            "/vault/v1/kv",
            &json!({"name": name, "value": value, "key_context": context}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body
}

pub fn keys_of(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

/// The blob with every occurrence of `from` replaced by `to` (same length).
pub fn forge(blob: &str, from: &str, to: &str) -> String {
    assert_eq!(from.len(), to.len());
    let mut bytes = STANDARD.decode(blob).unwrap();
    let pos = bytes
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .expect("the context is in the blob");
    bytes[pos..pos + to.len()].copy_from_slice(to.as_bytes());
    STANDARD.encode(bytes)
}

#[tokio::test]
async fn another_environment_can_neither_decrypt_its_keys_nor_see_its_objects() {
    let app = TestApp::new().await;
    let pair = data_key(&app, json!({"organization_id": "org_A"})).await;
    let object = create(
        &app,
        "db-password",
        "hunter2",
        json!({"organization_id": "org_A"}),
    )
    .await;
    let id = object["id"].as_str().unwrap();
    let other = app.new_tenant("Other").await;
    let key = Some(other.api_key.as_str());
    let res = app
        .send(
            Method::POST,
            "/vault/v1/keys/decrypt",
            key,
            Some(&json!({"keys": pair["encrypted_keys"]})),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    // Even once the other environment has root keys of its own.
    let res = app
        .send(
            Method::POST,
            "/vault/v1/keys/data-key",
            key,
            Some(&json!({"context": {"organization_id": "org_A"}})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let res = app
        .send(
            Method::POST,
            "/vault/v1/keys/decrypt",
            key,
            Some(&json!({"keys": pair["encrypted_keys"]})),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    for path in [
        format!("/vault/v1/kv/{id}"),
        format!("/vault/v1/kv/{id}/metadata"),
        format!("/vault/v1/kv/{id}/versions"),
        "/vault/v1/kv/name/db-password".to_string(),
    ] {
        let res = app.send(Method::GET, &path, key, None).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}: {}", res.text);
    }
    for method in [Method::PUT, Method::DELETE] {
        let res = app
            .send(
                method,
                &format!("/vault/v1/kv/{id}"),
                key,
                Some(&json!({"value": "x"})),
            )
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    }
    let res = app.send(Method::GET, "/vault/v1/kv", key, None).await;
    assert_eq!(res.body["data"], json!([]));
    // The same name is free in the other environment.
    let res = app
        .send(
            Method::POST,
            "/vault/v1/kv",
            key,
            Some(&json!({"name": "db-password", "value": "x", "key_context": {}})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(
        app.get(&format!("/vault/v1/kv/{id}")).await.body["value"],
        "hunter2"
    );
}

#[tokio::test]
async fn an_object_is_created_read_updated_versioned_and_deleted() {
    let app = TestApp::new().await;
    let context = json!({"organization_id": "org_01K8ZYT4AWJ6XP0E0S8CTBHE3P"});
    let meta = create(&app, "my-secret", "s3cr3t-v4lu3", context.clone()).await;
    assert_eq!(
        keys_of(&meta),
        [
            "context",
            "environment_id",
            "id",
            "key_id",
            "updated_at",
            "updated_by",
            "version_id"
        ]
    );
    assert_eq!(meta["context"], context);
    assert_eq!(meta["environment_id"], app.tenant.environment_id.as_str());
    let id = meta["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("secret_"));
    assert!(
        meta["version_id"]
            .as_str()
            .unwrap()
            .starts_with("secret_version_")
    );
    assert_eq!(meta["key_id"].as_str().unwrap().len(), 36);
    assert!(
        meta["updated_by"]["id"]
            .as_str()
            .unwrap()
            .starts_with("key_")
    );
    assert!(meta["updated_by"]["name"].is_string());

    let by_id = app.get(&format!("/vault/v1/kv/{id}")).await;
    assert_eq!(by_id.status, StatusCode::OK, "{}", by_id.text);
    assert_eq!(keys_of(&by_id.body), ["id", "metadata", "name", "value"]);
    assert_eq!(by_id.body["value"], "s3cr3t-v4lu3");
    assert_eq!(by_id.body["name"], "my-secret");
    assert_eq!(by_id.body["metadata"], meta);
    let by_name = app.get("/vault/v1/kv/name/my-secret").await;
    assert_eq!(by_name.body, by_id.body);
    let described = app.get(&format!("/vault/v1/kv/{id}/metadata")).await;
    assert_eq!(keys_of(&described.body), ["id", "metadata", "name"]);
    assert_eq!(described.body["metadata"], meta);

    // Another object with the same context shares its key id; another context does not.
    let twin = create(&app, "twin", "x", context.clone()).await;
    assert_eq!(twin["key_id"], meta["key_id"]);
    let other = create(&app, "other", "x", json!({"organization_id": "org_2"})).await;
    assert_ne!(other["key_id"], meta["key_id"]);

    // A stale version_check is a 409 and writes nothing.
    let v1 = meta["version_id"].as_str().unwrap();
    let res = app
        .put(
            &format!("/vault/v1/kv/{id}"),
            &json!({"value": "v2", "version_check": "secret_version_01ZZZ"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text);
    assert_eq!(res.body["code"], "version_check_failed");
    assert_eq!(app.count_rows("vault_object_versions").await, 3);
    let res = app
        .put(
            &format!("/vault/v1/kv/{id}"),
            &json!({"value": "v2", "version_check": v1}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(keys_of(&res.body), ["id", "metadata", "name"]);
    let v2 = res.body["metadata"]["version_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(v2, v1);
    assert_eq!(
        res.body["metadata"]["context"], context,
        "the context is kept"
    );
    // Without version_check (null, as the Node SDK sends it) the update applies.
    let res = app
        .put(
            &format!("/vault/v1/kv/{id}"),
            &json!({"value": "third value", "version_check": null}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let v3 = res.body["metadata"]["version_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.get(&format!("/vault/v1/kv/{id}")).await.body["value"],
        "third value"
    );

    let versions = app.get(&format!("/vault/v1/kv/{id}/versions")).await;
    assert_eq!(versions.status, StatusCode::OK, "{}", versions.text);
    assert_eq!(keys_of(&versions.body), ["data", "list_metadata"]);
    let data = versions.body["data"].as_array().unwrap();
    let ids: Vec<&str> = data.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [v3.as_str(), v2.as_str(), v1]);
    let current: Vec<bool> = data
        .iter()
        .map(|v| v["current_version"].as_bool().unwrap())
        .collect();
    assert_eq!(current, [true, false, false]);
    assert_eq!(
        keys_of(&data[0]),
        ["created_at", "current_version", "etag", "id", "size"]
    );
    assert_eq!(data[0]["size"], 11);
    assert_eq!(data[2]["size"], 12);
    assert_ne!(data[0]["etag"], data[1]["etag"]);

    let res = app
        .delete(&format!("/vault/v1/kv/{id}?version_check={v1}"))
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text);
    let res = app
        .delete(&format!("/vault/v1/kv/{id}?version_check={v3}"))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body, json!({"name": "my-secret", "success": true}));
    for path in [
        format!("/vault/v1/kv/{id}"),
        "/vault/v1/kv/name/my-secret".into(),
    ] {
        let res = app.get(&path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
        assert!(res.body["message"].is_string());
    }
    assert_eq!(app.count_rows("vault_object_versions").await, 2);

    assert_eq!(count(&app, "vault.data.created").await, 3);
    assert_eq!(count(&app, "vault.data.updated").await, 2);
    assert_eq!(count(&app, "vault.data.deleted").await, 1);
    assert_eq!(count(&app, "vault.data.read").await, 3);
    assert_eq!(count(&app, "vault.metadata.read").await, 1);
    let created = &event_data(&app, "vault.data.created").await[0];
    assert_eq!(
        keys_of(created),
        [
            "actor_id",
            "actor_name",
            "actor_source",
            "key_context",
            "key_id",
            "kv_name"
        ]
    );
    assert_eq!(created["kv_name"], "my-secret");
    assert_eq!(created["key_context"], context);
    let deleted = &event_data(&app, "vault.data.deleted").await[0];
    assert_eq!(
        keys_of(deleted),
        ["actor_id", "actor_name", "actor_source", "kv_name"]
    );
    let read = &event_data(&app, "vault.data.read").await[0];
    assert_eq!(
        keys_of(read),
        [
            "actor_id",
            "actor_name",
            "actor_source",
            "key_id",
            "kv_name"
        ]
    );
    // The organization in the context scopes the event.
    let res = app
        .get("/events?events=vault.data.created&organization_id=org_01K8ZYT4AWJ6XP0E0S8CTBHE3P")
        .await;
    assert_eq!(
        res.body["data"].as_array().map(Vec::len),
        Some(2),
        "{}",
        res.text
    );
}

#[tokio::test]
async fn objects_list_newest_first_with_search_paging_and_updated_after() {
    let app = TestApp::new().await;
    for name in ["alpha", "beta", "gamma-key", "delta-KEY"] {
        create(&app, name, "v", json!({})).await;
    }
    let res = app.get("/vault/v1/kv").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["object"], "list");
    let names = |r: &crate::support::TestResponse| -> Vec<String> {
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&res), ["delta-KEY", "gamma-key", "beta", "alpha"]);
    assert_eq!(keys_of(&res.body["data"][0]), ["id", "name", "updated_at"]);
    let res = app.get("/vault/v1/kv?limit=3&order=asc").await;
    assert_eq!(names(&res), ["alpha", "beta", "gamma-key"]);
    let after = res.body["list_metadata"]["after"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .get(&format!("/vault/v1/kv?limit=3&order=asc&after={after}"))
        .await;
    assert_eq!(names(&res), ["delta-KEY"]);
    assert_eq!(res.body["list_metadata"]["after"], Value::Null);
    let res = app.get("/vault/v1/kv?search=key").await;
    assert_eq!(names(&res), ["delta-KEY", "gamma-key"]);
    let res = app.get("/vault/v1/kv?search=%25").await;
    assert_eq!(names(&res), Vec::<String>::new(), "% is literal");
    let res = app
        .get("/vault/v1/kv?updated_after=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(names(&res), Vec::<String>::new());
    let res = app
        .get("/vault/v1/kv?updatedAfter=2000-01-01T00:00:00.000Z")
        .await;
    assert_eq!(names(&res).len(), 4);
    for bad in ["updated_after=yesterday", "limit=0", "order=up"] {
        let res = app.get(&format!("/vault/v1/kv?{bad}")).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            res.text
        );
    }
    assert_eq!(count(&app, "vault.names.listed").await, 7);
}

#[tokio::test]
async fn bad_object_input_is_a_workos_4xx_and_writes_nothing() {
    // The default body limit (1 MiB) rather than the harness's 64 KiB, so the value limit shows.
    let app = TestApp::with(|s| s.max_body_bytes = 1024 * 1024).await;
    create(&app, "taken", "v", json!({})).await;
    let res = app
        .post(
            "/vault/v1/kv",
            &json!({"name": "taken", "value": "w", "key_context": {}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text);
    assert_eq!(res.body["code"], "object_name_conflict");
    let big = "x".repeat(512 * 1024 + 1);
    for (body, field) in [
        (json!({"name": "", "value": "v", "key_context": {}}), "name"),
        (
            json!({"name": "a\u{1}b", "value": "v", "key_context": {}}),
            "name",
        ),
        (
            json!({"name": "n".repeat(257), "value": "v", "key_context": {}}),
            "name",
        ),
        (
            json!({"name": "big", "value": big, "key_context": {}}),
            "value",
        ),
        (json!({"name": "n", "value": 5, "key_context": {}}), "value"),
        (json!({"name": "n", "key_context": {}}), "value"),
        (json!({"name": "n", "value": "v"}), "key_context"),
    ] {
        let res = app.post("/vault/v1/kv", &body).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            res.text
        );
        assert_eq!(res.error_fields(), [field], "{}", res.text);
    }
    // A value at the limit is accepted.
    let at_limit = "y".repeat(512 * 1024);
    let meta = create(&app, "at-limit", &at_limit, json!({})).await;
    let id = meta["id"].as_str().unwrap();
    let res = app
        .put(&format!("/vault/v1/kv/{id}"), &json!({"value": big}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    assert_eq!(app.count_rows("vault_objects").await, 2);
    assert_eq!(app.count_rows("vault_object_versions").await, 2);
    for path in [
        "/vault/v1/kv/nope",
        "/vault/v1/kv/org_123",
        "/vault/v1/kv/secret_01ZZZ/versions",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}: {}", res.text);
    }
    let res = app.get("/vault/v1/kv/name/missing").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    // No API key.
    let res = app.send(Method::GET, "/vault/v1/kv", None, None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn nothing_is_stored_in_clear() {
    let app = TestApp::new().await;
    let secret = "correct horse battery staple";
    create(&app, "plain-check", secret, json!({"tenant": "acme"})).await;
    let rows: Vec<(Vec<u8>, Vec<u8>)> =
        sqlx::query_as("select encrypted_key, ciphertext from vault_object_versions")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    let (blob, ciphertext) = &rows[0];
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(ciphertext, secret.as_bytes()));
    assert!(!contains(blob, secret.as_bytes()));
    let sealed: Vec<Vec<u8>> = sqlx::query_scalar("select sealed_key from vault_root_keys")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(sealed.len(), 1);
    assert_eq!(sealed[0].len(), 12 + 32 + 16, "sealed with the master key");
    // The blob decrypts through the API to the key that opens the value.
    let res = app
        .post(
            "/vault/v1/keys/decrypt",
            &json!({"keys": STANDARD.encode(blob)}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}
