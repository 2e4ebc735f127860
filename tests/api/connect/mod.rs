//! Connect applications through HTTP: OAuth (first- and third-party) and M2M applications
//! created with the spec's shapes and rules, read by id or client id, listed and filtered,
//! updated (with `null` leaving fields alone), deleted; client secrets created (shown once,
//! stored as digests, hinted), listed as a bare array and deleted; bad input answered with
//! WorkOS 4xx bodies; another environment's ids answering 404. `POST /oauth2/token` is in
//! `token.rs`; the official SDKs (Node, and Python with PyJWT verifying an M2M token against the
//! JWKS) in `clients.rs`.

mod clients;
mod token;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::um::org;

/// Creates an application and returns it.
pub async fn create(app: &TestApp, body: Value) -> Value {
    let res = app.post("/connect/applications", &body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{body}: {}", res.text);
    res.body
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

pub fn third_party(org: &Value) -> Value {
    json!({"name": "Partner", "application_type": "oauth", "is_first_party": false,
           "organization_id": org["id"], "scopes": ["openid", "profile"],
           "redirect_uris": [{"uri": "https://partner.example.com/cb"},
                             {"uri": "http://127.0.0.1:8765/cb"}]})
}

#[tokio::test]
async fn applications_have_the_shape_of_their_type() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let first = create(
        &app,
        json!({"name": "Our CLI", "application_type": "oauth", "is_first_party": true,
               "uses_pkce": true, "description": "Ships with the product",
               "redirect_uris": [{"uri": "com.example.cli:/callback", "default": true}]}),
    )
    .await;
    assert_eq!(
        keys(&first),
        [
            "application_type",
            "client_id",
            "cors_origins",
            "created_at",
            "description",
            "id",
            "is_first_party",
            "name",
            "object",
            "redirect_uris",
            "scopes",
            "updated_at",
            "uses_pkce"
        ]
    );
    assert_eq!(first["object"], "connect_application");
    assert!(first["id"].as_str().unwrap().starts_with("conn_app_"));
    assert!(first["client_id"].as_str().unwrap().starts_with("client_"));
    assert_eq!(first["scopes"], json!([]));

    let third = create(&app, third_party(&acme)).await;
    assert_eq!(third["is_first_party"], false);
    assert_eq!(third["was_dynamically_registered"], false);
    assert_eq!(third["organization_id"], acme["id"]);
    assert_eq!(third["uses_pkce"], true);
    assert_eq!(
        third["redirect_uris"],
        json!([{"uri": "https://partner.example.com/cb", "default": true},
               {"uri": "http://127.0.0.1:8765/cb", "default": false}])
    );

    let m2m = create(
        &app,
        json!({"name": "Billing sync", "application_type": "m2m",
               "organization_id": acme["id"], "scopes": ["billing:read"]}),
    )
    .await;
    assert_eq!(
        keys(&m2m),
        [
            "application_type",
            "client_id",
            "created_at",
            "description",
            "id",
            "name",
            "object",
            "organization_id",
            "scopes",
            "updated_at"
        ]
    );
    assert_eq!(m2m["description"], Value::Null);
}

#[tokio::test]
async fn creating_an_application_refuses_bad_input_with_workos_4xx() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let o = &acme["id"];
    for (body, field) in [
        (
            json!({"application_type": "oauth", "is_first_party": true}),
            "name",
        ),
        (
            json!({"name": "", "application_type": "oauth", "is_first_party": true}),
            "name",
        ),
        (json!({"name": "x"}), "application_type"),
        (
            json!({"name": "x", "application_type": "saml"}),
            "application_type",
        ),
        (
            json!({"name": "x", "application_type": "oauth"}),
            "is_first_party",
        ),
        (
            json!({"name": "x", "application_type": "oauth", "is_first_party": false}),
            "organization_id",
        ),
        (
            json!({"name": "x", "application_type": "oauth", "is_first_party": true, "organization_id": o}),
            "organization_id",
        ),
        (
            json!({"name": "x", "application_type": "m2m"}),
            "organization_id",
        ),
        (
            json!({"name": "x", "application_type": "m2m", "organization_id": o, "redirect_uris": []}),
            "redirect_uris",
        ),
        (
            json!({"name": "x", "application_type": "m2m", "organization_id": o, "is_first_party": true}),
            "is_first_party",
        ),
        (
            json!({"name": "x", "application_type": "m2m", "organization_id": o, "scopes": ["two words"]}),
            "scopes",
        ),
        (
            json!({"name": "x", "application_type": "m2m", "organization_id": o, "description": "d".repeat(2000)}),
            "description",
        ),
    ] {
        let res = app.post("/connect/applications", &body).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            res.text
        );
        assert_eq!(res.error_fields(), [field], "{body}: {}", res.text);
    }
    for uri in [
        "http://partner.example.com/cb",
        "https://partner.example.com/cb#frag",
        "javascript:alert(1)",
        "/relative",
        "not a uri",
    ] {
        let body = json!({"name": "x", "application_type": "oauth", "is_first_party": true,
                          "redirect_uris": [{"uri": uri}]});
        let res = app.post("/connect/applications", &body).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{uri}: {}",
            res.text
        );
        assert_eq!(res.error_fields(), ["redirect_uris"]);
    }
    let two_defaults = json!({"name": "x", "application_type": "oauth", "is_first_party": true,
        "redirect_uris": [{"uri": "https://a.example/cb", "default": true},
                          {"uri": "https://b.example/cb", "default": true}]});
    let res = app.post("/connect/applications", &two_defaults).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    // An organization that is not the environment's.
    let other = app.new_tenant("Other").await;
    let res = app
        .send(
            Method::POST,
            "/organizations",
            Some(&other.api_key),
            Some(&json!({"name": "Theirs"})),
        )
        .await;
    let theirs = res.body["id"].clone();
    for org_id in [
        theirs,
        json!("org_01HZZZZZZZZZZZZZZZZZZZZZZZ"),
        json!("acme"),
    ] {
        let body = json!({"name": "x", "application_type": "m2m", "organization_id": org_id});
        let res = app.post("/connect/applications", &body).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{body}: {}", res.text);
    }
    assert_eq!(app.count_rows("connect_applications").await, 0);
}

