//! Audit Logs, first slice: schemas (versions, lists), event ingestion (shape limits, the
//! schema at the named version, idempotent replay, tenancy), retention and configuration, and
//! the official Node SDK driving `auditLogs.createSchema` / `createEvent`.

use std::path::Path;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use keystead::ids::{EnvironmentId, OrganizationId};
use serde_json::{Value, json};

use crate::support::TestApp;

async fn org(app: &TestApp) -> String {
    let res = app.post("/organizations", &json!({"name": "Foo"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body["id"].as_str().unwrap().to_string()
}

async fn count(app: &TestApp, env: &EnvironmentId, org: &str) -> i64 {
    let mut conn = app.pool.acquire().await.unwrap();
    let org: OrganizationId = org.parse().unwrap();
    keystead::store::audit_logs::count_events(&mut conn, env, &org)
        .await
        .unwrap()
}

fn event(org: &str, event: Value) -> Value {
    let mut e = json!({
        "action": "document.updated",
        "occurred_at": chrono::Utc::now().to_rfc3339(),
        "actor": {"id": "user_1", "type": "user"},
        "targets": [{"id": "doc_1", "type": "document", "metadata": {"pages": 3}}],
        "context": {"location": "203.0.113.7"},
    });
    for (k, v) in event.as_object().unwrap() {
        e[k] = v.clone();
    }
    json!({"organization_id": org, "event": e})
}

async fn two_versions(app: &TestApp) {
    let v1 = app
        .post(
            "/audit_logs/actions/document.updated/schemas",
            &json!({"targets": [{"type": "document", "metadata":
                {"type": "object", "properties": {"pages": {"type": "number"}}}}]}),
        )
        .await;
    assert_eq!(v1.status, StatusCode::CREATED, "{}", v1.text);
    assert_eq!(v1.body["version"], 1);
    let v2 = app
        .post(
            "/audit_logs/actions/document.updated/schemas",
            &json!({"targets": [{"type": "invoice"}],
                    "metadata": {"type": "object", "properties": {"reason": {"type": "string"}},
                                 "required": ["reason"]}}),
        )
        .await;
    assert_eq!(v2.status, StatusCode::CREATED, "{}", v2.text);
    assert_eq!(v2.body["version"], 2);
}

#[tokio::test]
async fn schemas_add_versions_and_list_with_pagination() {
    let app = TestApp::new().await;
    two_versions(&app).await;
    app.post(
        "/audit_logs/actions/user.signed_in/schemas",
        &json!({"actor": {"metadata": {"type": "object", "properties": {}}}, "targets": []}),
    )
    .await;

    let actions = app.get("/audit_logs/actions").await;
    assert_eq!(actions.status, StatusCode::OK, "{}", actions.text);
    assert_eq!(actions.body["object"], "list");
    let data = actions.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["object"], "audit_log_action");
    assert_eq!(data[0]["name"], "user.signed_in");
    assert_eq!(data[1]["name"], "document.updated");
    assert_eq!(data[1]["schema"]["version"], 2, "the latest schema");
    assert_eq!(data[1]["schema"]["object"], "audit_log_schema");

    let page = app
        .get("/audit_logs/actions/document.updated/schemas?limit=1")
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.body["data"][0]["version"], 2);
    let after = page.body["list_metadata"]["after"].as_str().unwrap();
    let next = app
        .get(&format!(
            "/audit_logs/actions/document.updated/schemas?limit=1&after={after}"
        ))
        .await;
    assert_eq!(next.body["data"][0]["version"], 1);
    assert_eq!(next.body["data"][0]["targets"][0]["type"], "document");
    assert!(next.body["list_metadata"]["after"].is_null());

    let unknown = app.get("/audit_logs/actions/nope/schemas").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
    let bad_limit = app.get("/audit_logs/actions?limit=0").await;
    assert_eq!(bad_limit.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Another environment sees none of it.
    let other = app.new_tenant("other").await;
    let theirs = app
        .send(
            Method::GET,
            "/audit_logs/actions",
            Some(&other.api_key),
            None,
        )
        .await;
    assert_eq!(theirs.body["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn invalid_schemas_are_422_naming_each_field() {
    let app = TestApp::new().await;
    let res = app
        .post(
            "/audit_logs/actions/document.updated/schemas",
            &json!({"metadata": {"type": 12}, "actor": {}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    let fields = res.error_fields();
    assert!(fields.contains(&"targets"), "{fields:?}");
    assert!(fields.contains(&"metadata"), "{fields:?}");
    assert!(fields.contains(&"actor.metadata"), "{fields:?}");
    let none = app.get("/audit_logs/actions").await;
    assert_eq!(
        none.body["data"].as_array().unwrap().len(),
        0,
        "nothing written"
    );
}

#[tokio::test]
async fn events_are_checked_against_the_version_they_name() {
    let app = TestApp::new().await;
    let env = app.tenant.environment_id.clone();
    let org = org(&app).await;
    two_versions(&app).await;

    // No version: version 1 (document targets), not the latest (invoice only).
    let ok = app
        .post("/audit_logs/events", &event(&org, json!({})))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body, json!({"success": true}));

    let v2_doc = app
        .post(
            "/audit_logs/events",
            &event(&org, json!({"version": 2, "metadata": {"reason": "x"}})),
        )
        .await;
    assert_eq!(v2_doc.status, StatusCode::BAD_REQUEST, "{}", v2_doc.text);
    assert_eq!(v2_doc.body["code"], "invalid_audit_log_event");
    assert_eq!(v2_doc.body["errors"][0]["instancePath"], "/targets/0/type");

    let v2_missing_meta = app
        .post(
            "/audit_logs/events",
            &event(
                &org,
                json!({"version": 2, "targets": [{"id": "in_1", "type": "invoice"}]}),
            ),
        )
        .await;
    assert_eq!(
        v2_missing_meta.status,
        StatusCode::BAD_REQUEST,
        "{}",
        v2_missing_meta.text
    );
    assert_eq!(
        v2_missing_meta.body["errors"][0]["instancePath"],
        "/metadata"
    );

    let v2 = app
        .post(
            "/audit_logs/events",
            &event(
                &org,
                json!({"version": 2, "targets": [{"id": "in_1", "type": "invoice"}],
                                "metadata": {"reason": "refund"}}),
            ),
        )
        .await;
    assert_eq!(v2.status, StatusCode::OK, "{}", v2.text);

    let wrong_type = app
        .post(
            "/audit_logs/events",
            &event(&org, json!({"targets": [{"id": "d", "type": "document", "metadata": {"pages": "three"}}]})),
        )
        .await;
    assert_eq!(
        wrong_type.status,
        StatusCode::BAD_REQUEST,
        "{}",
        wrong_type.text
    );
    assert_eq!(
        wrong_type.body["errors"][0]["instancePath"],
        "/targets/0/metadata/pages"
    );

    let no_such_version = app
        .post("/audit_logs/events", &event(&org, json!({"version": 3})))
        .await;
    assert_eq!(no_such_version.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        no_such_version.body["errors"][0]["instancePath"],
        "/version"
    );

    // An action that has no schema is not configured: refused, nothing written.
    let unknown = app
        .post(
            "/audit_logs/events",
            &event(
                &org,
                json!({"action": "user.signed_in", "targets": [{"id": "x", "type": "anything"}],
                                "metadata": {"k": true, "n": 1}}),
            ),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.text);
    assert_eq!(unknown.body["code"], "invalid_audit_log_event");
    assert_eq!(unknown.body["errors"][0]["instancePath"], "/action");
    assert_eq!(count(&app, &env, &org).await, 2);
}

#[tokio::test]
async fn malformed_events_are_422_naming_each_field_and_write_nothing() {
    let app = TestApp::new().await;
    let env = app.tenant.environment_id.clone();
    let org = org(&app).await;
    let many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cases = [
        (
            json!({"organization_id": org, "event": {"occurred_at": "2024-01-01T00:00:00Z"}}),
            vec![
                "event.action",
                "event.actor",
                "event.targets",
                "event.context",
            ],
        ),
        (
            event(&org, json!({"metadata": many})),
            vec!["event.metadata"],
        ),
        (
            event(&org, json!({"metadata": {"k".repeat(41): "v"}})),
            vec![],
        ),
        (
            event(
                &org,
                json!({"actor": {"id": "u", "type": "user", "metadata": {"k": "v".repeat(501)}}}),
            ),
            vec!["event.actor.metadata.k"],
        ),
        (
            event(&org, json!({"metadata": {"k": {"nested": 1}}})),
            vec!["event.metadata.k"],
        ),
        (
            event(
                &org,
                json!({"occurred_at": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339()}),
            ),
            vec!["event.occurred_at"],
        ),
        (
            event(&org, json!({"occurred_at": "yesterday"})),
            vec!["event.occurred_at"],
        ),
        (
            event(
                &org,
                json!({"targets": vec![json!({"id": "d", "type": "document"}); 51]}),
            ),
            vec!["event.targets"],
        ),
        (event(&org, json!({"version": 0})), vec!["event.version"]),
        (
            json!({"event": {}}),
            vec!["organization_id", "event.action"],
        ),
    ];
    for (body, fields) in cases {
        let res = app.post("/audit_logs/events", &body).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            res.text
        );
        assert_eq!(res.body["message"], "Validation failed.");
        let got = res.error_fields();
        assert!(!got.is_empty());
        for f in fields {
            assert!(got.contains(&f), "{f} in {got:?}");
        }
    }
    assert_eq!(count(&app, &env, &org).await, 0);
}

#[tokio::test]
async fn another_environments_organization_is_404() {
    let app = TestApp::new().await;
    let other = app.new_tenant("other").await;
    let theirs = app
        .send(
            Method::POST,
            "/organizations",
            Some(&other.api_key),
            Some(&json!({"name": "Theirs"})),
        )
        .await;
    let theirs = theirs.body["id"].as_str().unwrap().to_string();
    let res = app
        .post("/audit_logs/events", &event(&theirs, json!({})))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    assert_eq!(
        res.body["message"],
        format!("Organization not found: '{theirs}'.")
    );
    let garbage = app
        .post("/audit_logs/events", &event("not-an-id", json!({})))
        .await;
    assert_eq!(garbage.status, StatusCode::NOT_FOUND);
    for path in ["audit_logs_retention", "audit_log_configuration"] {
        let res = app.get(&format!("/organizations/{theirs}/{path}")).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
    }
    let put = app
        .put(
            &format!("/organizations/{theirs}/audit_logs_retention"),
            &json!({"retention_period_in_days": 30}),
        )
        .await;
    assert_eq!(put.status, StatusCode::NOT_FOUND);
    assert_eq!(count(&app, &other.environment_id, &theirs).await, 0);
}

#[tokio::test]
async fn an_idempotent_replay_returns_the_first_answer_and_writes_nothing() {
    let app = TestApp::new().await;
    let env = app.tenant.environment_id.clone();
    let org = org(&app).await;
    two_versions(&app).await;
    let body = event(&org, json!({}));
    let send = || {
        Request::builder()
            .method(Method::POST)
            .uri("/audit_logs/events")
            .header("authorization", format!("Bearer {}", app.tenant.api_key))
            .header("content-type", "application/json")
            .header("idempotency-key", "5b2d5c1e-audit")
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap()
    };
    let first = app.send_request(send()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let second = app.send_request(send()).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body, first.body);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(count(&app, &env, &org).await, 1);
}

#[tokio::test]
async fn retention_is_30_or_365_and_shows_in_the_configuration() {
    let app = TestApp::new().await;
    let org = org(&app).await;
    let path = format!("/organizations/{org}/audit_logs_retention");
    let default = app.get(&path).await;
    assert_eq!(default.status, StatusCode::OK, "{}", default.text);
    assert_eq!(default.body, json!({"retention_period_in_days": 365}));
    let set = app
        .put(&path, &json!({"retention_period_in_days": 30}))
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert_eq!(set.body["retention_period_in_days"], 30);
    for bad in [
        json!({"retention_period_in_days": 31}),
        json!({}),
        json!({"retention_period_in_days": "30"}),
    ] {
        let res = app.put(&path, &bad).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(res.body["errors"][0]["field"], "retention_period_in_days");
    }
    assert_eq!(app.get(&path).await.body["retention_period_in_days"], 30);
    let config = app
        .get(&format!("/organizations/{org}/audit_log_configuration"))
        .await;
    assert_eq!(config.status, StatusCode::OK, "{}", config.text);
    assert_eq!(
        config.body,
        json!({"organization_id": org, "retention_period_in_days": 30, "state": "active",
               "log_stream": null})
    );
    let unknown = app
        .get("/organizations/org_01AAAAAAAAAAAAAAAAAAAAAAAA/audit_log_configuration")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

/// The newest official Node SDK: `auditLogs.createSchema` (versions 1 and 2) and
/// `auditLogs.createEvent` (valid, replayed with its idempotency key, refused by the schema,
/// unknown organization), `tests/sdk/audit_logs.mjs`.
#[tokio::test]
async fn the_official_node_sdk_creates_schemas_and_events() {
    if crate::support::skip("KEYSTEAD_SKIP_SDK_TESTS", "the Node SDK audit-log test") {
        return;
    }
    let app = TestApp::new().await;
    let env = app.tenant.environment_id.clone();
    let org = org(&app).await;
    let base = app.serve().await;
    let sdk = crate::support::locks::node_modules("node-newest").join("@workos-inc/node");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/audit_logs.mjs");
    let key = app.tenant.api_key.clone();
    let org_id = org.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .env("KEYSTEAD_BASE_URL", base)
            .env("KEYSTEAD_API_KEY", key)
            .env("KEYSTEAD_NODE_SDK_DIR", sdk)
            .env("KEYSTEAD_ORG_ID", org_id)
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok"),
        "node: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(&app, &env, &org).await, 1, "the replay wrote nothing");
}
