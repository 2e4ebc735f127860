//! Authorization through HTTP: permissions, the resource-type extension, environment and
//! organization roles with their permissions ([`catalogue`]), resources by id and external id
//! ([`resources`]); each with its WorkOS error bodies, events, and another environment's ids
//! answering 404.

mod access;
mod catalogue;
mod resources;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};

/// `PATCH` with the app's key.
pub async fn patch(app: &TestApp, path: &str, body: &Value) -> TestResponse {
    app.send(Method::PATCH, path, Some(&app.tenant.api_key), Some(body))
        .await
}

/// `DELETE` with a JSON body and the app's key.
pub async fn delete_with(app: &TestApp, path: &str, body: &Value) -> TestResponse {
    app.send(Method::DELETE, path, Some(&app.tenant.api_key), Some(body))
        .await
}

/// Asserts `res` has `status` and returns its body.
pub fn expect(res: TestResponse, status: StatusCode) -> Value {
    assert_eq!(res.status, status, "{}", res.text);
    res.body
}

/// Creates a resource type under `parents` (`[]`: organization).
pub async fn resource_type(app: &TestApp, slug: &str, parents: &[&str]) -> Value {
    expect(
        app.post(
            "/authorization/resource_types",
            &json!({"slug": slug, "name": slug, "parent_resource_type_slugs": parents}),
        )
        .await,
        StatusCode::CREATED,
    )
}

/// Creates a permission of `resource_type`.
pub async fn permission(app: &TestApp, slug: &str, resource_type: &str) -> Value {
    expect(
        app.post(
            "/authorization/permissions",
            &json!({"slug": slug, "name": slug, "resource_type_slug": resource_type}),
        )
        .await,
        StatusCode::CREATED,
    )
}

/// Creates an environment role of `resource_type` holding `permissions`.
pub async fn role(app: &TestApp, slug: &str, resource_type: &str, permissions: &[&str]) -> Value {
    expect(
        app.post(
            "/authorization/roles",
            &json!({"slug": slug, "name": slug, "resource_type_slug": resource_type}),
        )
        .await,
        StatusCode::CREATED,
    );
    expect(
        app.put(
            &format!("/authorization/roles/{slug}/permissions"),
            &json!({"permissions": permissions}),
        )
        .await,
        StatusCode::OK,
    )
}

/// Creates a resource in `org` (`parent`: a resource id, or none for the top level).
pub async fn resource(
    app: &TestApp,
    org: &Value,
    ty: &str,
    external_id: &str,
    parent: Option<&Value>,
) -> Value {
    let mut body = json!({"organization_id": org["id"], "resource_type_slug": ty,
                          "external_id": external_id, "name": external_id});
    if let Some(p) = parent {
        body["parent_resource_id"] = p["id"].clone();
    }
    expect(
        app.post("/authorization/resources", &body).await,
        StatusCode::CREATED,
    )
}

/// The `field` of every item of a list response, in order.
pub fn field(res: &TestResponse, field: &str) -> Vec<String> {
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f[field].as_str().unwrap().to_string())
        .collect()
}
