//! Feature Flags through HTTP: the `POST`/`DELETE /feature-flags` extension, list and get, enable
//! and disable, targets, the per-organization and per-user lists (a user inheriting their
//! organizations' targets), the evaluator's truth table (lists, OFREP and the access token's
//! `feature_flags` claim agree), events, and another environment's ids answering 404. The runtime
//! client's poll and OFREP are in `sdk.rs`; the official SDKs, OpenFeature and the CLI in
//! `clients.rs`.

mod clients;
mod evaluation;
mod sdk;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};
use crate::um::{claims, count, event_data, grant, member, org, password, user};

/// Creates a flag (`POST /feature-flags`) and returns it.
pub async fn flag(app: &TestApp, slug: &str, enabled: bool, default_value: bool) -> Value {
    let res = app
        .post(
            "/feature-flags",
            &json!({"slug": slug, "name": slug, "enabled": enabled, "default_value": default_value}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body
}

/// `POST /feature-flags/{slug}/targets/{id}` → 204.
pub async fn target(app: &TestApp, slug: &str, id: &Value) {
    let id = id.as_str().unwrap();
    let res = app
        .post(&format!("/feature-flags/{slug}/targets/{id}"), &json!({}))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
}

/// The slugs of a list response.
pub fn slugs(res: &TestResponse) -> Vec<String> {
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["slug"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn creating_a_flag_answers_the_spec_shape_and_bad_input_a_workos_4xx() {
    let app = TestApp::new().await;
    let res = app
        .post(
            "/feature-flags",
            &json!({"slug": "advanced-analytics", "name": "Advanced Analytics",
                    "description": "Charts", "tags": ["reports"], "default_value": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let f = &res.body;
    let mut keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "default_value",
            "description",
            "enabled",
            "id",
            "name",
            "object",
            "owner",
            "slug",
            "tags",
            "updated_at"
        ]
    );
    assert_eq!(f["object"], "feature_flag");
    assert!(f["id"].as_str().unwrap().starts_with("flag_"));
    assert_eq!(f["owner"], Value::Null);
    assert_eq!(f["tags"], json!(["reports"]));
    assert_eq!(
        (f["enabled"].clone(), f["default_value"].clone()),
        (json!(false), json!(true))
    );
    assert!(f["created_at"].as_str().unwrap().ends_with('Z'));

    let got = app.get("/feature-flags/advanced-analytics").await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(&got.body, f);

    // Defaults: off, false, no description, no tags.
    let plain = flag(&app, "plain", false, false).await;
    assert_eq!(plain["description"], Value::Null);
    assert_eq!(plain["tags"], json!([]));

    let dup = app
        .post("/feature-flags", &json!({"slug": "plain", "name": "Again"}))
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.text);
    assert_eq!(dup.body["code"], "feature_flag_slug_conflict");

    for (body, field) in [
        (json!({"slug": "Bad Slug", "name": "x"}), "slug"),
        (json!({"slug": "-x", "name": "x"}), "slug"),
        (json!({"slug": "x".repeat(65), "name": "x"}), "slug"),
        (json!({"slug": "ok", "name": "  "}), "name"),
        (json!({"slug": "ok", "name": "x", "tags": [""]}), "tags"),
        (
            json!({"slug": "ok", "name": "x", "description": "d".repeat(1025)}),
            "description",
        ),
    ] {
        let res = app.post("/feature-flags", &body).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            res.text
        );
        assert_eq!(res.body["code"], "invalid_request_parameters");
        assert_eq!(res.body["errors"][0]["field"], field, "{}", res.text);
    }
    let mistyped = app
        .post(
            "/feature-flags",
            &json!({"slug": "ok", "name": "x", "enabled": "yes"}),
        )
        .await;
    assert!(mistyped.status.is_client_error(), "{}", mistyped.text);
    let not_json = app
        .send_request(
            axum::http::Request::post("/feature-flags")
                .header("authorization", format!("Bearer {}", app.tenant.api_key))
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{"))
                .unwrap(),
        )
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.count_rows("feature_flags").await, 2, "nothing partial");

    let created = event_data(&app, "flag.created").await;
    assert_eq!(created.len(), 2);
    assert_eq!(created[0]["slug"], "advanced-analytics");
    assert_eq!(
        created[0]["environment_id"],
        json!(app.tenant.environment_id)
    );
    assert_eq!(created[0]["object"], "feature_flag");

    let missing = app.get("/feature-flags/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["message"], "Feature flag not found: 'nope'.");
    let unauthenticated = app.send(Method::GET, "/feature-flags", None, None).await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_list_pages_like_every_list() {
    let app = TestApp::new().await;
    for s in ["a", "b", "c"] {
        flag(&app, s, false, false).await;
    }
    let first = app.get("/feature-flags?limit=2").await;
    assert_eq!(slugs(&first), ["c", "b"]);
    assert_eq!(first.body["object"], "list");
    assert_eq!(first.body["list_metadata"]["before"], Value::Null);
    let after = first.body["list_metadata"]["after"].as_str().unwrap();
    let next = app
        .get(&format!("/feature-flags?limit=2&after={after}"))
        .await;
    assert_eq!(slugs(&next), ["a"]);
    assert_eq!(next.body["list_metadata"]["after"], Value::Null);
    assert_eq!(
        slugs(&app.get("/feature-flags?order=asc").await),
        ["a", "b", "c"]
    );
    for bad in ["limit=0", "limit=101", "order=up"] {
        let res = app.get(&format!("/feature-flags?{bad}")).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

#[tokio::test]
async fn enabling_disabling_and_deleting_record_their_events_once() {
    let app = TestApp::new().await;
    flag(&app, "beta", false, false).await;
    let on = app.put("/feature-flags/beta/enable", &json!({})).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text);
    assert_eq!(on.body["enabled"], true);
    assert_eq!(on.body["object"], "feature_flag");
    let again = app.put("/feature-flags/beta/enable", &json!({})).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(count(&app, "flag.updated").await, 1, "no change, no event");
    let off = app.put("/feature-flags/beta/disable", &json!({})).await;
    assert_eq!(off.body["enabled"], false);
    let updated = event_data(&app, "flag.updated").await;
    assert_eq!(updated.len(), 2);
    assert_eq!(
        (updated[0]["enabled"].clone(), updated[1]["enabled"].clone()),
        (json!(true), json!(false))
    );
    for path in ["/feature-flags/nope/enable", "/feature-flags/nope/disable"] {
        let res = app.put(path, &json!({})).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
    }

    let deleted = app.delete("/feature-flags/beta").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/feature-flags/beta").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete("/feature-flags/beta").await.status,
        StatusCode::NOT_FOUND
    );
    let data = event_data(&app, "flag.deleted").await;
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["slug"], "beta");
}

#[tokio::test]
async fn targets_are_organizations_and_users_of_the_environment() {
    let app = TestApp::new().await;
    flag(&app, "beta", true, false).await;
    let acme = org(&app, "Acme").await;
    let ada = user(&app, "ada@example.com", false).await;
    target(&app, "beta", &acme["id"]).await;
    target(&app, "beta", &ada["id"]).await;
    target(&app, "beta", &ada["id"]).await;
    assert_eq!(
        count(&app, "flag.rule_updated").await,
        2,
        "re-adding changes nothing"
    );
    assert_eq!(
        event_data(&app, "flag.rule_updated").await[0]["slug"],
        "beta"
    );

    let domain = format!("org_domain_{}", &acme["id"].as_str().unwrap()[4..]);
    for bad in [
        "conn_01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "acme",
        domain.as_str(),
        "org_",
    ] {
        let path = format!("/feature-flags/beta/targets/{bad}");
        for method in [Method::POST, Method::DELETE] {
            let res = app
                .send(method.clone(), &path, Some(&app.tenant.api_key), None)
                .await;
            assert_eq!(
                res.status,
                StatusCode::BAD_REQUEST,
                "{method} {bad}: {}",
                res.text
            );
            assert_eq!(res.body["code"], "invalid_resource_id_format");
        }
    }
    let unknown_org = app
        .post(
            "/feature-flags/beta/targets/org_01HZZZZZZZZZZZZZZZZZZZZZZZ",
            &json!({}),
        )
        .await;
    assert_eq!(
        unknown_org.status,
        StatusCode::NOT_FOUND,
        "{}",
        unknown_org.text
    );
    assert!(
        unknown_org.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Organization not found")
    );
    let unknown_flag = app
        .post(
            &format!(
                "/feature-flags/nope/targets/{}",
                ada["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(unknown_flag.status, StatusCode::NOT_FOUND);
    assert_eq!(
        count(&app, "flag.rule_updated").await,
        2,
        "failures record nothing"
    );

    let path = format!(
        "/feature-flags/beta/targets/{}",
        ada["id"].as_str().unwrap()
    );
    assert_eq!(app.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        count(&app, "flag.rule_updated").await,
        3,
        "removing twice records once"
    );
    // A user id of no user (well-formed or not) is a 404, like an unknown one.
    for unknown in ["user_01HZZZZZZZZZZZZZZZZZZZZZZZ", "user_x%20y"] {
        let res = app
            .delete(&format!("/feature-flags/beta/targets/{unknown}"))
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{unknown}: {}", res.text);
    }

    // Deleting the organization deletes its target.
    let acme_id = acme["id"].as_str().unwrap();
    let gone = app.delete(&format!("/organizations/{acme_id}")).await;
    assert!(gone.status.is_success(), "{}", gone.text);
    assert_eq!(app.count_rows("feature_flag_targets").await, 0);
}

#[tokio::test]
async fn another_environments_flags_and_subjects_are_404() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    flag(&app, "mine", true, true).await;
    let acme = org(&app, "Acme").await;
    let ada = user(&app, "ada@example.com", false).await;
    let (acme_id, ada_id) = (acme["id"].as_str().unwrap(), ada["id"].as_str().unwrap());
    let key = Some(other.api_key.as_str());
    for (method, path) in [
        (Method::GET, "/feature-flags/mine".to_string()),
        (Method::PUT, "/feature-flags/mine/enable".to_string()),
        (Method::PUT, "/feature-flags/mine/disable".to_string()),
        (Method::DELETE, "/feature-flags/mine".to_string()),
        (
            Method::POST,
            format!("/feature-flags/mine/targets/{acme_id}"),
        ),
        (
            Method::GET,
            format!("/organizations/{acme_id}/feature-flags"),
        ),
        (
            Method::GET,
            format!("/user_management/users/{ada_id}/feature-flags"),
        ),
    ] {
        let res = app.send(method.clone(), &path, key, Some(&json!({}))).await;
        assert_eq!(
            res.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            res.text
        );
    }
    // The other environment's own flag cannot target this environment's subjects.
    let res = app
        .send(
            Method::POST,
            "/feature-flags",
            key,
            Some(&json!({"slug": "theirs", "name": "T"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    for id in [acme_id, ada_id] {
        let res = app
            .send(
                Method::POST,
                &format!("/feature-flags/theirs/targets/{id}"),
                key,
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{id}: {}", res.text);
    }
    let listed = app.send(Method::GET, "/feature-flags", key, None).await;
    assert_eq!(slugs(&listed), ["theirs"]);
    assert_eq!(app.count_rows("feature_flag_targets").await, 0);
}

#[tokio::test]
async fn a_user_inherits_their_active_memberships_targets_and_their_own_wins() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let globex = org(&app, "Globex").await;
    let ada = user(&app, "ada@example.com", false).await;
    let membership = member(&app, &ada, &acme, "member").await;
    flag(&app, "acme-only", true, false).await;
    flag(&app, "globex-only", true, false).await;
    target(&app, "acme-only", &acme["id"]).await;
    target(&app, "globex-only", &globex["id"]).await;
    let path = format!(
        "/user_management/users/{}/feature-flags",
        ada["id"].as_str().unwrap()
    );
    assert_eq!(slugs(&app.get(&path).await), ["acme-only"]);

    // Paged: one at a time.
    member(&app, &ada, &globex, "member").await;
    let first = app.get(&format!("{path}?limit=1")).await;
    assert_eq!(slugs(&first), ["globex-only"]);
    let after = first.body["list_metadata"]["after"].as_str().unwrap();
    assert_eq!(
        slugs(&app.get(&format!("{path}?limit=1&after={after}")).await),
        ["acme-only"]
    );

    // Deactivating the Acme membership drops what it gave.
    let om = membership["id"].as_str().unwrap();
    let res = app
        .put(
            &format!("/user_management/organization_memberships/{om}/deactivate"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(slugs(&app.get(&path).await), ["globex-only"]);

    for bad in ["user_01HZZZZZZZZZZZZZZZZZZZZZZZ", "nope"] {
        let res = app
            .get(&format!("/user_management/users/{bad}/feature-flags"))
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{bad}");
    }
    for bad in ["org_01HZZZZZZZZZZZZZZZZZZZZZZZ", "nope"] {
        let res = app
            .get(&format!("/organizations/{bad}/feature-flags"))
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{bad}");
    }
    let acme_list = format!(
        "/organizations/{}/feature-flags?limit=0",
        acme["id"].as_str().unwrap()
    );
    assert_eq!(
        app.get(&acme_list).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn the_token_claim_follows_targeting_on_refresh() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let ada = user(&app, "ada@example.com", true).await;
    member(&app, &ada, &acme, "member").await;
    flag(&app, "for-ada", true, false).await;
    flag(&app, "for-acme", true, false).await;
    flag(&app, "off", false, true).await;

    let signed_in = password(&app, "ada@example.com").await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    let first = claims(signed_in.body["access_token"].as_str().unwrap());
    assert_eq!(first["feature_flags"], json!([]));

    let refresh = |token: Value| {
        let app = &app;
        async move {
            let res = grant(
                app,
                json!({"grant_type": "refresh_token", "refresh_token": token}),
            )
            .await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.text);
            res.body
        }
    };
    target(&app, "for-ada", &ada["id"]).await;
    target(&app, "for-acme", &acme["id"]).await;
    let second = refresh(signed_in.body["refresh_token"].clone()).await;
    let c = claims(second["access_token"].as_str().unwrap());
    assert_eq!(c["feature_flags"], json!(["for-ada", "for-acme"]));
    assert_eq!(c["org_id"], acme["id"]);

    let res = app
        .delete(&format!(
            "/feature-flags/for-ada/targets/{}",
            ada["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    app.put("/feature-flags/off/enable", &json!({})).await;
    let third = refresh(second["refresh_token"].clone()).await;
    assert_eq!(
        claims(third["access_token"].as_str().unwrap())["feature_flags"],
        json!(["for-acme", "off"])
    );
}
