//! `/authorization/permissions`: permissions, addressed by slug. Spec tag `permissions`: list,
//! create, get, update, delete (`AuthorizationPermissionsController_*`); schema
//! `AuthorizationPermission`. Events: `permission.created/updated/deleted`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::input;
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, List, ListParams, Order, Patch, QueryMap};
use crate::state::AppState;
use crate::store::permissions::{self, NewPermission, Permission, PermissionChanges};
use crate::store::resource_types::ORGANIZATION;

/// Routes of the permissions (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/authorization/permissions",
            get(list_permissions).post(create_permission),
        )
        .route(
            "/authorization/permissions/{slug}",
            get(get_permission)
                .patch(update_permission)
                .delete(delete_permission),
        )
}

/// Body of `POST /authorization/permissions` (spec: `CreateAuthorizationPermissionDto`).
#[derive(Debug, Deserialize)]
pub struct CreatePermission {
    /// Unique slug (lowercase letters, digits, `-`, `_`, `:`, `.`, `*`; at most 48).
    pub slug: String,
    /// Display name, at most 48 characters.
    pub name: String,
    /// Description, at most 150 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// The resource type it applies to (`organization` when omitted).
    #[serde(default)]
    pub resource_type_slug: Option<String>,
}

/// Body of `PATCH /authorization/permissions/{slug}` (spec:
/// `UpdateAuthorizationPermissionDto`).
#[derive(Debug, Deserialize)]
pub struct UpdatePermission {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New description (`null` clears it).
    #[serde(default)]
    pub description: Patch<String>,
}

/// `POST /authorization/permissions` → 201 `AuthorizationPermission`; records
/// `permission.created`.
///
/// Errors: 422 for a malformed field or unknown resource type; 409 `permission_slug_conflict`.
async fn create_permission(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreatePermission>,
) -> ApiResult<(StatusCode, Json<Permission>)> {
    input::permission_slug("slug", &body.slug)?;
    let name = input::name(&body.name)?;
    input::description(body.description.as_deref())?;
    let resource_type_slug = body
        .resource_type_slug
        .unwrap_or_else(|| ORGANIZATION.to_string());
    input::slug("resource_type_slug", &resource_type_slug)?;
    let new = NewPermission {
        slug: body.slug,
        name,
        description: body.description,
        resource_type_slug,
    };
    let mut tx = state.db.begin().await?;
    let permission = permissions::insert(&mut tx, &ctx.environment_id, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(permission)))
}

/// `GET /authorization/permissions`: a page of `AuthorizationPermissionList`.
async fn list_permissions(
    State(state): State<AppState>,
    Env(ctx): Env,
    query: QueryMap,
) -> ApiResult<Json<List<Permission>>> {
    let params = ListParams::from_query(&query, Order::Desc)?;
    let mut conn = state.db.acquire().await?;
    let rows = permissions::list(&mut conn, &ctx.environment_id, &params).await?;
    Ok(Json(params.page(rows, |p| p.id.as_str())))
}

/// `GET /authorization/permissions/{slug}`. Errors: 404.
async fn get_permission(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(slug): Path<String>,
) -> ApiResult<Json<Permission>> {
    let found = if input::path_key(&slug) {
        let mut conn = state.db.acquire().await?;
        permissions::find_by_slug(&mut conn, &ctx.environment_id, &slug).await?
    } else {
        None
    };
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Permission", slug))
}

/// `PATCH /authorization/permissions/{slug}` → the permission; records `permission.updated`.
/// Errors: 404, 422.
async fn update_permission(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(slug): Path<String>,
    AppJson(body): AppJson<UpdatePermission>,
) -> ApiResult<Json<Permission>> {
    let name = body.name.as_deref().map(input::name).transpose()?;
    input::description(body.description.value().map(String::as_str))?;
    let changes = PermissionChanges {
        name,
        description: body.description.into_update(),
    };
    if !input::path_key(&slug) {
        return Err(ApiError::not_found("Permission", slug));
    }
    let mut tx = state.db.begin().await?;
    let permission = permissions::update(&mut tx, &ctx.environment_id, &slug, &changes)
        .await?
        .ok_or_else(|| ApiError::not_found("Permission", slug))?;
    tx.commit().await?;
    Ok(Json(permission))
}

/// `DELETE /authorization/permissions/{slug}` → 204 (roles lose it); records
/// `permission.deleted`. Errors: 404.
async fn delete_permission(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    if !input::path_key(&slug) {
        return Err(ApiError::not_found("Permission", slug));
    }
    let mut tx = state.db.begin().await?;
    permissions::delete(&mut tx, &ctx.environment_id, &slug)
        .await?
        .ok_or_else(|| ApiError::not_found("Permission", slug))?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
