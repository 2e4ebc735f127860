//! `/organization_domains` including DNS verification against an injected zone.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

async fn org(app: &TestApp) -> String {
    app.post("/organizations", &json!({"name": "Foo"}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_domain_is_created_pending_and_verified_by_its_txt_record() {
    let app = TestApp::new().await;
    let org_id = org(&app).await;
    let res = app
        .post(
            "/organization_domains",
            &json!({"domain": "foo-corp.com", "organization_id": org_id}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let d = res.body;
    assert_eq!(d["object"], "organization_domain");
    assert!(d["id"].as_str().unwrap().starts_with("org_domain_"));
    assert_eq!(d["state"], "pending");
    let id = d["id"].as_str().unwrap();

    // Wrong token: failed, with a verification_failed event.
    let name = format!(
        "{}.foo-corp.com",
        d["verification_prefix"].as_str().unwrap()
    );
    app.dns.set(&name, vec!["something-else".into()]);
    let failed = app
        .post(&format!("/organization_domains/{id}/verify"), &json!({}))
        .await;
    assert_eq!(failed.status, StatusCode::CREATED);
    assert_eq!(failed.body["state"], "failed");

    app.dns.set(
        &name,
        vec![
            "other".into(),
            d["verification_token"].as_str().unwrap().to_string(),
        ],
    );
    let verified = app
        .send(
            Method::POST,
            &format!("/organization_domains/{id}/verify"),
            Some(&app.tenant.api_key),
            None,
        )
        .await;
    assert_eq!(verified.status, StatusCode::CREATED);
    assert_eq!(verified.body["state"], "verified");

    let again = app
        .post(&format!("/organization_domains/{id}/verify"), &json!({}))
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.body["code"], "domain_already_verified");

    let got = app.get(&format!("/organization_domains/{id}")).await;
    assert_eq!(got.body["state"], "verified");
    let org = app.get(&format!("/organizations/{org_id}")).await;
    assert_eq!(org.body["domains"][0]["state"], "verified");

    let events = app.event_names().await;
    for e in [
        "organization_domain.created",
        "organization_domain.verification_failed",
        "organization_domain.verified",
        "organization_domain.updated",
    ] {
        assert!(events.iter().any(|n| n == e), "missing {e} in {events:?}");
    }
}

#[tokio::test]
async fn verification_fails_when_another_organization_verified_the_domain() {
    let app = TestApp::new().await;
    app.post(
        "/organizations",
        &json!({"name": "Owner", "domain_data": [{"domain": "taken.com", "state": "verified"}]}),
    )
    .await;
    let org_id = org(&app).await;
    let d = app
        .post(
            "/organization_domains",
            &json!({"domain": "taken.com", "organization_id": org_id}),
        )
        .await
        .body;
    let name = format!("{}.taken.com", d["verification_prefix"].as_str().unwrap());
    app.dns.set(
        &name,
        vec![d["verification_token"].as_str().unwrap().to_string()],
    );
    let res = app
        .post(
            &format!("/organization_domains/{}/verify", d["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.body["state"], "failed");
    let data: serde_json::Value = sqlx::query_scalar(
        "select data from events where event = 'organization_domain.verification_failed'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(data["reason"], "domain_verified_by_other_organization");
}

#[tokio::test]
async fn domain_errors_are_workos_shaped() {
    let app = TestApp::new().await;
    let org_id = org(&app).await;
    let missing_org = app
        .post(
            "/organization_domains",
            &json!({"domain": "a.com", "organization_id": "org_nope"}),
        )
        .await;
    assert_eq!(missing_org.status, StatusCode::NOT_FOUND);
    let bad = app
        .post(
            "/organization_domains",
            &json!({"domain": "no_dots", "organization_id": org_id}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing_field = app
        .post("/organization_domains", &json!({"organization_id": org_id}))
        .await;
    assert_eq!(missing_field.body["errors"][0]["field"], "domain");
    assert_eq!(
        app.post(
            "/organization_domains",
            &json!({"domain": "a.com", "organization_id": org_id})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let dup = app
        .post(
            "/organization_domains",
            &json!({"domain": "A.com", "organization_id": org_id}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.body["code"], "domain_already_exists");
    assert_eq!(
        app.get("/organization_domains/org_domain_nope")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete("/organization_domains/org_domain_nope")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post("/organization_domains/org_domain_nope/verify", &json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn deleting_a_domain_removes_it_from_its_organization() {
    let app = TestApp::new().await;
    let org_id = org(&app).await;
    let d = app
        .post(
            "/organization_domains",
            &json!({"domain": "gone.com", "organization_id": org_id}),
        )
        .await
        .body;
    let id = d["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/organization_domains/{id}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/organization_domains/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/organizations/{org_id}")).await.body["domains"],
        json!([])
    );
    assert_eq!(
        app.event_names().await.last().unwrap(),
        "organization_domain.deleted"
    );
}

#[tokio::test]
async fn another_environments_domain_is_invisible() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    let org_id = org(&app).await;
    let d = app
        .post(
            "/organization_domains",
            &json!({"domain": "mine.com", "organization_id": org_id}),
        )
        .await
        .body;
    let id = d["id"].as_str().unwrap();
    let key = Some(other.api_key.as_str());
    assert_eq!(
        app.send(
            Method::GET,
            &format!("/organization_domains/{id}"),
            key,
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send(
            Method::DELETE,
            &format!("/organization_domains/{id}"),
            key,
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send(
            Method::POST,
            &format!("/organization_domains/{id}/verify"),
            key,
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // Nor can another environment attach a domain to this organization.
    let res = app
        .send(
            Method::POST,
            "/organization_domains",
            key,
            Some(&json!({"domain": "x.com", "organization_id": org_id})),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}
