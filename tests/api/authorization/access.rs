//! Role assignments, checks (the inheritance truth table) and discovery, and the official
//! Python SDK driving the main flow.

use std::path::Path;
use std::process::Command;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{delete_with, expect, field, permission, resource, resource_type, role};
use crate::support::TestApp;
use crate::um::{member, org, user};

/// organization > workspace > project > document, a `doc:read` permission and one role per
/// level holding it.
async fn catalogue(app: &TestApp) {
    resource_type(app, "workspace", &[]).await;
    resource_type(app, "project", &["workspace"]).await;
    resource_type(app, "document", &["project"]).await;
    permission(app, "doc:read", "document").await;
    role(app, "ws-reader", "workspace", &["doc:read"]).await;
    role(app, "proj-reader", "project", &["doc:read"]).await;
    role(app, "doc-reader", "document", &["doc:read"]).await;
}

async fn check(app: &TestApp, om: &Value, resource: &Value) -> bool {
    let res = app
        .post(
            &format!(
                "/authorization/organization_memberships/{}/check",
                om["id"].as_str().unwrap()
            ),
            &json!({"permission_slug": "doc:read", "resource_id": resource["id"]}),
        )
        .await;
    expect(res, StatusCode::OK)["authorized"].as_bool().unwrap()
}

async fn assign(app: &TestApp, om: &Value, role: &str, resource: &Value) -> Value {
    expect(
        app.post(
            &format!(
                "/authorization/organization_memberships/{}/role_assignments",
                om["id"].as_str().unwrap()
            ),
            &json!({"role_slug": role, "resource_id": resource["id"]}),
        )
        .await,
        StatusCode::CREATED,
    )
}

async fn new_member(app: &TestApp, email: &str, o: &Value, role: &str) -> Value {
    let u = user(app, email, false).await;
    member(app, &u, o, role).await
}

