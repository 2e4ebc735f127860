//! Resources by id and by external id: the tree, the types' parent rules, filters, moves, and
//! deletion with and without `cascade_delete`.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{expect, field, patch, resource, resource_type};
use crate::support::TestApp;
use crate::um::org;

#[tokio::test]
async fn resources_form_a_tree_that_their_types_constrain() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let globex = org(&app, "Globex").await;
    resource_type(&app, "workspace", &[]).await;
    resource_type(&app, "project", &["workspace"]).await;

    let ws = expect(
        app.post(
            "/authorization/resources",
            &json!({"organization_id": acme["id"], "resource_type_slug": "workspace",
                    "external_id": "ws-1", "name": "Main", "description": "The main one",
                    "parent_resource_id": null}),
        )
        .await,
        StatusCode::CREATED,
    );
    assert_eq!(ws["object"], "authorization_resource");
    assert!(ws["id"].as_str().unwrap().starts_with("authz_resource_"));
    assert_eq!(ws["parent_resource_id"], json!(null));
    assert_eq!(ws["organization_id"], acme["id"]);
    assert_eq!(ws["resource_type_slug"], "workspace");
    assert_eq!(ws["external_id"], "ws-1");
    assert_eq!(ws["description"], "The main one");

    let p1 = resource(&app, &acme, "project", "p-1", Some(&ws)).await;
    assert_eq!(p1["parent_resource_id"], ws["id"]);
    let p2 = expect(
        app.post(
            "/authorization/resources",
            &json!({"organization_id": acme["id"], "resource_type_slug": "project",
                    "external_id": "p-2", "name": "Two",
                    "parent_resource_external_id": "ws-1", "parent_resource_type_slug": "workspace"}),
        )
        .await,
        StatusCode::CREATED,
    );
    assert_eq!(p2["parent_resource_id"], ws["id"]);
    let other_ws = resource(&app, &globex, "workspace", "ws-1", None).await;

    let cases = [
        (
            json!({"resource_type_slug": "project", "external_id": "p-3", "name": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "a project needs a workspace parent",
        ),
        (
            json!({"resource_type_slug": "workspace", "external_id": "w", "name": "x",
                "parent_resource_id": p1["id"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "a workspace is top level",
        ),
        (
            json!({"resource_type_slug": "project", "external_id": "p-3", "name": "x",
                "parent_resource_id": other_ws["id"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "a parent in another organization",
        ),
        (
            json!({"resource_type_slug": "nope", "external_id": "x", "name": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "an unknown type",
        ),
        (
            json!({"resource_type_slug": "organization", "external_id": "x", "name": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "organizations are not resources",
        ),
        (
            json!({"resource_type_slug": "project", "external_id": "p-3", "name": "x",
                "parent_resource_id": "authz_resource_01AAAAAAAAAAAAAAAAAAAAAAAA"}),
            StatusCode::NOT_FOUND,
            "an unknown parent",
        ),
        (
            json!({"resource_type_slug": "project", "external_id": "p-3", "name": "x",
                "parent_resource_id": ws["id"], "parent_resource_type_slug": "workspace"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "both parent forms",
        ),
        (
            json!({"resource_type_slug": "project", "external_id": "p-3", "name": "x",
                "parent_resource_external_id": "ws-1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "half the external pair",
        ),
        (
            json!({"resource_type_slug": "workspace", "external_id": "x".repeat(129), "name": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "a long external id",
        ),
        (
            json!({"resource_type_slug": "workspace", "external_id": "w", "name": "n".repeat(49)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "a long name",
        ),
        (
            json!({"resource_type_slug": "workspace", "external_id": "ws-1", "name": "x"}),
            StatusCode::CONFLICT,
            "a taken external id",
        ),
    ];
    for (mut body, status, why) in cases {
        body["organization_id"] = acme["id"].clone();
        let res = app.post("/authorization/resources", &body).await;
        assert_eq!(res.status, status, "{why}: {}", res.text);
        if status == StatusCode::CONFLICT {
            assert_eq!(
                res.body["code"],
                "authorization_resource_external_id_conflict"
            );
        }
    }
    let unknown_org = app
        .post(
            "/authorization/resources",
            &json!({"organization_id": "org_01AAAAAAAAAAAAAAAAAAAAAAAA",
                    "resource_type_slug": "workspace", "external_id": "w", "name": "x"}),
        )
        .await;
    assert_eq!(unknown_org.status, StatusCode::NOT_FOUND);
    assert_eq!(app.count_rows("authorization_resources").await, 4);

    // Reads by id and by external id.
    let ws_id = ws["id"].as_str().unwrap();
    assert_eq!(
        expect(
            app.get(&format!("/authorization/resources/{ws_id}")).await,
            StatusCode::OK
        )["name"],
        "Main"
    );
    let acme_id = acme["id"].as_str().unwrap();
    let by_ext = format!("/authorization/organizations/{acme_id}/resources/project/p-1");
    assert_eq!(
        expect(app.get(&by_ext).await, StatusCode::OK)["id"],
        p1["id"]
    );
    assert_eq!(
        app.get(&format!(
            "/authorization/organizations/{acme_id}/resources/project/nope"
        ))
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/authorization/resources/authz_resource_01AAAAAAAAAAAAAAAAAAAAAAAA")
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Lists and filters.
    let all = app.get("/authorization/resources?order=asc").await;
    assert_eq!(field(&all, "external_id"), ["ws-1", "p-1", "p-2", "ws-1"]);
    let mine = app
        .get(&format!(
            "/authorization/resources?organization_id={acme_id}&order=asc"
        ))
        .await;
    assert_eq!(field(&mine, "external_id"), ["ws-1", "p-1", "p-2"]);
    let children = app
        .get(&format!(
            "/authorization/resources?parent_resource_id={ws_id}&order=asc"
        ))
        .await;
    assert_eq!(field(&children, "external_id"), ["p-1", "p-2"]);
    let by_parent_ext = app
        .get("/authorization/resources?parent_resource_type_slug=workspace&parent_external_id=ws-1&order=asc")
        .await;
    assert_eq!(field(&by_parent_ext, "external_id"), ["p-1", "p-2"]);
    let typed = app
        .get("/authorization/resources?resource_type_slug=workspace&resource_external_id=ws-1")
        .await;
    assert_eq!(field(&typed, "external_id").len(), 2);
    let searched = app.get("/authorization/resources?search=tw").await;
    assert_eq!(field(&searched, "external_id"), ["p-2"]);
    let paged = app.get("/authorization/resources?limit=1&order=asc").await;
    assert_eq!(field(&paged, "external_id"), ["ws-1"]);
    assert!(paged.body["list_metadata"]["after"].is_string());
    assert_eq!(
        app.get("/authorization/resources?parent_resource_type_slug=workspace")
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        field(
            &app.get("/authorization/resources?organization_id=nope")
                .await,
            "id"
        ),
        Vec::<String>::new()
    );

    // Updates: name, description, and a move under another workspace.
    let ws2 = resource(&app, &acme, "workspace", "ws-2", None).await;
    let p1_path = format!("/authorization/resources/{}", p1["id"].as_str().unwrap());
    let moved = expect(
        patch(
            &app,
            &p1_path,
            &json!({"name": "Renamed", "description": "d", "parent_resource_id": ws2["id"]}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(moved["name"], "Renamed");
    assert_eq!(moved["parent_resource_id"], ws2["id"]);
    let cleared = expect(
        patch(&app, &by_ext, &json!({"description": null})).await,
        StatusCode::OK,
    );
    assert_eq!(cleared["description"], json!(null));
    assert_eq!(cleared["name"], "Renamed", "untouched");
    assert_eq!(
        patch(
            &app,
            &p1_path,
            &json!({"parent_resource_id": other_ws["id"]})
        )
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        patch(&app, &p1_path, &json!({"parent_resource_id": null}))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a project cannot be top level"
    );
    assert_eq!(
        patch(&app, &p1_path, &json!({"name": ""})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Deletion: refused while children exist unless cascading.
    let refused = app
        .delete(&format!("/authorization/resources/{ws_id}"))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.body["code"], "resource_has_dependents");
    assert_eq!(
        app.delete(&format!(
            "/authorization/resources/{ws_id}?cascade_delete=maybe"
        ))
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.delete(&format!(
            "/authorization/resources/{ws_id}?cascade_delete=true"
        ))
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!(
            "/authorization/resources/{}",
            p2["id"].as_str().unwrap()
        ))
        .await
        .status,
        StatusCode::NOT_FOUND,
        "the subtree went with it"
    );
    assert_eq!(app.delete(&by_ext).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&by_ext).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.count_rows("authorization_resources").await, 2);

    // Deleting the organization deletes its resources.
    app.delete(&format!("/organizations/{acme_id}")).await;
    assert_eq!(app.count_rows("authorization_resources").await, 1);
}

#[tokio::test]
async fn another_environments_resources_answer_404() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    resource_type(&app, "workspace", &[]).await;
    let ws = resource(&app, &acme, "workspace", "ws-1", None).await;
    let other = app.new_tenant("Other").await;
    let key = Some(other.api_key.as_str());
    let id = ws["id"].as_str().unwrap();
    let acme_id = acme["id"].as_str().unwrap();
    let by_ext = format!("/authorization/organizations/{acme_id}/resources/workspace/ws-1");
    for (method, path, body) in [
        (Method::GET, format!("/authorization/resources/{id}"), None),
        (
            Method::PATCH,
            format!("/authorization/resources/{id}"),
            Some(json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            format!("/authorization/resources/{id}"),
            None,
        ),
        (Method::GET, by_ext.clone(), None),
        (Method::PATCH, by_ext.clone(), Some(json!({"name": "x"}))),
        (Method::DELETE, by_ext.clone(), None),
    ] {
        let res = app.send(method.clone(), &path, key, body.as_ref()).await;
        assert_eq!(
            res.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            res.text
        );
    }
    // Creating under the first environment's organization or parent is a 404 there.
    let theirs = app
        .send(
            Method::POST,
            "/authorization/resources",
            key,
            Some(
                &json!({"organization_id": acme["id"], "resource_type_slug": "workspace",
                         "external_id": "x", "name": "x"}),
            ),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.text);
    let listed = app
        .send(Method::GET, "/authorization/resources", key, None)
        .await;
    assert_eq!(listed.body["data"], json!([]));
    assert_eq!(app.count_rows("authorization_resources").await, 1);
}
