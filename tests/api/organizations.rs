//! `/organizations`: happy and error paths, events, tenancy.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn creating_an_organization_returns_the_full_workos_shape() {
    let app = TestApp::new().await;
    let res = app
        .post(
            "/organizations",
            &json!({
                "name": "Foo Corp",
                "domain_data": [{"domain": "Foo-Corp.com", "state": "pending"}, {"domain": "bar.io", "state": "verified"}],
                "external_id": "ext_1",
                "metadata": {"tier": "diamond"}
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let org = &res.body;
    assert_eq!(org["object"], "organization");
    assert!(org["id"].as_str().unwrap().starts_with("org_01"));
    assert_eq!(org["name"], "Foo Corp");
    assert_eq!(org["external_id"], "ext_1");
    assert_eq!(org["metadata"], json!({"tier": "diamond"}));
    assert_eq!(org["allow_profiles_outside_organization"], false);
    let created_at = org["created_at"].as_str().unwrap();
    assert!(
        created_at.ends_with('Z') && created_at.len() == 24,
        "{created_at}"
    );
    let domains = org["domains"].as_array().unwrap();
    assert_eq!(domains.len(), 2);
    assert_eq!(domains[0]["domain"], "foo-corp.com");
    assert_eq!(domains[0]["state"], "pending");
    assert_eq!(domains[0]["verification_strategy"], "dns");
    assert!(domains[0]["verification_token"].is_string());
    assert_eq!(domains[1]["state"], "verified");
    assert_eq!(domains[1]["verification_strategy"], "manual");
    assert_eq!(domains[1]["object"], "organization_domain");

    let events = app.event_names().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "organization_domain.created")
            .count(),
        2
    );
    assert_eq!(events.last().unwrap(), "organization.created");
}

#[tokio::test]
async fn null_fields_are_sent_as_null() {
    let app = TestApp::new().await;
    let res = app.post("/organizations", &json!({"name": "Plain"})).await;
    assert_eq!(res.status, StatusCode::CREATED);
    assert!(res.body.as_object().unwrap().contains_key("external_id"));
    assert!(res.body["external_id"].is_null());
    assert_eq!(res.body["metadata"], json!({}));
    assert_eq!(res.body["domains"], json!([]));
}

