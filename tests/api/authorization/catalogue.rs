//! Permissions, resource types, environment roles and organization roles.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{delete_with, expect, field, patch, permission, resource_type, role};
use crate::support::TestApp;
use crate::um::{event_data, member, org, user};

#[tokio::test]
async fn permissions_answer_the_spec_shapes_events_and_workos_errors() {
    let app = TestApp::new().await;
    let created = expect(
        app.post(
            "/authorization/permissions",
            &json!({"slug": "documents:read", "name": "View Documents",
                    "description": "Allows viewing"}),
        )
        .await,
        StatusCode::CREATED,
    );
    assert_eq!(created["object"], "permission");
    assert!(created["id"].as_str().unwrap().starts_with("perm_"));
    assert_eq!(created["slug"], "documents:read");
    assert_eq!(created["system"], false);
    assert_eq!(created["resource_type_slug"], "organization");
    assert_eq!(created["description"], "Allows viewing");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    let dup = app
        .post(
            "/authorization/permissions",
            &json!({"slug": "documents:read", "name": "Again"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.body["code"], "permission_slug_conflict");
    for bad in [
        json!({"slug": "Documents", "name": "x"}),
        json!({"slug": "a b", "name": "x"}),
        json!({"slug": "x".repeat(49), "name": "x"}),
        json!({"slug": "ok", "name": ""}),
        json!({"slug": "ok", "name": "n".repeat(49)}),
        json!({"slug": "ok", "name": "x", "description": "d".repeat(151)}),
        json!({"slug": "ok", "name": "x", "resource_type_slug": "nope"}),
        json!({"name": "x"}),
    ] {
        let res = app.post("/authorization/permissions", &bad).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            res.text
        );
        assert_eq!(res.body["code"], "invalid_request_parameters", "{bad}");
    }
    assert_eq!(app.count_rows("authorization_permissions").await, 1);

    permission(&app, "documents:write", "organization").await;
    permission(&app, "documents:*", "organization").await;
    let page = app.get("/authorization/permissions?limit=2").await;
    assert_eq!(field(&page, "slug"), ["documents:*", "documents:write"]);
    let after = page.body["list_metadata"]["after"].as_str().unwrap();
    let next = app
        .get(&format!("/authorization/permissions?limit=2&after={after}"))
        .await;
    assert_eq!(field(&next, "slug"), ["documents:read"]);
    assert_eq!(next.body["list_metadata"]["after"], json!(null));
    assert_eq!(
        app.get("/authorization/permissions?limit=0").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let got = expect(
        app.get("/authorization/permissions/documents:read").await,
        StatusCode::OK,
    );
    assert_eq!(got["id"], created["id"]);
    let updated = expect(
        patch(
            &app,
            "/authorization/permissions/documents:read",
            &json!({"name": "Read", "description": null}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(updated["name"], "Read");
    assert_eq!(updated["description"], json!(null));
    assert_eq!(
        patch(
            &app,
            "/authorization/permissions/documents:read",
            &json!({"name": ""})
        )
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let missing = app.get("/authorization/permissions/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.body,
        json!({"message": "Permission not found: 'nope'."})
    );
    assert_eq!(
        app.delete("/authorization/permissions/documents:read")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete("/authorization/permissions/documents:read")
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let created_event = &event_data(&app, "permission.created").await[0];
    assert_eq!(created_event["object"], "permission");
    assert_eq!(created_event["slug"], "documents:read");
    assert_eq!(created_event["system"], false);
    assert!(
        created_event.get("resource_type_slug").is_none(),
        "the event schema has no resource type"
    );
    assert_eq!(event_data(&app, "permission.created").await.len(), 3);
    assert_eq!(
        event_data(&app, "permission.updated").await[0]["name"],
        "Read"
    );
    assert_eq!(
        event_data(&app, "permission.deleted").await[0]["id"],
        created["id"]
    );
}

#[tokio::test]
async fn resource_types_form_a_dag_under_organization_with_a_depth_limit() {
    let app = TestApp::new().await;
    let list = app.get("/authorization/resource_types").await;
    assert_eq!(field(&list, "slug"), ["organization"]);
    assert_eq!(list.body["object"], "list");

    let ws = resource_type(&app, "workspace", &[]).await;
    assert_eq!(ws["object"], "authorization_resource_type");
    assert_eq!(ws["parent_resource_type_slugs"], json!(["organization"]));
    assert_eq!(ws["description"], json!(null));
    let doc = resource_type(&app, "document", &["workspace", "organization"]).await;
    assert_eq!(
        doc["parent_resource_type_slugs"],
        json!(["workspace", "organization"])
    );
    for (bad, why) in [
        (
            json!({"slug": "x", "name": "x", "parent_resource_type_slugs": ["nope"]}),
            "unknown parent",
        ),
        (
            json!({"slug": "x", "name": "x", "parent_resource_type_slugs": ["x"]}),
            "cycle",
        ),
        (json!({"slug": "X", "name": "x"}), "slug"),
        (json!({"slug": "x", "name": ""}), "name"),
    ] {
        let res = app.post("/authorization/resource_types", &bad).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{why}: {}",
            res.text
        );
    }
    let dup = app
        .post(
            "/authorization/resource_types",
            &json!({"slug": "workspace", "name": "again"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.body["code"], "resource_type_slug_conflict");

    // organization > workspace > l2 > l3 > l4 > l5; a sixth level is refused.
    let mut parent = "workspace".to_string();
    for level in 2..=5 {
        let slug = format!("l{level}");
        resource_type(&app, &slug, &[&parent]).await;
        parent = slug;
    }
    let deep = app
        .post(
            "/authorization/resource_types",
            &json!({"slug": "l6", "name": "l6", "parent_resource_type_slugs": ["l5"]}),
        )
        .await;
    assert_eq!(
        deep.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        deep.text
    );

    assert_eq!(
        expect(
            app.get("/authorization/resource_types/document").await,
            StatusCode::OK
        )["slug"],
        "document"
    );
    assert_eq!(
        app.get("/authorization/resource_types/nope").await.status,
        StatusCode::NOT_FOUND
    );
    let in_use = app.delete("/authorization/resource_types/workspace").await;
    assert_eq!(in_use.status, StatusCode::CONFLICT, "a parent of document");
    assert_eq!(in_use.body["code"], "resource_type_in_use");
    permission(&app, "doc:read", "document").await;
    let used = app.delete("/authorization/resource_types/document").await;
    assert_eq!(used.status, StatusCode::CONFLICT, "a permission's type");
    app.delete("/authorization/permissions/doc:read").await;
    assert_eq!(
        app.delete("/authorization/resource_types/document")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete("/authorization/resource_types/organization")
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.delete("/authorization/resource_types/document")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn environment_roles_hold_permissions_of_their_type_or_below() {
    let app = TestApp::new().await;
    let builtin = app.get("/authorization/roles").await;
    assert_eq!(field(&builtin, "slug"), ["member", "admin"]);
    assert_eq!(builtin.body["data"][0]["permissions"], json!([]));
    assert_eq!(builtin.body["data"][0]["type"], "EnvironmentRole");
    assert!(builtin.body.get("list_metadata").is_none());

    resource_type(&app, "workspace", &[]).await;
    resource_type(&app, "project", &["workspace"]).await;
    permission(&app, "billing:manage", "organization").await;
    permission(&app, "workspace:edit", "workspace").await;
    permission(&app, "project:view", "project").await;

    let editor = role(
        &app,
        "ws-editor",
        "workspace",
        &["workspace:edit", "project:view"],
    )
    .await;
    assert_eq!(editor["object"], "role");
    assert_eq!(editor["resource_type_slug"], "workspace");
    assert_eq!(
        editor["permissions"],
        json!(["project:view", "workspace:edit"])
    );
    let wrong_type = app
        .post(
            "/authorization/roles/ws-editor/permissions",
            &json!({"slug": "billing:manage"}),
        )
        .await;
    assert_eq!(
        wrong_type.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong_type.text
    );
    assert_eq!(wrong_type.error_fields(), ["slug"]);
    let unknown = app
        .put(
            "/authorization/roles/ws-editor/permissions",
            &json!({"permissions": ["workspace:edit", "nope"]}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.error_fields(), ["permissions"]);

    // The organization-scoped admin may hold anything; adding twice changes nothing.
    let admin = expect(
        app.post(
            "/authorization/roles/admin/permissions",
            &json!({"slug": "project:view"}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(admin["permissions"], json!(["project:view"]));
    let again = expect(
        app.post(
            "/authorization/roles/admin/permissions",
            &json!({"slug": "project:view"}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(again["permissions"], json!(["project:view"]));
    let replaced = expect(
        app.put(
            "/authorization/roles/admin/permissions",
            &json!({"permissions": ["billing:manage"]}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(replaced["permissions"], json!(["billing:manage"]));

    let renamed = expect(
        patch(
            &app,
            "/authorization/roles/ws-editor",
            &json!({"name": "Workspace editor", "description": "Edits"}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(renamed["name"], "Workspace editor");
    assert_eq!(renamed["description"], "Edits");
    assert_eq!(
        patch(&app, "/authorization/roles/nope", &json!({"name": "x"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let reserved = app
        .post(
            "/authorization/roles",
            &json!({"slug": "org-x", "name": "x"}),
        )
        .await;
    assert_eq!(reserved.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_type = app
        .post(
            "/authorization/roles",
            &json!({"slug": "x", "name": "x", "resource_type_slug": "nope"}),
        )
        .await;
    assert_eq!(bad_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_type.error_fields(), ["resource_type_slug"]);
    let dup = app
        .post(
            "/authorization/roles",
            &json!({"slug": "admin", "name": "x"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.body["code"], "role_slug_conflict");

    // Deleting a permission takes it off the roles holding it.
    app.delete("/authorization/permissions/billing:manage")
        .await;
    assert_eq!(
        app.get("/authorization/roles/admin").await.body["permissions"],
        json!([])
    );

    let created = &event_data(&app, "role.created").await[0];
    assert_eq!(
        created.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "created_at",
            "object",
            "permissions",
            "resource_type_slug",
            "slug",
            "updated_at"
        ]
    );
    let updates = event_data(&app, "role.updated").await;
    assert!(
        updates
            .iter()
            .any(|e| e["slug"] == "admin" && e["permissions"] == json!(["billing:manage"]))
    );
}

#[tokio::test]
async fn organization_roles_list_with_environment_roles_and_delete_unless_held() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let other = org(&app, "Other").await;
    let acme_id = acme["id"].as_str().unwrap();
    let base = format!("/authorization/organizations/{acme_id}/roles");
    permission(&app, "invoices:pay", "organization").await;

    let billing = expect(
        app.post(
            &base,
            &json!({"slug": "org-billing", "name": "Billing", "description": "Pays"}),
        )
        .await,
        StatusCode::CREATED,
    );
    assert_eq!(billing["type"], "OrganizationRole");
    assert_eq!(billing["resource_type_slug"], "organization");
    let generated = expect(
        app.post(&base, &json!({"name": "Support Lead"})).await,
        StatusCode::CREATED,
    );
    let generated_slug = generated["slug"].as_str().unwrap();
    assert!(
        generated_slug.starts_with("org-support-lead-"),
        "{generated_slug}"
    );
    for bad in [
        json!({"slug": "billing", "name": "x"}),
        json!({"slug": "org-", "name": "x"}),
        json!({"slug": "org-X", "name": "x"}),
        json!({"name": ""}),
    ] {
        let res = app.post(&base, &bad).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            res.text
        );
    }
    let dup = app
        .post(&base, &json!({"slug": "org-billing", "name": "x"}))
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.body["code"], "organization_role_slug_conflict");
    // The same slug in another organization is another role.
    expect(
        app.post(
            &format!(
                "/authorization/organizations/{}/roles",
                other["id"].as_str().unwrap()
            ),
            &json!({"slug": "org-billing", "name": "Theirs"}),
        )
        .await,
        StatusCode::CREATED,
    );

    let list = app.get(&base).await;
    assert_eq!(
        field(&list, "slug"),
        ["member", "admin", "org-billing", generated_slug]
    );
    assert_eq!(
        expect(app.get(&format!("{base}/admin")).await, StatusCode::OK)["type"],
        "EnvironmentRole"
    );
    assert_eq!(
        expect(
            app.get(&format!("{base}/org-billing")).await,
            StatusCode::OK
        )["name"],
        "Billing"
    );
    let updated = expect(
        patch(
            &app,
            &format!("{base}/org-billing"),
            &json!({"name": "Billing admin"}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(updated["name"], "Billing admin");
    assert_eq!(
        patch(&app, &format!("{base}/admin"), &json!({"name": "x"}))
            .await
            .status,
        StatusCode::NOT_FOUND,
        "environment roles are changed through /authorization/roles"
    );
    let with = expect(
        app.put(
            &format!("{base}/org-billing/permissions"),
            &json!({"permissions": ["invoices:pay"]}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(with["permissions"], json!(["invoices:pay"]));
    let added = expect(
        app.post(
            &format!("{base}/org-billing/permissions"),
            &json!({"slug": "invoices:pay"}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(added["permissions"], json!(["invoices:pay"]));
    let removed = expect(
        app.send(
            Method::DELETE,
            &format!("{base}/org-billing/permissions/invoices:pay"),
            Some(&app.tenant.api_key),
            None,
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(removed["permissions"], json!([]));
    assert_eq!(
        app.delete(&format!("{base}/org-billing/permissions/nope"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // A role a membership holds is not deleted.
    let ada = user(&app, "ada@example.com", false).await;
    let m = member(&app, &ada, &acme, "member").await;
    let held = expect(
        app.put(
            &format!(
                "/user_management/organization_memberships/{}",
                m["id"].as_str().unwrap()
            ),
            &json!({"role_slug": "org-billing"}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(held["role"], json!({"slug": "org-billing"}));
    let refused = app.delete(&format!("{base}/org-billing")).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.body["code"], "role_has_assignments");
    expect(
        app.put(
            &format!(
                "/user_management/organization_memberships/{}",
                m["id"].as_str().unwrap()
            ),
            &json!({"role_slug": "member"}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(
        app.delete(&format!("{base}/org-billing")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("{base}/org-billing")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/authorization/organizations/org_01AAAAAAAAAAAAAAAAAAAAAAAA/roles")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let _ = delete_with;

    let created = event_data(&app, "organization_role.created").await;
    assert_eq!(created.len(), 3);
    assert_eq!(created[0]["object"], "organization_role");
    assert_eq!(created[0]["organization_id"], acme["id"]);
    assert_eq!(created[0]["slug"], "org-billing");
    assert!(created[0].get("id").is_none());
    let deleted = &event_data(&app, "organization_role.deleted").await[0];
    assert_eq!(deleted["slug"], "org-billing");
    assert!(
        !event_data(&app, "organization_role.updated")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn another_environments_catalogue_answers_404() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let acme_id = acme["id"].as_str().unwrap();
    resource_type(&app, "workspace", &[]).await;
    permission(&app, "ws:read", "workspace").await;
    role(&app, "ws-reader", "workspace", &["ws:read"]).await;
    expect(
        app.post(
            &format!("/authorization/organizations/{acme_id}/roles"),
            &json!({"slug": "org-x", "name": "X"}),
        )
        .await,
        StatusCode::CREATED,
    );
    let other = app.new_tenant("Other").await;
    let key = Some(other.api_key.as_str());
    for (method, path, body) in [
        (
            Method::GET,
            "/authorization/permissions/ws:read".to_string(),
            None,
        ),
        (
            Method::PATCH,
            "/authorization/permissions/ws:read".to_string(),
            Some(json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            "/authorization/permissions/ws:read".to_string(),
            None,
        ),
        (
            Method::GET,
            "/authorization/resource_types/workspace".to_string(),
            None,
        ),
        (
            Method::DELETE,
            "/authorization/resource_types/workspace".to_string(),
            None,
        ),
        (
            Method::GET,
            "/authorization/roles/ws-reader".to_string(),
            None,
        ),
        (
            Method::PATCH,
            "/authorization/roles/ws-reader".to_string(),
            Some(json!({"name": "x"})),
        ),
        (
            Method::PUT,
            "/authorization/roles/ws-reader/permissions".to_string(),
            Some(json!({"permissions": []})),
        ),
        (
            Method::GET,
            format!("/authorization/organizations/{acme_id}/roles"),
            None,
        ),
        (
            Method::GET,
            format!("/authorization/organizations/{acme_id}/roles/org-x"),
            None,
        ),
        (
            Method::POST,
            format!("/authorization/organizations/{acme_id}/roles"),
            Some(json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            format!("/authorization/organizations/{acme_id}/roles/org-x"),
            None,
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
    let theirs = app
        .send(Method::GET, "/authorization/permissions", key, None)
        .await;
    assert_eq!(theirs.body["data"], json!([]));
    // Their own catalogue is independent: the same slug is free there.
    let mine = app
        .send(
            Method::POST,
            "/authorization/permissions",
            key,
            Some(&json!({"slug": "ws:read", "name": "x"})),
        )
        .await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.text);
}
