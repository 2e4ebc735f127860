//! `GET /sdk/feature-flags` (both payload versions, ETag and 304) and OFREP's error bodies and
//! bulk ETag, through HTTP.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use super::{flag, target};
use crate::support::{TestApp, TestResponse};
use crate::um::{org, user};

async fn poll(app: &TestApp, query: &str, etag: Option<&str>) -> TestResponse {
    let mut req = Request::get(format!("/sdk/feature-flags{query}"))
        .header("authorization", format!("Bearer {}", app.tenant.api_key));
    if let Some(tag) = etag {
        req = req.header("if-none-match", tag);
    }
    app.send_request(req.body(Body::empty()).unwrap()).await
}

fn etag(res: &TestResponse) -> String {
    res.headers["etag"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn the_runtime_client_poll_answers_304_until_a_flag_or_target_changes() {
    let app = TestApp::new().await;
    let empty = poll(&app, "", None).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
    assert_eq!(empty.body, json!({}));
    let tag0 = etag(&empty);
    assert!(
        tag0.starts_with('"') && tag0.ends_with('"'),
        "strong: {tag0}"
    );

    flag(&app, "beta", true, false).await;
    flag(&app, "gamma", false, true).await;
    let acme = org(&app, "Acme").await;
    let ada = user(&app, "ada@example.com", false).await;
    target(&app, "beta", &ada["id"]).await;
    target(&app, "beta", &acme["id"]).await;

    let stale = poll(&app, "", Some(&tag0)).await;
    assert_eq!(stale.status, StatusCode::OK, "a change makes a new tag");
    let tag1 = etag(&stale);
    assert_ne!(tag1, tag0);
    assert_eq!(
        stale.body["beta"],
        json!({"slug": "beta", "enabled": true, "default_value": false, "targets": {
            "users": [{"id": ada["id"], "enabled": true}],
            "organizations": [{"id": acme["id"], "enabled": true}]}})
    );
    assert_eq!(
        stale.body["gamma"],
        json!({"slug": "gamma", "enabled": false, "default_value": true,
               "targets": {"users": [], "organizations": []}})
    );

    let fresh = poll(&app, "", Some(&tag1)).await;
    assert_eq!(fresh.status, StatusCode::NOT_MODIFIED);
    assert!(fresh.text.is_empty());
    assert_eq!(etag(&fresh), tag1);
    let weak = poll(&app, "", Some(&format!("\"x\", W/{tag1}"))).await;
    assert_eq!(weak.status, StatusCode::NOT_MODIFIED);

    // Payload version 2, as @workos-inc/node 12 polls it: its own tag.
    let v2 = poll(&app, "?payload_version=2", Some(&tag1)).await;
    assert_eq!(v2.status, StatusCode::OK);
    assert_eq!(v2.body["version"], 2);
    let beta = &v2.body["flags"]["beta"];
    assert_eq!(beta["off_value"], false);
    assert_eq!(beta["default_value"], false);
    let rules = beta["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(
        rules[0]["conditions"][0]["target_type"], "user",
        "users first"
    );
    assert_eq!(rules[0]["conditions"][0]["values"], json!([ada["id"]]));
    assert_eq!(rules[1]["conditions"][0]["target_type"], "organization");
    assert_eq!(
        (rules[1]["kind"].clone(), rules[1]["value"].clone()),
        (json!("conditions"), json!(true))
    );
    let tag2 = etag(&v2);
    assert_eq!(
        poll(&app, "?payload_version=2", Some(&tag2)).await.status,
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        poll(&app, "?payload_version=3", None).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Every kind of change moves the tag: enable, target removal, a cascade, a deletion.
    let mut tag = tag1;
    let acme_id = acme["id"].as_str().unwrap();
    let ada_id = ada["id"].as_str().unwrap();
    for (method, path) in [
        (Method::PUT, "/feature-flags/gamma/enable".to_string()),
        (
            Method::DELETE,
            format!("/feature-flags/beta/targets/{ada_id}"),
        ),
        (Method::DELETE, format!("/organizations/{acme_id}")),
        (Method::DELETE, "/feature-flags/gamma".to_string()),
    ] {
        let res = app
            .send(method, &path, Some(&app.tenant.api_key), Some(&json!({})))
            .await;
        assert!(res.status.is_success(), "{path}: {}", res.text);
        let next = poll(&app, "", Some(&tag)).await;
        assert_eq!(next.status, StatusCode::OK, "after {path}");
        tag = etag(&next);
    }
    let last = poll(&app, "", None).await;
    assert_eq!(
        last.body,
        json!({"beta": {"slug": "beta", "enabled": true, "default_value": false,
                        "targets": {"users": [], "organizations": []}}})
    );

    // Another environment sees its own (empty) flags; no key is a 401.
    let other = app.new_tenant("Other").await;
    let theirs = app
        .send(
            Method::GET,
            "/sdk/feature-flags",
            Some(&other.api_key),
            None,
        )
        .await;
    assert_eq!(theirs.body, json!({}));
    let anonymous = app
        .send(Method::GET, "/sdk/feature-flags", None, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

async fn ofrep(app: &TestApp, path: &str, body: &str, etag: Option<&str>) -> TestResponse {
    let mut req = Request::post(path)
        .header("authorization", format!("Bearer {}", app.tenant.api_key))
        .header("content-type", "application/json");
    if let Some(tag) = etag {
        req = req.header("if-none-match", tag);
    }
    app.send_request(req.body(Body::from(body.to_string())).unwrap())
        .await
}

#[tokio::test]
async fn ofrep_answers_its_own_errors_and_a_bulk_etag_per_context() {
    let app = TestApp::new().await;
    let ada = user(&app, "ada@example.com", false).await;
    flag(&app, "beta", true, false).await;
    target(&app, "beta", &ada["id"]).await;
    let ctx = json!({"context": {"targetingKey": ada["id"]}}).to_string();

    let one = ofrep(&app, "/ofrep/v1/evaluate/flags/beta", &ctx, None).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(
        one.body,
        json!({"key": "beta", "value": true, "reason": "TARGETING_MATCH", "variant": "on", "metadata": {}})
    );
    let anonymous = ofrep(&app, "/ofrep/v1/evaluate/flags/beta", "{}", None).await;
    assert_eq!(
        (
            anonymous.body["value"].clone(),
            anonymous.body["reason"].clone()
        ),
        (json!(false), json!("DEFAULT"))
    );
    let empty = ofrep(&app, "/ofrep/v1/evaluate/flags/beta", "", None).await;
    assert_eq!(empty.status, StatusCode::OK);
    let stranger = ofrep(
        &app,
        "/ofrep/v1/evaluate/flags/beta",
        r#"{"context": {"targetingKey": "someone", "organizationId": "org_nope"}}"#,
        None,
    )
    .await;
    assert_eq!(
        stranger.body["value"], false,
        "ids of no kind match nothing"
    );

    let missing = ofrep(&app, "/ofrep/v1/evaluate/flags/nope", &ctx, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["key"], "nope");
    assert_eq!(missing.body["errorCode"], "FLAG_NOT_FOUND");
    for (body, code) in [
        ("{", "PARSE_ERROR"),
        ("[1]", "INVALID_CONTEXT"),
        (r#"{"context": 5}"#, "INVALID_CONTEXT"),
        (r#"{"context": {"targetingKey": true}}"#, "INVALID_CONTEXT"),
    ] {
        for path in ["/ofrep/v1/evaluate/flags/beta", "/ofrep/v1/evaluate/flags"] {
            let res = ofrep(&app, path, body, None).await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{path} {body}");
            assert_eq!(res.body["errorCode"], code, "{path} {body}");
            assert!(res.body["errorDetails"].is_string());
            assert_eq!(res.body.get("key").is_some(), path.ends_with("beta"));
        }
    }

    let bulk = ofrep(&app, "/ofrep/v1/evaluate/flags", &ctx, None).await;
    assert_eq!(bulk.status, StatusCode::OK);
    assert_eq!(bulk.body["flags"], json!([one.body]));
    let tag = bulk.headers["etag"].to_str().unwrap().to_string();
    let again = ofrep(&app, "/ofrep/v1/evaluate/flags", &ctx, Some(&tag)).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    let other_context = ofrep(&app, "/ofrep/v1/evaluate/flags", "{}", Some(&tag)).await;
    assert_eq!(
        other_context.status,
        StatusCode::OK,
        "another context, another tag"
    );
    assert_eq!(other_context.body["flags"][0]["value"], false);
    app.put("/feature-flags/beta/disable", &json!({})).await;
    let changed = ofrep(&app, "/ofrep/v1/evaluate/flags", &ctx, Some(&tag)).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.body["flags"][0]["reason"], "DISABLED");
    let no_key = app
        .send(
            Method::POST,
            "/ofrep/v1/evaluate/flags",
            None,
            Some(&Value::Null),
        )
        .await;
    assert_eq!(no_key.status, StatusCode::UNAUTHORIZED);
}
