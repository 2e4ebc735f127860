//! `/authorization/roles`: environment roles. Spec tag `authorization`: list, create, get by
//! slug, update (`AuthorizationRolesController_*`), set and add permissions
//! (`AuthorizationRolePermissionsController_setPermissions`, `_addPermission`); schema `Role`.
//! `member` and `admin` exist in every environment. Shared with the organization roles
//! ([`super::organization_roles`]): the body types and their checks.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::input::{self, PlainList};
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, Patch};
use crate::state::AppState;
use crate::store::resource_types::ORGANIZATION;
use crate::store::roles::{self, NewRole, PermissionChange, Role, RoleChanges, Scope};

/// Routes of the environment roles (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/authorization/roles", get(list_roles).post(create_role))
        .route(
            "/authorization/roles/{slug}",
            get(get_role).patch(update_role),
        )
        .route(
            "/authorization/roles/{slug}/permissions",
            put(set_permissions).post(add_permission),
        )
}

/// Body of `POST /authorization/roles` (spec: `CreateRoleDto`).
#[derive(Debug, Deserialize)]
pub struct CreateRole {
    /// Unique slug: lowercase letters, digits, `-` and `_`, at most 48 characters.
    pub slug: String,
    /// Display name, at most 48 characters.
    pub name: String,
    /// Description, at most 150 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// Resource type the role applies to (`organization` when omitted).
    #[serde(default)]
    pub resource_type_slug: Option<String>,
}

/// Body of the role `PATCH`es (spec: `UpdateRoleDto`, `UpdateOrganizationRoleDto`).
#[derive(Debug, Deserialize)]
pub struct UpdateRole {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New description (`null` clears it).
    #[serde(default)]
    pub description: Patch<String>,
}

/// Body of `PUT …/permissions` (spec: `SetRolePermissionsDto`).
#[derive(Debug, Deserialize)]
pub struct SetPermissions {
    /// Every permission slug the role holds afterwards.
    pub permissions: Vec<String>,
}

/// Body of `POST …/permissions` (spec: `AddRolePermissionDto`).
#[derive(Debug, Deserialize)]
pub struct AddPermission {
    /// The permission slug to add.
    pub slug: String,
}

/// Checks name, description and resource type of a new role.
pub fn new_role(
    slug: String,
    name: &str,
    description: Option<String>,
    resource_type_slug: Option<String>,
) -> ApiResult<NewRole> {
    let name = input::name(name)?;
    input::description(description.as_deref())?;
    let resource_type_slug = resource_type_slug.unwrap_or_else(|| ORGANIZATION.to_string());
    input::slug("resource_type_slug", &resource_type_slug)?;
    Ok(NewRole {
        slug,
        name,
        description,
        resource_type_slug,
    })
}

/// Checks an [`UpdateRole`].
pub fn changes(body: UpdateRole) -> ApiResult<RoleChanges> {
    let name = body.name.as_deref().map(input::name).transpose()?;
    input::description(body.description.value().map(String::as_str))?;
    Ok(RoleChanges {
        name,
        description: body.description.into_update(),
    })
}

/// Checks the slugs of a [`SetPermissions`] (duplicates dropped).
pub fn permission_list(body: SetPermissions) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(body.permissions.len());
    for slug in body.permissions {
        input::permission_slug("permissions", &slug)?;
        if !out.contains(&slug) {
            out.push(slug);
        }
    }
    Ok(out)
}

/// Applies a permission change to a role of `scope`. Errors: 404 unknown role, 422 bad slugs.
pub async fn apply_permissions(
    state: &AppState,
    env: &crate::ids::EnvironmentId,
    scope: Scope<'_>,
    slug: &str,
    change: PermissionChange,
    permissions: &[String],
    field: &str,
) -> ApiResult<Role> {
    if !input::path_key(slug) {
        return Err(ApiError::not_found("Role", slug));
    }
    let mut tx = state.db.begin().await?;
    let role = roles::change_permissions(&mut tx, env, scope, slug, change, permissions, field)
        .await?
        .ok_or_else(|| ApiError::not_found("Role", slug))?;
    tx.commit().await?;
    Ok(role)
}

/// `POST /authorization/roles` → 201 Role; records `role.created`.
///
/// Errors: 422 for a malformed field or unknown resource type; 409 `role_slug_conflict`.
async fn create_role(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateRole>,
) -> ApiResult<(StatusCode, Json<Role>)> {
    input::slug("slug", &body.slug)?;
    if body.slug.starts_with("org-") {
        return Err(ApiError::invalid_field(
            "slug",
            "invalid",
            "Slugs starting with 'org-' are reserved for organization roles.",
        ));
    }
    let new = new_role(
        body.slug,
        &body.name,
        body.description,
        body.resource_type_slug,
    )?;
    let mut tx = state.db.begin().await?;
    let role = roles::insert(&mut tx, &ctx.environment_id, Scope::Environment, new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(role)))
}

/// `GET /authorization/roles`.
async fn list_roles(
    State(state): State<AppState>,
    Env(ctx): Env,
) -> ApiResult<Json<PlainList<Role>>> {
    let mut conn = state.db.acquire().await?;
    let data = roles::list(&mut conn, &ctx.environment_id, Scope::Environment).await?;
    Ok(Json(PlainList::new(data)))
}

/// `GET /authorization/roles/{slug}`. Errors: 404.
async fn get_role(
    State(state): State<AppState>,
    Env(ctx): Env,
    // Roles are addressed by slug (`admin`), a key of the environment, not by their `role_…` id.
    Path(slug): Path<String>,
) -> ApiResult<Json<Role>> {
    let found = if input::path_key(&slug) {
        let mut conn = state.db.acquire().await?;
        roles::find_by_slug(&mut conn, &ctx.environment_id, &slug).await?
    } else {
        None
    };
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Role", slug))
}

/// `PATCH /authorization/roles/{slug}` → the role; records `role.updated`. Errors: 404, 422.
async fn update_role(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(slug): Path<String>,
    AppJson(body): AppJson<UpdateRole>,
) -> ApiResult<Json<Role>> {
    let changes = changes(body)?;
    if !input::path_key(&slug) {
        return Err(ApiError::not_found("Role", slug));
    }
    let mut tx = state.db.begin().await?;
    let role = roles::update(
        &mut tx,
        &ctx.environment_id,
        Scope::Environment,
        &slug,
        &changes,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("Role", slug))?;
    tx.commit().await?;
    Ok(Json(role))
}

/// `PUT /authorization/roles/{slug}/permissions` → the role with exactly these permissions;
/// records `role.updated`. Errors: 404 role; 422 unknown permission or one of another type.
async fn set_permissions(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(slug): Path<String>,
    AppJson(body): AppJson<SetPermissions>,
) -> ApiResult<Json<Role>> {
    let permissions = permission_list(body)?;
    let role = apply_permissions(
        &state,
        &ctx.environment_id,
        Scope::Environment,
        &slug,
        PermissionChange::Set,
        &permissions,
        "permissions",
    )
    .await?;
    Ok(Json(role))
}

/// `POST /authorization/roles/{slug}/permissions` → the role (adding a held permission changes
/// nothing); records `role.updated`. Errors: 404 role; 422 unknown permission.
async fn add_permission(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(slug): Path<String>,
    AppJson(body): AppJson<AddPermission>,
) -> ApiResult<Json<Role>> {
    input::permission_slug("slug", &body.slug)?;
    let role = apply_permissions(
        &state,
        &ctx.environment_id,
        Scope::Environment,
        &slug,
        PermissionChange::Add,
        &[body.slug],
        "slug",
    )
    .await?;
    Ok(Json(role))
}
