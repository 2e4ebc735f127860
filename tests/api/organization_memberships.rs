//! `/user_management/organization_memberships` and `/authorization/roles`: shapes, role
//! catalogue, status transitions, events, tenancy.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;
use crate::um::{count, event_data, member, org, user};

#[tokio::test]
async fn memberships_embed_the_user_and_roles_and_default_to_member() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com", false).await;
    let o = org(&app, "Acme").await;
    let res = app
        .post(
            "/user_management/organization_memberships",
            &json!({"user_id": u["id"], "organization_id": o["id"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let m = &res.body;
    assert_eq!(m["object"], "organization_membership");
    assert!(m["id"].as_str().unwrap().starts_with("om_"));
    assert_eq!(m["status"], "active");
    assert_eq!(m["role"], json!({"slug": "member"}));
    assert_eq!(m["roles"], json!([{"slug": "member"}]));
    assert_eq!(m["organization_name"], "Acme");
    assert_eq!(m["directory_managed"], false);
    assert_eq!(m["custom_attributes"], json!({}));
    assert_eq!(m["user"]["id"], u["id"]);
    assert_eq!(m["user"]["object"], "user");

    let got = app
        .get(&format!(
            "/user_management/organization_memberships/{}",
            m["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["id"], m["id"]);

    let created = &event_data(&app, "organization_membership.created").await[0];
    assert_eq!(created["id"], m["id"]);
    assert_eq!(created["role"], json!({"slug": "member"}));
    assert!(created.get("user").is_none(), "events carry no user");
    assert!(created.get("organization_name").is_none());
    assert_eq!(created["custom_attributes"], json!({}));

    let dup = app
        .post(
            "/user_management/organization_memberships",
            &json!({"user_id": u["id"], "organization_id": o["id"]}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);
    assert_eq!(dup.body["code"], "organization_membership_already_exists");
}

#[tokio::test]
async fn roles_come_from_the_catalogue_and_custom_roles_can_be_added() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com", false).await;
    let o = org(&app, "Acme").await;
    let roles = app.get("/authorization/roles").await;
    assert_eq!(roles.status, StatusCode::OK);
    let slugs: Vec<&str> = roles.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["member", "admin"]);
    assert_eq!(roles.body["data"][0]["type"], "EnvironmentRole");
    assert!(
        roles.body["data"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("role_")
    );

    let unknown = app
        .post(
            "/user_management/organization_memberships",
            &json!({"user_id": u["id"], "organization_id": o["id"], "role_slug": "owner"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.body["code"], "invalid_role");

    let created = app
        .post(
            "/authorization/roles",
            &json!({"slug": "owner", "name": "Owner", "description": "Owns it"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["slug"], "owner");
    assert_eq!(created.body["permissions"], json!([]));
    assert_eq!(event_data(&app, "role.created").await[0]["slug"], "owner");
    let again = app
        .post(
            "/authorization/roles",
            &json!({"slug": "owner", "name": "Owner"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["code"], "role_slug_conflict");
    let bad = app
        .post(
            "/authorization/roles",
            &json!({"slug": "Bad Slug", "name": "x"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get("/authorization/roles/owner").await.body["name"],
        "Owner"
    );
    assert_eq!(
        app.get("/authorization/roles/nope").await.status,
        StatusCode::NOT_FOUND
    );

    let m = app
        .post(
            "/user_management/organization_memberships",
            &json!({"user_id": u["id"], "organization_id": o["id"], "role_slugs": ["owner", "admin", "owner"]}),
        )
        .await;
    assert_eq!(m.status, StatusCode::CREATED, "{}", m.text);
    assert_eq!(m.body["role"], json!({"slug": "owner"}));
    assert_eq!(
        m.body["roles"],
        json!([{"slug": "owner"}, {"slug": "admin"}])
    );

    let path = format!(
        "/user_management/organization_memberships/{}",
        m.body["id"].as_str().unwrap()
    );
    let updated = app.put(&path, &json!({"role_slug": "admin"})).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(updated.body["roles"], json!([{"slug": "admin"}]));
    let both = app
        .put(
            &path,
            &json!({"role_slug": "admin", "role_slugs": ["member"]}),
        )
        .await;
    assert_eq!(both.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_role = app.put(&path, &json!({"role_slugs": ["ghost"]})).await;
    assert_eq!(bad_role.body["code"], "invalid_role");
    let unchanged = app.put(&path, &json!({})).await;
    assert_eq!(unchanged.body["role"], json!({"slug": "admin"}));
    assert_eq!(count(&app, "organization_membership.updated").await, 1);
}

#[tokio::test]
async fn deactivate_reactivate_and_delete_follow_the_membership_rules() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com", false).await;
    let o = org(&app, "Acme").await;
    let m = member(&app, &u, &o, "admin").await;
    let id = m["id"].as_str().unwrap();
    let deactivate = format!("/user_management/organization_memberships/{id}/deactivate");
    let reactivate = format!("/user_management/organization_memberships/{id}/reactivate");

    let r = app.put(&reactivate, &json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "active");
    assert_eq!(
        count(&app, "organization_membership.updated").await,
        0,
        "no-op"
    );

    let d = app.put(&deactivate, &json!({})).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(d.body["status"], "inactive");
    app.put(&deactivate, &json!({})).await;
    assert_eq!(count(&app, "organization_membership.updated").await, 1);

    // Creating the pair again reactivates it with the new role.
    let again = app
        .post(
            "/user_management/organization_memberships",
            &json!({"user_id": u["id"], "organization_id": o["id"], "role_slug": "member"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_eq!(again.body["id"], m["id"]);
    assert_eq!(again.body["status"], "active");
    assert_eq!(again.body["role"], json!({"slug": "member"}));

    app.put(&deactivate, &json!({})).await;
    let r = app.put(&reactivate, &json!({})).await;
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["role"], json!({"slug": "member"}), "roles kept");

    // Pending memberships (from invitations) cannot be (de)activated.
    sqlx::query("update organization_memberships set status = 'pending' where id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let d = app.put(&deactivate, &json!({})).await;
    assert_eq!(d.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        d.body["code"],
        "cannot_deactivate_pending_organization_membership"
    );
    let r = app.put(&reactivate, &json!({})).await;
    assert_eq!(
        r.body["code"],
        "cannot_reactivate_pending_organization_membership"
    );

    let path = format!("/user_management/organization_memberships/{id}");
    let del = app.delete(&path).await;
    assert_eq!(del.status, StatusCode::OK);
    assert!(del.text.is_empty());
    assert_eq!(app.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(count(&app, "organization_membership.deleted").await, 1);
    for p in [&deactivate, &reactivate] {
        assert_eq!(app.put(p, &json!({})).await.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn listing_needs_a_user_or_organization_and_filters_by_status() {
    let app = TestApp::new().await;
    let a = user(&app, "a@example.com", false).await;
    let b = user(&app, "b@example.com", false).await;
    let o1 = org(&app, "One").await;
    let o2 = org(&app, "Two").await;
    member(&app, &a, &o1, "member").await;
    let m2 = member(&app, &a, &o2, "admin").await;
    member(&app, &b, &o1, "member").await;
    app.put(
        &format!(
            "/user_management/organization_memberships/{}/deactivate",
            m2["id"].as_str().unwrap()
        ),
        &json!({}),
    )
    .await;

    let missing = app.get("/user_management/organization_memberships").await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["code"], "missing_user_id_or_organization_id");

    let by_user = app
        .get(&format!(
            "/user_management/organization_memberships?user_id={}",
            a["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(by_user.status, StatusCode::OK);
    assert_eq!(
        by_user.body["data"].as_array().unwrap().len(),
        1,
        "active only"
    );
    let all = app
        .get(&format!(
            "/user_management/organization_memberships?user_id={}&statuses=active,inactive",
            a["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 2);
    let by_org = app
        .get(&format!(
            "/user_management/organization_memberships?organization_id={}&limit=1",
            o1["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(by_org.body["data"].as_array().unwrap().len(), 1);
    assert!(by_org.body["list_metadata"]["after"].is_string());
    let next = app
        .get(&format!(
            "/user_management/organization_memberships?organization_id={}&limit=1&after={}",
            o1["id"].as_str().unwrap(),
            by_org.body["list_metadata"]["after"].as_str().unwrap()
        ))
        .await;
    assert_eq!(next.body["data"].as_array().unwrap().len(), 1);
    assert_ne!(next.body["data"][0]["id"], by_org.body["data"][0]["id"]);
    let bad = app
        .get(&format!(
            "/user_management/organization_memberships?user_id={}&statuses=gone",
            a["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["code"], "invalid_request_parameters");
}

#[tokio::test]
async fn memberships_are_tenant_scoped_and_check_their_references() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    let u = user(&app, "ada@example.com", false).await;
    let o = org(&app, "Acme").await;
    let m = member(&app, &u, &o, "member").await;

    let missing_user = app
        .post(
            "/user_management/organization_memberships",
            &json!({"user_id": "user_nope", "organization_id": o["id"]}),
        )
        .await;
    assert_eq!(missing_user.status, StatusCode::NOT_FOUND);
    let missing_org = app
        .post(
            "/user_management/organization_memberships",
            &json!({"user_id": u["id"], "organization_id": "org_nope"}),
        )
        .await;
    assert_eq!(missing_org.status, StatusCode::NOT_FOUND);

    let path = format!(
        "/user_management/organization_memberships/{}",
        m["id"].as_str().unwrap()
    );
    let key = Some(other.api_key.as_str());
    for (method, p) in [
        (Method::GET, path.clone()),
        (Method::DELETE, path.clone()),
        (Method::PUT, format!("{path}/deactivate")),
    ] {
        let res = app.send(method.clone(), &p, key, Some(&json!({}))).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{method} {p}");
    }
    let theirs = app
        .send(
            Method::POST,
            "/user_management/organization_memberships",
            key,
            Some(&json!({"user_id": u["id"], "organization_id": o["id"]})),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let list = app
        .send(
            Method::GET,
            &format!(
                "/user_management/organization_memberships?user_id={}",
                u["id"].as_str().unwrap()
            ),
            key,
            None,
        )
        .await;
    assert_eq!(list.body["data"], json!([]));
    let roles = app
        .send(
            Method::POST,
            "/authorization/roles",
            key,
            Some(&json!({"slug": "owner", "name": "O"})),
        )
        .await;
    assert_eq!(roles.status, StatusCode::CREATED);
    let mine = app.get("/authorization/roles/owner").await;
    assert_eq!(
        mine.status,
        StatusCode::NOT_FOUND,
        "roles are per environment"
    );
    // Deleting the user or organization removes its memberships, with their events.
    app.delete(&format!(
        "/user_management/users/{}",
        u["id"].as_str().unwrap()
    ))
    .await;
    assert_eq!(app.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(count(&app, "organization_membership.deleted").await, 1);
    let v = user(&app, "vic@example.com", false).await;
    member(&app, &v, &o, "member").await;
    let deleted = app
        .delete(&format!("/organizations/{}", o["id"].as_str().unwrap()))
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    assert_eq!(count(&app, "organization_membership.deleted").await, 2);
    let names = app.event_names().await;
    assert!(
        names.ends_with(&[
            "organization_membership.deleted".into(),
            "organization.deleted".into()
        ]),
        "{names:?}"
    );
}