#[tokio::test]
async fn checks_follow_assignments_down_the_tree_and_nowhere_else() {
    let app = TestApp::new().await;
    catalogue(&app).await;
    let acme = org(&app, "Acme").await;
    let globex = org(&app, "Globex").await;
    let w = resource(&app, &acme, "workspace", "w", None).await;
    let p1 = resource(&app, &acme, "project", "p1", Some(&w)).await;
    let p2 = resource(&app, &acme, "project", "p2", Some(&w)).await;
    let d1 = resource(&app, &acme, "document", "d1", Some(&p1)).await;
    let d2 = resource(&app, &acme, "document", "d2", Some(&p2)).await;
    let gw = resource(&app, &globex, "workspace", "w", None).await;
    let gp = resource(&app, &globex, "project", "p1", Some(&gw)).await;

    let root = new_member(&app, "root@example.com", &acme, "member").await;
    let mid = new_member(&app, "mid@example.com", &acme, "member").await;
    let leaf = new_member(&app, "leaf@example.com", &acme, "member").await;
    assign(&app, &root, "ws-reader", &w).await;
    assign(&app, &mid, "proj-reader", &p1).await;
    assign(&app, &leaf, "doc-reader", &d1).await;

    // (membership, resource, expected): ancestor, self, descendant, sibling, other organization.
    let table = [
        (&root, &w, true),
        (&root, &p1, true),
        (&root, &d1, true),
        (&root, &d2, true),
        (&root, &gw, false),
        (&mid, &w, false),
        (&mid, &p1, true),
        (&mid, &d1, true),
        (&mid, &p2, false),
        (&mid, &d2, false),
        (&mid, &gp, false),
        (&leaf, &p1, false),
        (&leaf, &d1, true),
        (&leaf, &d2, false),
    ];
    for (i, (om, res, want)) in table.into_iter().enumerate() {
        assert_eq!(
            check(&app, om, res).await,
            want,
            "row {i}: {}",
            res["external_id"]
        );
    }

    // An organization-level role grants on every resource of its organization only.
    let admin = new_member(&app, "admin@example.com", &acme, "admin").await;
    assert!(!check(&app, &admin, &d2).await);
    app.post(
        "/authorization/roles/admin/permissions",
        &json!({"slug": "doc:read"}),
    )
    .await;
    for res in [&w, &p1, &d2] {
        assert!(check(&app, &admin, res).await);
    }
    assert!(!check(&app, &admin, &gp).await, "another organization");

    // By external id (in the membership's organization), an inactive membership, errors.
    let om_path = format!(
        "/authorization/organization_memberships/{}/check",
        mid["id"].as_str().unwrap()
    );
    let by_ext = app
        .post(
            &om_path,
            &json!({"permission_slug": "doc:read", "resource_external_id": "d1",
                    "resource_type_slug": "document"}),
        )
        .await;
    assert_eq!(expect(by_ext, StatusCode::OK), json!({"authorized": true}));
    expect(
        app.put(
            &format!(
                "/user_management/organization_memberships/{}/deactivate",
                mid["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    );
    assert!(
        !check(&app, &mid, &p1).await,
        "inactive memberships hold nothing"
    );
    for (body, status) in [
        (
            json!({"permission_slug": "doc:read", "resource_id": "authz_resource_01AAAAAAAAAAAAAAAAAAAAAAAA"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"permission_slug": "doc:read", "resource_id": "nope"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"permission_slug": "doc:read", "resource_external_id": "nope", "resource_type_slug": "document"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"permission_slug": "nope", "resource_id": d1["id"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"permission_slug": "doc:read"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"permission_slug": "doc:read", "resource_id": d1["id"], "resource_type_slug": "document"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"resource_id": d1["id"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let res = app.post(&om_path, &body).await;
        assert_eq!(res.status, status, "{body}: {}", res.text);
    }
    let unknown = app
        .post(
            "/authorization/organization_memberships/om_01AAAAAAAAAAAAAAAAAAAAAAAA/check",
            &json!({"permission_slug": "doc:read", "resource_id": d1["id"]}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn role_assignments_are_assigned_listed_and_removed() {
    let app = TestApp::new().await;
    catalogue(&app).await;
    let acme = org(&app, "Acme").await;
    let globex = org(&app, "Globex").await;
    let w = resource(&app, &acme, "workspace", "w", None).await;
    let p1 = resource(&app, &acme, "project", "p1", Some(&w)).await;
    let gw = resource(&app, &globex, "workspace", "w", None).await;
    let m = new_member(&app, "ada@example.com", &acme, "member").await;
    let om = m["id"].as_str().unwrap();
    let base = format!("/authorization/organization_memberships/{om}/role_assignments");

    let a = assign(&app, &m, "ws-reader", &w).await;
    assert_eq!(a["object"], "role_assignment");
    assert!(a["id"].as_str().unwrap().starts_with("role_assignment_"));
    assert_eq!(a["organization_membership_id"], m["id"]);
    assert_eq!(a["role"], json!({"slug": "ws-reader"}));
    assert_eq!(
        a["resource"],
        json!({"id": w["id"], "external_id": "w", "resource_type_slug": "workspace"})
    );
    assert_eq!(
        a["source"],
        json!({"type": "direct", "group_role_assignment_id": null, "group": null})
    );
    assert_eq!(
        assign(&app, &m, "ws-reader", &w).await["id"],
        a["id"],
        "idempotent"
    );
    let by_ext = expect(
        app.post(
            &base,
            &json!({"role_slug": "proj-reader", "resource_external_id": "p1",
                    "resource_type_slug": "project"}),
        )
        .await,
        StatusCode::CREATED,
    );
    assert_eq!(by_ext["resource"]["id"], p1["id"]);
    for (body, status, why) in [
        (
            json!({"role_slug": "proj-reader", "resource_id": w["id"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "a role of another type",
        ),
        (
            json!({"role_slug": "nope", "resource_id": w["id"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "an unknown role",
        ),
        (
            json!({"role_slug": "ws-reader", "resource_id": gw["id"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "another organization",
        ),
        (
            json!({"role_slug": "ws-reader", "resource_id": "authz_resource_01AAAAAAAAAAAAAAAAAAAAAAAA"}),
            StatusCode::NOT_FOUND,
            "an unknown resource",
        ),
        (
            json!({"role_slug": "ws-reader"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no resource",
        ),
    ] {
        let res = app.post(&base, &body).await;
        assert_eq!(res.status, status, "{why}: {}", res.text);
    }
    assert_eq!(app.count_rows("authorization_role_assignments").await, 2);

    let listed = app.get(&format!("{base}?order=asc")).await;
    assert_eq!(
        field(&listed, "id"),
        [a["id"].as_str().unwrap(), by_ext["id"].as_str().unwrap()]
    );
    let filtered = app.get(&format!("{base}?resource_type_slug=project")).await;
    assert_eq!(field(&filtered, "id"), [by_ext["id"].as_str().unwrap()]);
    let on_w = app
        .get(&format!(
            "/authorization/resources/{}/role_assignments",
            w["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(field(&on_w, "id"), [a["id"].as_str().unwrap()]);
    let acme_id = acme["id"].as_str().unwrap();
    let on_p1 = app
        .get(&format!(
            "/authorization/organizations/{acme_id}/resources/project/p1/role_assignments"
        ))
        .await;
    assert_eq!(field(&on_p1, "id"), [by_ext["id"].as_str().unwrap()]);

    // A resource with assignments is only deleted with cascade_delete.
    let refused = app
        .delete(&format!(
            "/authorization/resources/{}",
            p1["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);

    let removed = delete_with(
        &app,
        &base,
        &json!({"role_slug": "proj-reader", "resource_external_id": "p1", "resource_type_slug": "project"}),
    )
    .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    let again = delete_with(
        &app,
        &base,
        &json!({"role_slug": "proj-reader", "resource_id": p1["id"]}),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let by_id = format!("{base}/{}", a["id"].as_str().unwrap());
    assert_eq!(app.delete(&by_id).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&by_id).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.count_rows("authorization_role_assignments").await, 0);

    // Custom roles of the organization are assignable; one in use is not deleted; removing the
    // membership removes its assignments.
    let org_roles = format!("/authorization/organizations/{acme_id}/roles");
    expect(
        app.post(
            &org_roles,
            &json!({"slug": "org-ws", "name": "WS", "resource_type_slug": "workspace"}),
        )
        .await,
        StatusCode::CREATED,
    );
    assign(&app, &m, "org-ws", &w).await;
    let held = app.delete(&format!("{org_roles}/org-ws")).await;
    assert_eq!(held.status, StatusCode::CONFLICT);
    assert_eq!(held.body["code"], "role_has_assignments");
    app.delete(&format!("/user_management/organization_memberships/{om}"))
        .await;
    assert_eq!(app.count_rows("authorization_role_assignments").await, 0);
    assert_eq!(app.get(&base).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.delete(&format!("{org_roles}/org-ws")).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn discovery_lists_accessible_children_effective_permissions_and_holders() {
    let app = TestApp::new().await;
    catalogue(&app).await;
    permission(&app, "project:edit", "project").await;
    let acme = org(&app, "Acme").await;
    let w = resource(&app, &acme, "workspace", "w", None).await;
    let p1 = resource(&app, &acme, "project", "p1", Some(&w)).await;
    let d1 = resource(&app, &acme, "document", "d1", Some(&p1)).await;
    let d2 = resource(&app, &acme, "document", "d2", Some(&p1)).await;
    let d3 = resource(&app, &acme, "document", "d3", Some(&p1)).await;
    let leaf = new_member(&app, "leaf@example.com", &acme, "member").await;
    let mid = new_member(&app, "mid@example.com", &acme, "member").await;
    assign(&app, &leaf, "doc-reader", &d2).await;
    assign(&app, &mid, "proj-reader", &p1).await;
    let leaf_id = leaf["id"].as_str().unwrap();
    let mid_id = mid["id"].as_str().unwrap();
    let p1_id = p1["id"].as_str().unwrap();

    let visible = app
        .get(&format!(
            "/authorization/organization_memberships/{leaf_id}/resources?permission_slug=doc:read&parent_resource_id={p1_id}"
        ))
        .await;
    assert_eq!(field(&visible, "external_id"), ["d2"]);
    let all = app
        .get(&format!(
            "/authorization/organization_memberships/{mid_id}/resources?permission_slug=doc:read&parent_resource_type_slug=project&parent_resource_external_id=p1&order=asc"
        ))
        .await;
    assert_eq!(field(&all, "external_id"), ["d1", "d2", "d3"]);
    let paged = app
        .get(&format!(
            "/authorization/organization_memberships/{mid_id}/resources?permission_slug=doc:read&parent_resource_id={p1_id}&limit=2&order=asc"
        ))
        .await;
    assert_eq!(field(&paged, "external_id"), ["d1", "d2"]);
    assert_eq!(paged.body["list_metadata"]["after"], d2["id"]);
    for q in [
        "permission_slug=doc:read".to_string(),
        format!("parent_resource_id={p1_id}"),
        format!("permission_slug=nope&parent_resource_id={p1_id}"),
        "permission_slug=doc:read&parent_resource_type_slug=project".to_string(),
    ] {
        let res = app
            .get(&format!(
                "/authorization/organization_memberships/{mid_id}/resources?{q}"
            ))
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{q}: {}",
            res.text
        );
    }

    // Effective permissions, by the three paths.
    let d1_id = d1["id"].as_str().unwrap();
    for path in [
        format!("/authorization/organization_memberships/{mid_id}/resources/{d1_id}/permissions"),
        format!(
            "/authorization/organization_memberships/{mid_id}/resources/document/d1/permissions"
        ),
        format!("/authorization/resources/{d1_id}/organization_memberships/{mid_id}/permissions"),
    ] {
        assert_eq!(field(&app.get(&path).await, "slug"), ["doc:read"], "{path}");
    }
    let none = app
        .get(&format!(
            "/authorization/organization_memberships/{leaf_id}/resources/{d1_id}/permissions"
        ))
        .await;
    assert_eq!(field(&none, "slug"), Vec::<String>::new());

    // Who holds doc:read on d2: leaf directly, mid through p1.
    let d2_id = d2["id"].as_str().unwrap();
    let holders = app
        .get(&format!(
            "/authorization/resources/{d2_id}/organization_memberships?permission_slug=doc:read&order=asc"
        ))
        .await;
    assert_eq!(field(&holders, "id"), [leaf_id, mid_id]);
    assert_eq!(holders.body["data"][0]["user"]["email"], "leaf@example.com");
    let direct = app
        .get(&format!(
            "/authorization/resources/{d2_id}/organization_memberships?permission_slug=doc:read&assignment=direct"
        ))
        .await;
    assert_eq!(field(&direct, "id"), [leaf_id]);
    let acme_id = acme["id"].as_str().unwrap();
    let by_ext = app
        .get(&format!(
            "/authorization/organizations/{acme_id}/resources/document/d3/organization_memberships?permission_slug=doc:read"
        ))
        .await;
    assert_eq!(field(&by_ext, "id"), [mid_id]);
    assert_eq!(
        app.get(&format!(
            "/authorization/resources/{d2_id}/organization_memberships?permission_slug=doc:read&assignment=both"
        ))
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let _ = d3;
}

#[tokio::test]
async fn another_environments_memberships_and_resources_answer_404() {
    let app = TestApp::new().await;
    catalogue(&app).await;
    let acme = org(&app, "Acme").await;
    let w = resource(&app, &acme, "workspace", "w", None).await;
    let m = new_member(&app, "ada@example.com", &acme, "member").await;
    let a = assign(&app, &m, "ws-reader", &w).await;
    let other = app.new_tenant("Other").await;
    let key = Some(other.api_key.as_str());
    let om = m["id"].as_str().unwrap();
    let wid = w["id"].as_str().unwrap();
    let acme_id = acme["id"].as_str().unwrap();
    let target = json!({"role_slug": "ws-reader", "resource_id": wid});
    for (method, path, body) in [
        (
            Method::POST,
            format!("/authorization/organization_memberships/{om}/check"),
            Some(json!({"permission_slug": "doc:read", "resource_id": wid})),
        ),
        (
            Method::GET,
            format!("/authorization/organization_memberships/{om}/role_assignments"),
            None,
        ),
        (
            Method::POST,
            format!("/authorization/organization_memberships/{om}/role_assignments"),
            Some(target.clone()),
        ),
        (
            Method::DELETE,
            format!("/authorization/organization_memberships/{om}/role_assignments"),
            Some(target.clone()),
        ),
        (
            Method::DELETE,
            format!(
                "/authorization/organization_memberships/{om}/role_assignments/{}",
                a["id"].as_str().unwrap()
            ),
            None,
        ),
        (
            Method::GET,
            format!(
                "/authorization/organization_memberships/{om}/resources?permission_slug=doc:read&parent_resource_id={wid}"
            ),
            None,
        ),
        (
            Method::GET,
            format!("/authorization/organization_memberships/{om}/resources/{wid}/permissions"),
            None,
        ),
        (
            Method::GET,
            format!(
                "/authorization/organization_memberships/{om}/resources/workspace/w/permissions"
            ),
            None,
        ),
        (
            Method::GET,
            format!("/authorization/resources/{wid}/organization_memberships/{om}/permissions"),
            None,
        ),
        (
            Method::GET,
            format!(
                "/authorization/resources/{wid}/organization_memberships?permission_slug=doc:read"
            ),
            None,
        ),
        (
            Method::GET,
            format!("/authorization/resources/{wid}/role_assignments"),
            None,
        ),
        (
            Method::GET,
            format!(
                "/authorization/organizations/{acme_id}/resources/workspace/w/role_assignments"
            ),
            None,
        ),
        (
            Method::GET,
            format!(
                "/authorization/organizations/{acme_id}/resources/workspace/w/organization_memberships?permission_slug=doc:read"
            ),
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
    assert_eq!(app.count_rows("authorization_role_assignments").await, 1);
}

#[tokio::test]
async fn the_newest_python_sdk_drives_authorization() {
    if crate::support::skip(
        "KEYSTEAD_SKIP_SDK_TESTS",
        "the Python SDK Authorization test",
    ) {
        return;
    }
    let app = TestApp::new().await;
    resource_type(&app, "workspace", &[]).await;
    resource_type(&app, "project", &["workspace"]).await;
    let acme = org(&app, "Acme").await;
    let m = new_member(&app, "ada@example.com", &acme, "member").await;
    let base = app.serve().await;
    let python = crate::support::locks::python("python-newest");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/authorization.py");
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .arg(&base)
        .arg(&app.tenant.api_key)
        .arg(&app.tenant.client_id)
        .arg(acme["id"].as_str().unwrap())
        .arg(m["id"].as_str().unwrap());
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run the SDK script"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.count_rows("authorization_role_assignments").await, 0);
    assert_eq!(app.count_rows("authorization_resources").await, 0);
}

#[tokio::test]
async fn the_access_token_carries_the_permissions_of_the_membership_roles_after_refresh() {
    use crate::um::{claims, grant, password};
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let ada = user(&app, "ada@example.com", true).await;
    member(&app, &ada, &acme, "admin").await;
    permission(&app, "billing:manage", "organization").await;
    permission(&app, "users:read", "organization").await;

    let signed_in = password(&app, "ada@example.com").await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    let first = claims(signed_in.body["access_token"].as_str().unwrap());
    assert_eq!(first["role"], "admin");
    assert_eq!(first["permissions"], json!([]));

    expect(
        app.put(
            "/authorization/roles/admin/permissions",
            &json!({"permissions": ["users:read", "billing:manage"]}),
        )
        .await,
        StatusCode::OK,
    );
    let refreshed = grant(
        &app,
        json!({"grant_type": "refresh_token", "refresh_token": signed_in.body["refresh_token"]}),
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    let second = claims(refreshed.body["access_token"].as_str().unwrap());
    assert_eq!(
        second["permissions"],
        json!(["billing:manage", "users:read"])
    );
    assert_eq!(second["roles"], json!(["admin"]));
}
