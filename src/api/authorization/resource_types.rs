//! `/authorization/resource_types`: a Keystead extension (WorkOS configures resource types in
//! its dashboard). Create (`POST` → 201), list, get and delete by slug. `organization` is the
//! implicit root: every environment has it, it is the default parent, and it cannot be deleted.
//! A type may be nested at most [`TYPE_DEPTH_MAX`] levels below `organization`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::input::{self, PlainList};
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env};
use crate::state::AppState;
use crate::store::resource_types::{self, NewResourceType, ORGANIZATION, ResourceType};

/// Deepest nesting of resource types below `organization`.
pub const TYPE_DEPTH_MAX: i32 = 5;

/// Routes of the resource types (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/authorization/resource_types",
            get(list_resource_types).post(create_resource_type),
        )
        .route(
            "/authorization/resource_types/{slug}",
            get(get_resource_type).delete(delete_resource_type),
        )
}

/// Body of `POST /authorization/resource_types`.
#[derive(Debug, Deserialize)]
pub struct CreateResourceType {
    /// Unique slug: lowercase letters, digits, `-` and `_`, at most 48 characters.
    pub slug: String,
    /// Display name, at most 48 characters.
    pub name: String,
    /// Description, at most 150 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// Types a resource of this type may be nested under (`organization` when omitted or
    /// empty).
    #[serde(default)]
    pub parent_resource_type_slugs: Option<Vec<String>>,
}

/// `POST /authorization/resource_types` → 201 the type.
///
/// Errors: 422 for a malformed field, an unknown parent, a type naming itself or nesting past
/// the depth limit; 409 `resource_type_slug_conflict`.
async fn create_resource_type(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateResourceType>,
) -> ApiResult<(StatusCode, Json<ResourceType>)> {
    input::slug("slug", &body.slug)?;
    let name = input::name(&body.name)?;
    input::description(body.description.as_deref())?;
    let mut parents: Vec<String> = Vec::new();
    for p in body.parent_resource_type_slugs.unwrap_or_default() {
        input::slug("parent_resource_type_slugs", &p)?;
        if !parents.contains(&p) {
            parents.push(p);
        }
    }
    if parents.is_empty() {
        parents.push(ORGANIZATION.to_string());
    }
    let new = NewResourceType {
        slug: body.slug,
        name,
        description: body.description,
        parents,
    };
    let mut tx = state.db.begin().await?;
    let created =
        resource_types::insert(&mut tx, &ctx.environment_id, &new, TYPE_DEPTH_MAX).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /authorization/resource_types`: every type, `organization` first.
async fn list_resource_types(
    State(state): State<AppState>,
    Env(ctx): Env,
) -> ApiResult<Json<PlainList<ResourceType>>> {
    let mut conn = state.db.acquire().await?;
    let data = resource_types::list(&mut conn, &ctx.environment_id).await?;
    Ok(Json(PlainList::new(data)))
}

/// `GET /authorization/resource_types/{slug}`. Errors: 404.
async fn get_resource_type(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(slug): Path<String>,
) -> ApiResult<Json<ResourceType>> {
    let found = if input::path_key(&slug) {
        let mut conn = state.db.acquire().await?;
        resource_types::find(&mut conn, &ctx.environment_id, &slug).await?
    } else {
        None
    };
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Resource type", slug))
}

/// `DELETE /authorization/resource_types/{slug}` → 204.
///
/// Errors: 404; 422 for `organization`; 409 `resource_type_in_use` while types, resources,
/// permissions or roles refer to it.
async fn delete_resource_type(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    if !input::path_key(&slug) {
        return Err(ApiError::not_found("Resource type", slug));
    }
    let mut tx = state.db.begin().await?;
    if !resource_types::delete(&mut tx, &ctx.environment_id, &slug).await? {
        return Err(ApiError::not_found("Resource type", slug));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