#[tokio::test]
async fn get_update_and_delete_round_trip() {
    let app = TestApp::new().await;
    let org = app
        .post(
            "/organizations",
            &json!({"name": "A", "metadata": {"a": "1", "b": "2"}}),
        )
        .await
        .body;
    let id = org["id"].as_str().unwrap();

    let got = app.get(&format!("/organizations/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["id"], id);

    let updated = app
        .put(
            &format!("/organizations/{id}"),
            &json!({"name": "B", "metadata": {"a": null, "c": "3"}, "external_id": "x-9", "domain_data": [{"domain": "b.com", "state": "pending"}]}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(updated.body["name"], "B");
    assert_eq!(updated.body["metadata"], json!({"b": "2", "c": "3"}));
    assert_eq!(updated.body["domains"][0]["domain"], "b.com");

    let by_ext = app.get("/organizations/external_id/x-9").await;
    assert_eq!(by_ext.status, StatusCode::OK);
    assert_eq!(by_ext.body["id"], id);

    // A partial update leaves other fields alone; `null` clears a nullable one.
    let cleared = app
        .put(
            &format!("/organizations/{id}"),
            &json!({"external_id": null}),
        )
        .await;
    assert_eq!(cleared.body["name"], "B");
    assert!(cleared.body["external_id"].is_null());
    assert_eq!(cleared.body["domains"].as_array().unwrap().len(), 1);

    let del = app.delete(&format!("/organizations/{id}")).await;
    assert_eq!(del.status, StatusCode::ACCEPTED);
    assert_eq!(
        app.get(&format!("/organizations/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let events = app.event_names().await;
    assert!(events.contains(&"organization.updated".to_string()));
    assert_eq!(events.last().unwrap(), "organization.deleted");
}

#[tokio::test]
async fn unknown_ids_are_404_with_the_workos_message() {
    let app = TestApp::new().await;
    let res = app.get("/organizations/org_01HXYZ").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        res.body,
        json!({"message": "Organization not found: 'org_01HXYZ'."})
    );
    assert_eq!(
        app.put("/organizations/org_nope", &json!({"name": "x"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete("/organizations/org_nope").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/organizations/external_id/nope").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn malformed_ids_answer_the_same_404_as_unknown_ones() {
    let app = TestApp::new().await;
    // Another kind's id (a domain id starts like an organization id), no prefix, a user id: the
    // path is parsed as a typed id, and a failed parse is indistinguishable from an unknown id.
    for id in ["org_domain_01HXYZ", "not-an-id", "user_01HXYZ", "org_"] {
        let res = app.get(&format!("/organizations/{id}")).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(
            res.body,
            json!({"message": format!("Organization not found: '{id}'.")})
        );
        let res = app.delete(&format!("/organizations/{id}")).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(
            res.body,
            json!({"message": format!("Organization not found: '{id}'.")})
        );
    }
    let res = app.get("/user_management/users/org_01HXYZ").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        res.body,
        json!({"message": "User not found: 'org_01HXYZ'."})
    );
    let res = app.get("/organization_domains/org_01HXYZ").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        res.body,
        json!({"message": "Organization Domain not found: 'org_01HXYZ'."})
    );
}

#[tokio::test]
async fn invalid_input_is_a_workos_4xx_and_writes_nothing() {
    let app = TestApp::new().await;
    let missing = app.post("/organizations", &json!({})).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.body["code"], "invalid_request_parameters");
    assert_eq!(
        missing.body["errors"][0],
        json!({"code": "required", "field": "name"})
    );

    let wrong_type = app.post("/organizations", &json!({"name": 5})).await;
    assert_eq!(wrong_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong_type.body["errors"][0]["field"], "name");

    let metadata = app
        .post(
            "/organizations",
            &json!({"name": "x", "metadata": {"k": 1}}),
        )
        .await;
    assert_eq!(metadata.status, StatusCode::BAD_REQUEST);
    assert_eq!(metadata.body["code"], "invalid_metadata");

    let bad_domain = app
        .post(
            "/organizations",
            &json!({"name": "x", "domain_data": [{"domain": "not a domain", "state": "pending"}]}),
        )
        .await;
    assert_eq!(bad_domain.status, StatusCode::UNPROCESSABLE_ENTITY);

    let bad_state = app
        .post(
            "/organizations",
            &json!({"name": "x", "domain_data": [{"domain": "a.com", "state": "bogus"}]}),
        )
        .await;
    assert_eq!(bad_state.status, StatusCode::UNPROCESSABLE_ENTITY);

    assert!(app.event_names().await.is_empty());
    let count: i64 = sqlx::query_scalar("select count(*) from organizations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_duplicate_external_id_is_rejected_without_a_partial_write() {
    let app = TestApp::new().await;
    assert_eq!(
        app.post(
            "/organizations",
            &json!({"name": "a", "external_id": "dup"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let before = app.event_names().await.len();
    let res = app
        .post(
            "/organizations",
            &json!({"name": "b", "external_id": "dup", "domain_data": [{"domain": "b.com", "state": "pending"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["code"], "external_id_already_used");
    assert_eq!(
        app.event_names().await.len(),
        before,
        "no event for a failed mutation"
    );
    let domains: i64 = sqlx::query_scalar("select count(*) from organization_domains")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(domains, 0);
}

#[tokio::test]
async fn a_domain_verified_by_another_organization_is_a_conflict() {
    let app = TestApp::new().await;
    let first = app
        .post(
            "/organizations",
            &json!({"name": "a", "domain_data": [{"domain": "x.com", "state": "verified"}]}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let second = app
        .post(
            "/organizations",
            &json!({"name": "b", "domain_data": [{"domain": "x.com", "state": "verified"}]}),
        )
        .await;
    assert_eq!(second.status, StatusCode::CONFLICT);
    // Pending claims on the same domain are allowed (verification decides).
    let pending = app
        .post(
            "/organizations",
            &json!({"name": "c", "domain_data": [{"domain": "x.com", "state": "pending"}]}),
        )
        .await;
    assert_eq!(pending.status, StatusCode::CREATED);
}

#[tokio::test]
async fn listing_pages_by_cursor_in_every_order() {
    let app = TestApp::new().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let res = app
            .post("/organizations", &json!({"name": format!("Org {i}")}))
            .await;
        ids.push(res.body["id"].as_str().unwrap().to_string());
    }
    // Default: newest first.
    let page = app.get("/organizations?limit=2").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body["object"], "list");
    let data: Vec<&str> = page.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(data, [ids[4].as_str(), ids[3].as_str()]);
    assert!(page.body["list_metadata"]["before"].is_null());
    assert_eq!(page.body["list_metadata"]["after"], ids[3]);

    let next = app
        .get(&format!("/organizations?limit=2&after={}", ids[3]))
        .await;
    let data: Vec<&str> = next.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(data, [ids[2].as_str(), ids[1].as_str()]);
    assert_eq!(next.body["list_metadata"]["before"], ids[2]);

    let back = app
        .get(&format!("/organizations?limit=2&before={}", ids[2]))
        .await;
    let data: Vec<&str> = back.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(data, [ids[4].as_str(), ids[3].as_str()]);

    let last = app
        .get(&format!("/organizations?limit=2&after={}", ids[1]))
        .await;
    assert_eq!(last.body["data"].as_array().unwrap().len(), 1);
    assert!(last.body["list_metadata"]["after"].is_null());

    let asc = app.get("/organizations?order=asc&limit=3").await;
    assert_eq!(asc.body["data"][0]["id"], ids[0]);
    assert_eq!(asc.body["list_metadata"]["after"], ids[2]);

    // `normal`: newest first, `before` continues toward older records.
    let normal = app
        .get(&format!(
            "/organizations?order=normal&limit=2&before={}",
            ids[4]
        ))
        .await;
    assert_eq!(normal.body["data"][0]["id"], ids[3]);

    assert_eq!(
        app.get("/organizations?limit=101").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get("/organizations?order=sideways").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn listing_filters_by_domains_and_search() {
    let app = TestApp::new().await;
    app.post(
        "/organizations",
        &json!({"name": "Acme", "domain_data": [{"domain": "acme.com", "state": "pending"}]}),
    )
    .await;
    app.post(
        "/organizations",
        &json!({"name": "Globex", "domain_data": [{"domain": "globex.com", "state": "pending"}]}),
    )
    .await;
    app.post("/organizations", &json!({"name": "Initech"}))
        .await;
    let by_domain = app.get("/organizations?domains=acme.com,globex.com").await;
    assert_eq!(by_domain.body["data"].as_array().unwrap().len(), 2);
    let repeated = app
        .get("/organizations?domains=acme.com&domains=nope.com")
        .await;
    assert_eq!(repeated.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(repeated.body["data"][0]["name"], "Acme");
    let search = app.get("/organizations?search=glob").await;
    assert_eq!(search.body["data"][0]["name"], "Globex");
    assert_eq!(search.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn another_environments_organization_is_invisible() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    let org = app
        .post(
            "/organizations",
            &json!({"name": "Mine", "external_id": "e1"}),
        )
        .await
        .body;
    let id = org["id"].as_str().unwrap();
    let key = Some(other.api_key.as_str());
    use axum::http::Method;
    assert_eq!(
        app.send(Method::GET, &format!("/organizations/{id}"), key, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send(
            Method::PUT,
            &format!("/organizations/{id}"),
            key,
            Some(&json!({"name": "x"}))
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send(Method::DELETE, &format!("/organizations/{id}"), key, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send(Method::GET, "/organizations/external_id/e1", key, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let list = app.send(Method::GET, "/organizations", key, None).await;
    assert_eq!(list.body["data"], json!([]));
    // The same external id is free in the other environment.
    let theirs = app
        .send(
            Method::POST,
            "/organizations",
            key,
            Some(&json!({"name": "Theirs", "external_id": "e1"})),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    assert_eq!(
        app.get(&format!("/organizations/{id}")).await.body["name"],
        "Mine"
    );
}

#[tokio::test]
async fn a_conflict_on_a_later_domain_rolls_back_the_organization_and_its_events() {
    let app = TestApp::new().await;
    app.post(
        "/organizations",
        &json!({"name": "Owner", "domain_data": [{"domain": "owned.com", "state": "verified"}]}),
    )
    .await;
    let before = app.event_names().await.len();
    let res = app
        .post(
            "/organizations",
            &json!({"name": "Late", "domain_data": [{"domain": "fresh.com", "state": "pending"}, {"domain": "owned.com", "state": "verified"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(app.event_names().await.len(), before);
    let orgs: i64 = sqlx::query_scalar("select count(*) from organizations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(orgs, 1);
    let fresh: i64 =
        sqlx::query_scalar("select count(*) from organization_domains where domain = 'fresh.com'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(fresh, 0);
}

/// Twenty concurrent PUTs, each setting its own metadata key, keep every key: the merge runs on
/// the row locked in the update's transaction, not on a copy read before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_metadata_updates_keep_every_key() {
    let app = TestApp::new().await;
    let org = app
        .post(
            "/organizations",
            &json!({"name": "Race", "metadata": {"seed": "0"}}),
        )
        .await;
    assert_eq!(org.status, StatusCode::CREATED, "{}", org.text);
    let path = format!("/organizations/{}", org.body["id"].as_str().unwrap());
    let metadata = app.put_metadata_keys_concurrently(&path, 20).await;
    let mut want = json!({"seed": "0"});
    for i in 0..20 {
        want[format!("k{i}")] = json!(format!("v{i}"));
    }
    assert_eq!(metadata, want);
}
