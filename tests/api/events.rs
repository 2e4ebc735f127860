//! `GET /events`: filters, cursors, payload shapes, tenancy.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn events_list_oldest_first_with_spec_payloads() {
    let app = TestApp::new().await;
    let org = app
        .post(
            "/organizations",
            &json!({"name": "Acme", "allow_profiles_outside_organization": true}),
        )
        .await
        .body;
    app.put(
        &format!("/organizations/{}", org["id"].as_str().unwrap()),
        &json!({"name": "Acme 2"}),
    )
    .await;
    let res = app.get("/events").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["object"], "list");
    let data = res.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    let e = &data[0];
    assert_eq!(e["object"], "event");
    assert!(e["id"].as_str().unwrap().starts_with("event_"));
    assert_eq!(e["event"], "organization.created");
    assert_eq!(e["data"]["object"], "organization");
    assert_eq!(e["data"]["id"], org["id"]);
    assert!(
        e["data"]
            .get("allow_profiles_outside_organization")
            .is_none(),
        "events drop this field"
    );
    assert!(e["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(data[1]["data"]["name"], "Acme 2");
    assert!(
        res.body["list_metadata"]
            .as_object()
            .unwrap()
            .contains_key("after")
    );
    assert!(res.body["list_metadata"].get("before").is_none());
}

#[tokio::test]
async fn events_filter_by_name_organization_and_range_and_page_with_after() {
    let app = TestApp::new().await;
    let a = app.post("/organizations", &json!({"name": "A"})).await.body;
    let b = app.post("/organizations", &json!({"name": "B"})).await.body;
    app.put(
        &format!("/organizations/{}", a["id"].as_str().unwrap()),
        &json!({"name": "A2"}),
    )
    .await;

    let created = app.get("/events?events=organization.created").await;
    assert_eq!(created.body["data"].as_array().unwrap().len(), 2);
    let both = app
        .get("/events?events=organization.created,organization.updated")
        .await;
    assert_eq!(both.body["data"].as_array().unwrap().len(), 3);
    let repeated = app
        .get("/events?events=organization.updated&events=organization.deleted")
        .await;
    assert_eq!(repeated.body["data"].as_array().unwrap().len(), 1);

    let by_org = app
        .get(&format!(
            "/events?organization_id={}",
            b["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(by_org.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(by_org.body["data"][0]["data"]["name"], "B");
    // A malformed organization id names no organization: an empty list, like an unknown one.
    for org in ["org_unknown", "not-an-org", "user_01H"] {
        let none = app.get(&format!("/events?organization_id={org}")).await;
        assert_eq!(none.status, StatusCode::OK, "{org}");
        assert_eq!(none.body["data"], json!([]), "{org}");
    }

    let page = app.get("/events?limit=2").await;
    assert_eq!(page.body["data"].as_array().unwrap().len(), 2);
    let after = page.body["list_metadata"]["after"]
        .as_str()
        .unwrap()
        .to_string();
    let rest = app.get(&format!("/events?limit=2&after={after}")).await;
    assert_eq!(rest.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest.body["data"][0]["event"], "organization.updated");
    assert!(rest.body["list_metadata"]["after"].is_null());

    let future = app.get("/events?range_start=2999-01-01T00:00:00Z").await;
    assert_eq!(future.body["data"], json!([]));
    let past = app.get("/events?range_end=2000-01-01").await;
    assert_eq!(past.body["data"], json!([]));
    let all = app
        .get("/events?range_start=2000-01-01T00:00:00Z&range_end=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 3);

    let bad = app.get("/events?range_start=yesterday").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["errors"][0]["field"], "range_start");
}

#[tokio::test]
async fn events_of_another_environment_are_invisible() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    app.post("/organizations", &json!({"name": "Mine"})).await;
    let theirs = app
        .send(Method::GET, "/events", Some(&other.api_key), None)
        .await;
    assert_eq!(theirs.body["data"], json!([]));
}