#[tokio::test]
async fn applications_are_read_by_id_or_client_id_listed_and_filtered() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let globex = org(&app, "Globex").await;
    let a = create(&app, third_party(&acme)).await;
    let b = create(
        &app,
        json!({"name": "Sync", "application_type": "m2m", "organization_id": globex["id"]}),
    )
    .await;
    let c = create(
        &app,
        json!({"name": "CLI", "application_type": "oauth", "is_first_party": true}),
    )
    .await;
    for key in [&a["id"], &a["client_id"]] {
        let res = app
            .get(&format!("/connect/applications/{}", key.as_str().unwrap()))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(res.body, a);
    }
    for missing in [
        "conn_app_01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "client_nope",
        "x%00y",
    ] {
        let res = app.get(&format!("/connect/applications/{missing}")).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
        assert!(res.body["message"].is_string());
    }
    let all = app.get("/connect/applications").await;
    let ids: Vec<&Value> = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| &x["id"])
        .collect();
    assert_eq!(ids, [&c["id"], &b["id"], &a["id"]], "newest first");
    let page = app.get("/connect/applications?limit=1&order=asc").await;
    assert_eq!(page.body["data"][0]["id"], a["id"]);
    assert_eq!(page.body["list_metadata"]["after"], a["id"]);
    let of_acme = app
        .get(&format!(
            "/connect/applications?organization_id={}",
            acme["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(of_acme.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(of_acme.body["data"][0]["id"], a["id"]);
    let none = app
        .get("/connect/applications?organization_id=garbage")
        .await;
    assert_eq!(none.body["data"], json!([]));
    let bad = app.get("/connect/applications?order=sideways").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
}

#[tokio::test]
async fn updating_an_application_changes_only_what_is_given() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let a = create(&app, third_party(&acme)).await;
    let path = format!("/connect/applications/{}", a["client_id"].as_str().unwrap());
    let res = app
        .put(
            &path,
            &json!({"name": "Partner portal", "description": null, "scopes": null,
                    "redirect_uris": [{"uri": "https://partner.example.com/v2", "default": null}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["name"], "Partner portal");
    assert_eq!(res.body["scopes"], a["scopes"]);
    assert_eq!(
        res.body["redirect_uris"],
        json!([{"uri": "https://partner.example.com/v2", "default": true}])
    );
    let res = app
        .put(
            &path,
            &json!({"description": "Reads reports", "scopes": ["reports:read"]}),
        )
        .await;
    assert_eq!(res.body["description"], "Reads reports");
    assert_eq!(res.body["scopes"], json!(["reports:read"]));
    assert_eq!(res.body["name"], "Partner portal");
    let res = app.put(&path, &json!({"description": ""})).await;
    assert_eq!(res.body["description"], Value::Null);

    for (body, field) in [
        (json!({"name": " "}), "name"),
        (json!({"scopes": ["a b"]}), "scopes"),
        (
            json!({"redirect_uris": [{"uri": "ftp://"}]}),
            "redirect_uris",
        ),
    ] {
        let res = app.put(&path, &body).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            res.text
        );
        assert_eq!(res.error_fields(), [field]);
    }
    let m2m = create(
        &app,
        json!({"name": "Sync", "application_type": "m2m", "organization_id": acme["id"]}),
    )
    .await;
    let res = app
        .put(
            &format!("/connect/applications/{}", m2m["id"].as_str().unwrap()),
            &json!({"redirect_uris": [{"uri": "https://a.example/cb"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    let res = app
        .put(
            "/connect/applications/conn_app_01HZZZZZZZZZZZZZZZZZZZZZZZ",
            &json!({"name": "x"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
}

#[tokio::test]
async fn client_secrets_are_shown_once_hinted_listed_and_deleted() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let m2m = create(
        &app,
        json!({"name": "Sync", "application_type": "m2m", "organization_id": acme["id"]}),
    )
    .await;
    let base = format!(
        "/connect/applications/{}/client_secrets",
        m2m["id"].as_str().unwrap()
    );
    let res = app.post(&base, &json!({})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let s = &res.body;
    assert_eq!(
        keys(s),
        [
            "created_at",
            "id",
            "last_used_at",
            "object",
            "secret",
            "secret_hint",
            "updated_at"
        ]
    );
    assert_eq!(s["object"], "connect_application_secret");
    assert!(s["id"].as_str().unwrap().starts_with("secret_"));
    let value = s["secret"].as_str().unwrap();
    assert_eq!(s["secret_hint"], &value[value.len() - 4..]);
    let stored: String = sqlx::query_scalar("select secret_hash from connect_client_secrets")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, keystead::crypto::sha256_hex(value));

    // By client id too; a bare array without the value.
    let list = app
        .get(&format!(
            "/connect/applications/{}/client_secrets",
            m2m["client_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let items = list.body.as_array().expect("a bare array");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], s["id"]);
    assert!(items[0].get("secret").is_none() && !list.text.contains(value));

    for _ in 1..10 {
        assert_eq!(
            app.post(&base, &json!({})).await.status,
            StatusCode::CREATED
        );
    }
    let res = app.post(&base, &json!({})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    assert_eq!(res.body["code"], "too_many_client_secrets");

    let del = format!("/connect/client_secrets/{}", s["id"].as_str().unwrap());
    assert_eq!(app.delete(&del).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&del).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.delete("/connect/client_secrets/nope").await.status,
        StatusCode::NOT_FOUND
    );
    for path in [
        "/connect/applications/conn_app_01HZZZZZZZZZZZZZZZZZZZZZZZ/client_secrets",
        "/connect/applications/client_nope/client_secrets",
    ] {
        assert_eq!(app.get(path).await.status, StatusCode::NOT_FOUND);
        assert_eq!(
            app.post(path, &json!({})).await.status,
            StatusCode::NOT_FOUND
        );
    }

    // Deleting the application deletes its secrets.
    let res = app
        .delete(&format!(
            "/connect/applications/{}",
            m2m["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
    assert_eq!(app.count_rows("connect_client_secrets").await, 0);
    let res = app
        .delete(&format!(
            "/connect/applications/{}",
            m2m["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
}

#[tokio::test]
async fn another_environments_applications_and_secrets_are_404() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let a = create(&app, third_party(&acme)).await;
    let secret = app
        .post(
            &format!(
                "/connect/applications/{}/client_secrets",
                a["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await
        .body;
    let other = app.new_tenant("Other").await;
    let key = Some(other.api_key.as_str());
    for id in [&a["id"], &a["client_id"]] {
        let id = id.as_str().unwrap();
        for (method, path, body) in [
            (Method::GET, format!("/connect/applications/{id}"), None),
            (
                Method::PUT,
                format!("/connect/applications/{id}"),
                Some(json!({"name": "x"})),
            ),
            (Method::DELETE, format!("/connect/applications/{id}"), None),
            (
                Method::GET,
                format!("/connect/applications/{id}/client_secrets"),
                None,
            ),
            (
                Method::POST,
                format!("/connect/applications/{id}/client_secrets"),
                Some(json!({})),
            ),
        ] {
            let res = app.send(method.clone(), &path, key, body.as_ref()).await;
            assert_eq!(
                res.status,
                StatusCode::NOT_FOUND,
                "{method} {path}: {}",
                res.text
            );
        }
    }
    let res = app
        .send(
            Method::DELETE,
            &format!("/connect/client_secrets/{}", secret["id"].as_str().unwrap()),
            key,
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    let res = app
        .send(Method::GET, "/connect/applications", key, None)
        .await;
    assert_eq!(res.body["data"], json!([]));
    // Untouched in their own environment.
    let res = app
        .get(&format!(
            "/connect/applications/{}",
            a["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(res.body["name"], "Partner");
    assert_eq!(app.count_rows("connect_client_secrets").await, 1);
}
