//! API Keys through HTTP: organization and user keys created (value shown once, stored as a
//! digest), listed and paginated, deleted and expired; validation (`POST /api_keys/validations`)
//! for valid, unknown, deleted, expired and other-environment values; API keys and environment
//! keys never standing in for each other; bad input answered with WorkOS 4xx bodies; another
//! environment's ids answering 404; events. Validation itself is in `validation.rs`, the
//! validation cache across two servers in `cache.rs`, the official SDKs in `clients.rs`.

mod cache;
mod clients;
mod validation;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};
use crate::um::{count, event_data, member, org, user};

/// Creates an organization key and returns the response body (with `value`).
pub async fn org_key(app: &TestApp, org: &Value, name: &str) -> Value {
    let id = org["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/organizations/{id}/api_keys"),
            &json!({"name": name, "permissions": ["posts:read", "posts:write"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body
}

/// `POST /api_keys/validations` with this app's environment key.
pub async fn validate(app: &TestApp, value: &str) -> TestResponse {
    let res = app
        .post("/api_keys/validations", &json!({"value": value}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res
}

/// The sorted keys of a JSON object.
pub fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

pub const API_KEY_FIELDS: [&str; 10] = [
    "created_at",
    "expires_at",
    "id",
    "last_used_at",
    "name",
    "obfuscated_value",
    "object",
    "owner",
    "permissions",
    "updated_at",
];

#[tokio::test]
async fn an_organization_key_is_shown_once_stored_as_a_digest_and_listed() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let created = org_key(&app, &acme, "Production").await;
    let mut with_value: Vec<&str> = API_KEY_FIELDS.to_vec();
    with_value.push("value");
    with_value.sort_unstable();
    assert_eq!(keys(&created), with_value);
    assert_eq!(created["object"], "api_key");
    assert!(created["id"].as_str().unwrap().starts_with("api_key_"));
    assert_eq!(
        created["owner"],
        json!({"type": "organization", "id": acme["id"]})
    );
    let value = created["value"].as_str().unwrap();
    assert!(value.starts_with("sk_") && value.len() > 40, "{value}");
    assert_eq!(
        created["obfuscated_value"],
        format!("sk_...{}", &value[value.len() - 4..])
    );
    assert_eq!(created["permissions"], json!(["posts:read", "posts:write"]));
    assert_eq!(created["last_used_at"], Value::Null);
    assert_eq!(created["expires_at"], Value::Null);

    // Only the digest is stored.
    let (hash, stored_plain): (String, bool) = sqlx::query_as(
        "select key_hash, position($2 in row_to_json(k)::text) > 0 from product_api_keys k where id = $1",
    )
    .bind(created["id"].as_str().unwrap())
    .bind(value)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(hash, keystead::crypto::sha256_hex(value));
    assert!(!stored_plain);

    let id = acme["id"].as_str().unwrap();
    let list = app.get(&format!("/organizations/{id}/api_keys")).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.body["object"], "list");
    let first = &list.body["data"][0];
    assert_eq!(keys(first), API_KEY_FIELDS.to_vec());
    assert_eq!(first["id"], created["id"]);
    assert!(!list.text.contains(value), "a list never shows the value");

    // The event carries the key, never the value.
    let events = event_data(&app, "api_key.created").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["id"], created["id"]);
    assert_eq!(events[0]["owner"], created["owner"]);
    assert!(events[0].get("value").is_none());
}

#[tokio::test]
async fn organization_keys_page_newest_first_and_exclude_member_keys() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let ada = user(&app, "ada@example.com", false).await;
    member(&app, &ada, &acme, "member").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(org_key(&app, &acme, &format!("k{i}")).await["id"].clone());
    }
    let res = app
        .post(
            &format!(
                "/user_management/users/{}/api_keys",
                ada["id"].as_str().unwrap()
            ),
            &json!({"name": "mine", "organization_id": acme["id"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let id = acme["id"].as_str().unwrap();
    let page = app
        .get(&format!("/organizations/{id}/api_keys?limit=2"))
        .await;
    assert_eq!(page.body["data"][0]["id"], ids[2]);
    assert_eq!(page.body["data"][1]["id"], ids[1]);
    let after = page.body["list_metadata"]["after"].as_str().unwrap();
    let next = app
        .get(&format!(
            "/organizations/{id}/api_keys?limit=2&after={after}"
        ))
        .await;
    assert_eq!(next.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(next.body["data"][0]["id"], ids[0]);
    assert_eq!(next.body["list_metadata"]["after"], Value::Null);
    let bad = app
        .get(&format!("/organizations/{id}/api_keys?limit=1000"))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
}

#[tokio::test]
async fn creating_an_organization_key_refuses_bad_input_with_workos_4xx() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let path = format!("/organizations/{}/api_keys", acme["id"].as_str().unwrap());
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": "  "}), "name"),
        (json!({"name": 5}), "name"),
        (json!({"name": "x".repeat(300)}), "name"),
        (
            json!({"name": "k", "permissions": ["has space"]}),
            "permissions",
        ),
        (
            json!({"name": "k", "permissions": "posts:read"}),
            "permissions",
        ),
        (
            json!({"name": "k", "expires_at": "2001-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (json!({"name": "k", "expires_at": "tomorrow"}), "expires_at"),
    ] {
        let res = app.post(&path, &body).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            res.text
        );
        assert_eq!(res.error_fields(), [field], "{body}: {}", res.text);
    }
    let res = app
        .send_request(
            axum::http::Request::post(&path)
                .header("authorization", format!("Bearer {}", app.tenant.api_key))
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    for missing in ["org_01HZZZZZZZZZZZZZZZZZZZZZZZ", "nope"] {
        let res = app
            .post(
                &format!("/organizations/{missing}/api_keys"),
                &json!({"name": "k"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
        assert_eq!(
            res.body["message"],
            format!("Organization not found: '{missing}'.")
        );
        let res = app.get(&format!("/organizations/{missing}/api_keys")).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    }
    // A future expiry is kept.
    let res = app
        .post(
            &path,
            &json!({"name": "k", "expires_at": "2999-01-01T00:00:00.000Z"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["expires_at"], "2999-01-01T00:00:00.000Z");
    assert_eq!(app.count_rows("product_api_keys").await, 1);
    assert_eq!(count(&app, "api_key.created").await, 1);
}

#[tokio::test]
async fn a_user_key_needs_an_active_membership_in_its_organization() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let globex = org(&app, "Globex").await;
    let ada = user(&app, "ada@example.com", false).await;
    member(&app, &ada, &acme, "member").await;
    let path = format!(
        "/user_management/users/{}/api_keys",
        ada["id"].as_str().unwrap()
    );
    let res = app
        .post(
            &path,
            &json!({"name": "CLI", "organization_id": acme["id"], "permissions": ["posts:read"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(
        res.body["owner"],
        json!({"type": "user", "id": ada["id"], "organization_id": acme["id"]})
    );
    assert!(res.body["value"].as_str().unwrap().starts_with("sk_"));

    // Not a member of Globex, an unknown organization, a malformed one.
    for (org_id, code) in [
        (globex["id"].clone(), "organization_membership_required"),
        (
            json!("org_01HZZZZZZZZZZZZZZZZZZZZZZZ"),
            "organization_not_found",
        ),
        (json!("acme"), "organization_not_found"),
    ] {
        let res = app
            .post(&path, &json!({"name": "CLI", "organization_id": org_id}))
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
        assert_eq!(res.body["code"], code, "{}", res.text);
    }
    // A bad body is the spec's 400 with `errors`.
    for (body, field) in [
        (json!({"name": "CLI"}), "organization_id"),
        (json!({"organization_id": acme["id"]}), "name"),
        (json!({"name": "", "organization_id": acme["id"]}), "name"),
        (
            json!({"name": "k", "organization_id": acme["id"], "permissions": [""]}),
            "permissions",
        ),
    ] {
        let res = app.post(&path, &body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.text);
        assert_eq!(res.error_fields(), [field], "{body}: {}", res.text);
    }
    let res = app
        .post(
            "/user_management/users/user_01HZZZZZZZZZZZZZZZZZZZZZZZ/api_keys",
            &json!({"name": "CLI", "organization_id": acme["id"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);

    // An inactive membership is not enough.
    let bob = user(&app, "bob@example.com", false).await;
    let m = member(&app, &bob, &acme, "member").await;
    let res = app
        .put(
            &format!(
                "/user_management/organization_memberships/{}/deactivate",
                m["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .post(
            &format!(
                "/user_management/users/{}/api_keys",
                bob["id"].as_str().unwrap()
            ),
            &json!({"name": "CLI", "organization_id": acme["id"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    assert_eq!(count(&app, "api_key.created").await, 1);
}

#[tokio::test]
async fn user_keys_list_and_filter_by_organization() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let globex = org(&app, "Globex").await;
    let ada = user(&app, "ada@example.com", false).await;
    member(&app, &ada, &acme, "member").await;
    member(&app, &ada, &globex, "member").await;
    let path = format!(
        "/user_management/users/{}/api_keys",
        ada["id"].as_str().unwrap()
    );
    for o in [&acme, &globex] {
        let res = app
            .post(&path, &json!({"name": "k", "organization_id": o["id"]}))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }
    let all = app.get(&path).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(all.body["data"].as_array().unwrap().len(), 2);
    let only = app
        .get(&format!(
            "{path}?organization_id={}",
            acme["id"].as_str().unwrap()
        ))
        .await;
    let data = only.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["owner"]["organization_id"], acme["id"]);
    let none = app.get(&format!("{path}?organization_id=garbage")).await;
    assert_eq!(none.body["data"], json!([]));
    // The organization's own list does not show member keys.
    let org_list = app
        .get(&format!(
            "/organizations/{}/api_keys",
            acme["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(org_list.body["data"], json!([]));
    let res = app
        .get("/user_management/users/user_01HZZZZZZZZZZZZZZZZZZZZZZZ/api_keys")
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
}

#[tokio::test]
async fn another_environments_keys_and_owners_are_404() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let ada = user(&app, "ada@example.com", false).await;
    member(&app, &ada, &acme, "member").await;
    let key = org_key(&app, &acme, "Production").await;
    let other = app.new_tenant("Other").await;
    let org_id = acme["id"].as_str().unwrap();
    let user_id = ada["id"].as_str().unwrap();
    let key_id = key["id"].as_str().unwrap();
    for (method, path, body) in [
        (
            Method::GET,
            format!("/organizations/{org_id}/api_keys"),
            None,
        ),
        (
            Method::POST,
            format!("/organizations/{org_id}/api_keys"),
            Some(json!({"name": "k"})),
        ),
        (
            Method::GET,
            format!("/user_management/users/{user_id}/api_keys"),
            None,
        ),
        (
            Method::POST,
            format!("/user_management/users/{user_id}/api_keys"),
            Some(json!({"name": "k", "organization_id": org_id})),
        ),
        (Method::DELETE, format!("/api_keys/{key_id}"), None),
        (
            Method::POST,
            format!("/api_keys/{key_id}/expire"),
            Some(json!({})),
        ),
    ] {
        let res = app
            .send(method.clone(), &path, Some(&other.api_key), body.as_ref())
            .await;
        assert_eq!(
            res.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            res.text
        );
    }
    // Still valid in its own environment.
    let res = validate(&app, key["value"].as_str().unwrap()).await;
    assert_eq!(res.body["api_key"]["id"], key["id"]);
}

#[tokio::test]
async fn a_deleted_key_stops_validating_and_records_api_key_revoked() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let key = org_key(&app, &acme, "Production").await;
    let value = key["value"].as_str().unwrap();
    assert!(validate(&app, value).await.body["api_key"].is_object());
    let path = format!("/api_keys/{}", key["id"].as_str().unwrap());
    let res = app.delete(&path).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
    assert_eq!(validate(&app, value).await.body, json!({"api_key": null}));
    let res = app.delete(&path).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    assert_eq!(
        res.body["message"],
        format!("API key not found: '{}'.", key["id"].as_str().unwrap())
    );
    let res = app.delete("/api_keys/garbage").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    let revoked = event_data(&app, "api_key.revoked").await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["id"], key["id"]);
    assert_eq!(app.count_rows("product_api_keys").await, 0);
}

#[tokio::test]
async fn expiring_a_key_now_later_or_never() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let key = org_key(&app, &acme, "Production").await;
    let value = key["value"].as_str().unwrap();
    let path = format!("/api_keys/{}/expire", key["id"].as_str().unwrap());
    assert!(validate(&app, value).await.body["api_key"].is_object());

    // Scheduled, then cleared: the key keeps validating.
    let res = app
        .post(&path, &json!({"expires_at": "2999-06-01T00:00:00.000Z"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["expires_at"], "2999-06-01T00:00:00.000Z");
    assert_eq!(keys(&res.body), API_KEY_FIELDS.to_vec());
    let res = app.post(&path, &json!({"expires_at": null})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["expires_at"], Value::Null);
    assert!(validate(&app, value).await.body["api_key"].is_object());

    let res = app.post(&path, &json!({"expires_at": "yesterday"})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    assert_eq!(res.error_fields(), ["expires_at"]);

    // Now: it stops validating at once; expiring it again is a conflict.
    let res = app.post(&path, &json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(res.body["expires_at"].is_string());
    assert_eq!(validate(&app, value).await.body, json!({"api_key": null}));
    let res = app.post(&path, &json!({})).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.text);
    assert_eq!(res.body["code"], "api_key_expired");
    let res = app
        .post(
            "/api_keys/api_key_01HZZZZZZZZZZZZZZZZZZZZZZZ/expire",
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);

    let updates = event_data(&app, "api_key.updated").await;
    assert_eq!(updates.len(), 3);
    assert_eq!(
        updates[0]["previous_attributes"],
        json!({"expires_at": null})
    );
    assert_eq!(
        updates[1]["previous_attributes"],
        json!({"expires_at": "2999-06-01T00:00:00.000Z"})
    );
}

#[tokio::test]
async fn a_user_key_stops_validating_when_its_membership_ends() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let ada = user(&app, "ada@example.com", false).await;
    let m = member(&app, &ada, &acme, "member").await;
    let res = app
        .post(
            &format!(
                "/user_management/users/{}/api_keys",
                ada["id"].as_str().unwrap()
            ),
            &json!({"name": "CLI", "organization_id": acme["id"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let value = res.body["value"].as_str().unwrap().to_string();
    let res = app
        .delete(&format!(
            "/user_management/organization_memberships/{}",
            m["id"].as_str().unwrap()
        ))
        .await;
    assert!(res.status.is_success(), "{}", res.text);
    assert_eq!(validate(&app, &value).await.body, json!({"api_key": null}));
    // Deleting the user deletes the key.
    let res = app
        .delete(&format!(
            "/user_management/users/{}",
            ada["id"].as_str().unwrap()
        ))
        .await;
    assert!(res.status.is_success(), "{}", res.text);
    assert_eq!(app.count_rows("product_api_keys").await, 0);
}
