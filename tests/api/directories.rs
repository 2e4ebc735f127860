//! Directory Sync API: `POST /directories` (extension), token rotation, reads, filters, delete,
//! tenancy; SCIM writes showing up as directory users and groups with their `dsync.*` events.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};

/// A directory made through the API: (directory id, SCIM base path, bearer token).
pub struct Dir {
    pub id: String,
    pub base: String,
    pub token: String,
    pub org: String,
}

pub async fn new_directory(app: &TestApp, kind: &str) -> Dir {
    let org = app
        .post("/organizations", &json!({"name": "Acme"}))
        .await
        .body;
    let res = app
        .post(
            "/directories",
            &json!({"organization_id": org["id"], "name": "Acme IdP", "type": kind}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let id = res.body["id"].as_str().unwrap().to_string();
    let endpoint = res.body["scim"]["endpoint"].as_str().unwrap();
    assert_eq!(endpoint, format!("http://keystead.test/scim/v2/{id}"));
    Dir {
        base: endpoint
            .trim_start_matches("http://keystead.test")
            .to_string(),
        token: res.body["scim"]["bearer_token"]
            .as_str()
            .unwrap()
            .to_string(),
        org: org["id"].as_str().unwrap().to_string(),
        id,
    }
}

/// A SCIM request with the directory's token (`application/scim+json`).
pub async fn scim(
    app: &TestApp,
    dir: &Dir,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> TestResponse {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("{}{path}", dir.base))
        .header("authorization", format!("Bearer {}", dir.token));
    let req = match body {
        Some(b) => req
            .header("content-type", "application/scim+json")
            .body(Body::from(serde_json::to_vec(&b).unwrap())),
        None => {
            req = req.header("accept", "application/scim+json");
            req.body(Body::empty())
        }
    }
    .unwrap();
    app.send_request(req).await
}

#[tokio::test]
async fn create_read_filter_rotate_and_delete_directories() {
    let app = TestApp::new().await;
    let dir = new_directory(&app, "okta scim v2.0").await;
    let got = app.get(&format!("/directories/{}", dir.id)).await;
    assert_eq!(got.status, StatusCode::OK);
    let d = &got.body;
    assert_eq!(d["object"], "directory");
    assert_eq!(d["type"], "okta scim v2.0");
    assert_eq!(d["state"], "linked");
    assert_eq!(d["organization_id"], dir.org);
    assert!(d["external_key"].as_str().is_some_and(|k| !k.is_empty()));
    assert_eq!(
        d["metadata"],
        json!({"users": {"active": 0, "inactive": 0}, "groups": 0})
    );
    assert!(d.get("scim").is_none(), "the token is shown once");
    assert!(d["created_at"].as_str().unwrap().ends_with('Z'));

    let bad = app
        .post(
            "/directories",
            &json!({"organization_id": dir.org, "name": "x", "type": "bamboohr"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["errors"][0]["field"], "type");
    let missing = app
        .post(
            "/directories",
            &json!({"organization_id": "org_nope", "name": "x"}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let other_org = app
        .post("/organizations", &json!({"name": "Other"}))
        .await
        .body;
    app.post(
        "/directories",
        &json!({"organization_id": other_org["id"], "name": "Globex Entra", "type": "azure scim v2.0", "domain": "globex.com"}),
    )
    .await;
    let by_org = app
        .get(&format!("/directories?organization_id={}", dir.org))
        .await;
    assert_eq!(by_org.body["data"].as_array().unwrap().len(), 1);
    // Filters on malformed ids name nothing: empty lists, as for unknown ids.
    for path in [
        "/directories?organization_id=directory_1",
        "/directory_users?directory=org_1",
        "/directory_users?group=nope",
        "/directory_groups?directory=nope",
        "/directory_groups?user=directory_group_1",
    ] {
        let none = app.get(path).await;
        assert_eq!(none.status, StatusCode::OK, "{path}");
        assert_eq!(none.body["data"], json!([]), "{path}");
    }
    let search = app.get("/directories?search=globex").await;
    assert_eq!(search.body["data"][0]["name"], "Globex Entra");
    let domain = app.get("/directories?domain=GLOBEX.com").await;
    assert_eq!(domain.body["data"].as_array().unwrap().len(), 1);
    let all = app.get("/directories?limit=1").await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 1);
    assert!(all.body["list_metadata"]["after"].is_string());

    // SCIM works with the token; rotation invalidates it.
    let ok = scim(&app, &dir, Method::GET, "/Users", None).await;
    assert_eq!(ok.status, StatusCode::OK);
    let rotated = app
        .post(&format!("/directories/{}/scim_token", dir.id), &json!({}))
        .await;
    assert_eq!(rotated.status, StatusCode::CREATED);
    let old = scim(&app, &dir, Method::GET, "/Users", None).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        old.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    let new = Dir {
        token: rotated.body["scim"]["bearer_token"]
            .as_str()
            .unwrap()
            .into(),
        ..dir
    };
    assert_eq!(
        scim(&app, &new, Method::GET, "/Users", None).await.status,
        StatusCode::OK
    );

    // Tenancy: another environment sees nothing and cannot delete.
    let other = app.new_tenant("Other").await;
    let res = app
        .send(
            Method::GET,
            &format!("/directories/{}", new.id),
            Some(&other.api_key),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app
        .send(
            Method::DELETE,
            &format!("/directories/{}", new.id),
            Some(&other.api_key),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    let del = app.delete(&format!("/directories/{}", new.id)).await;
    assert_eq!(del.status, StatusCode::ACCEPTED);
    assert_eq!(
        app.get(&format!("/directories/{}", new.id)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        scim(&app, &new, Method::GET, "/Users", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let names = app.event_names().await;
    assert_eq!(names.iter().filter(|n| *n == "dsync.activated").count(), 2);
    assert_eq!(names.last().unwrap(), "dsync.deleted");
    let events = app
        .get("/events?events=dsync.activated,dsync.deleted")
        .await;
    let activated = &events.body["data"][0]["data"];
    assert_eq!(
        activated["state"], "active",
        "events use the event state vocabulary"
    );
    assert!(activated["domains"].is_array());
    assert_eq!(events.body["data"][2]["data"]["state"], "deleting");
}

#[tokio::test]
async fn scim_writes_become_directory_users_and_groups_with_events() {
    let app = TestApp::new().await;
    let dir = new_directory(&app, "generic scim v2.0").await;
    let res = scim(
        &app,
        &dir,
        Method::POST,
        "/Users",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "marcelina@example.com", "externalId": "2836",
            "name": {"givenName": "Marcelina", "familyName": "Davis"},
            "emails": [{"value": "marcelina@example.com", "type": "work", "primary": true}],
            "title": "Engineer", "active": true,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}
        })),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.headers["content-type"], "application/scim+json");
    let uid = res.body["id"].as_str().unwrap().to_string();
    let res = scim(
        &app,
        &dir,
        Method::POST,
        "/Groups",
        Some(
            json!({"displayName": "Engineering", "externalId": "g-1", "members": [{"value": uid}]}),
        ),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let gid = res.body["id"].as_str().unwrap().to_string();

    let u = app.get(&format!("/directory_users/{uid}")).await;
    assert_eq!(u.status, StatusCode::OK);
    let u = u.body;
    assert_eq!(u["object"], "directory_user");
    assert_eq!(u["directory_id"], dir.id);
    assert_eq!(u["organization_id"], dir.org);
    assert_eq!(u["idp_id"], "2836");
    assert_eq!(u["email"], "marcelina@example.com");
    assert_eq!(u["first_name"], "Marcelina");
    assert_eq!(u["last_name"], "Davis");
    assert_eq!(u["username"], "marcelina@example.com");
    assert_eq!(u["job_title"], "Engineer");
    assert_eq!(u["state"], "active");
    assert_eq!(
        u["emails"],
        json!([{"primary": true, "type": "work", "value": "marcelina@example.com"}])
    );
    assert_eq!(u["custom_attributes"]["department"], "R&D");
    assert_eq!(u["raw_attributes"]["userName"], "marcelina@example.com");
    assert_eq!(u["groups"][0]["id"], gid);
    assert_eq!(u["groups"][0]["name"], "Engineering");

    let g = app.get(&format!("/directory_groups/{gid}")).await.body;
    assert_eq!(g["object"], "directory_group");
    assert_eq!(g["idp_id"], "g-1");
    assert_eq!(g["name"], "Engineering");
    assert!(g.get("members").is_none());

    let by_group = app.get(&format!("/directory_users?group={gid}")).await;
    assert_eq!(by_group.body["data"][0]["id"], uid);
    let by_dir = app
        .get(&format!("/directory_users?directory={}", dir.id))
        .await;
    assert_eq!(by_dir.body["data"].as_array().unwrap().len(), 1);
    let by_user = app.get(&format!("/directory_groups?user={uid}")).await;
    assert_eq!(by_user.body["data"][0]["id"], gid);
    let by_dir = app
        .get(&format!("/directory_groups?directory={}", dir.id))
        .await;
    assert_eq!(by_dir.body["data"].as_array().unwrap().len(), 1);
    let meta = app.get(&format!("/directories/{}", dir.id)).await.body["metadata"].clone();
    assert_eq!(
        meta,
        json!({"users": {"active": 1, "inactive": 0}, "groups": 1})
    );

    // Deactivate, then delete: soft then hard.
    let res = scim(
        &app,
        &dir,
        Method::PATCH,
        &format!("/Users/{uid}"),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "value": {"active": false}}]}),
        ),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        app.get(&format!("/directory_users/{uid}")).await.body["state"],
        "inactive"
    );
    let res = scim(&app, &dir, Method::DELETE, &format!("/Groups/{gid}"), None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = scim(&app, &dir, Method::DELETE, &format!("/Users/{uid}"), None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/directory_users/{uid}")).await.status,
        StatusCode::NOT_FOUND
    );

    let names = app.event_names().await;
    let dsync: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| n.starts_with("dsync."))
        .collect();
    assert_eq!(
        dsync,
        [
            "dsync.activated",
            "dsync.user.created",
            "dsync.group.created",
            "dsync.group.user_added",
            "dsync.user.updated",
            "dsync.group.deleted",
            "dsync.user.deleted"
        ]
    );
    let events = app
        .get("/events?events=dsync.group.user_added,dsync.user.updated")
        .await
        .body;
    let added = &events["data"][0]["data"];
    assert_eq!(added["directory_id"], dir.id);
    assert_eq!(added["user"]["id"], uid);
    assert_eq!(added["group"]["id"], gid);
    let updated = &events["data"][1]["data"];
    assert_eq!(updated["state"], "inactive");
    assert_eq!(updated["previous_attributes"]["state"], "active");
    assert!(
        updated.get("groups").is_none(),
        "events carry DirectoryUser"
    );

    // Another tenant cannot read them.
    let other = app.new_tenant("Other").await;
    let res = app
        .send(
            Method::GET,
            &format!("/directory_groups?directory={}", dir.id),
            Some(&other.api_key),
            None,
        )
        .await;
    assert_eq!(res.body["data"].as_array().unwrap().len(), 0);
}
