//! `/authorization/organizations/{organizationId}/roles`: an organization's roles. Spec tag
//! `authorization`: create, list, get, update, delete
//! (`AuthorizationOrganizationRolesController_*`) and set, add and remove permissions
//! (`AuthorizationOrganizationRolePermissionsController_*`). The list and `GET` include the
//! environment roles (they apply to every organization); the mutations address the
//! organization's custom roles, whose slugs start with `org-` (generated from the name when
//! omitted). Events: `organization_role.created/updated/deleted`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::input::{self, PlainList};
use super::roles::{
    AddPermission, SetPermissions, UpdateRole, apply_permissions, changes, new_role,
    permission_list,
};
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env};
use crate::ids::{EnvironmentId, OrganizationId};
use crate::state::AppState;
use crate::store::organizations;
use crate::store::roles::{self, PermissionChange, Role, Scope};

/// Routes of the organization roles (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/authorization/organizations/{organizationId}/roles",
            get(list_roles).post(create_role),
        )
        .route(
            "/authorization/organizations/{organizationId}/roles/{slug}",
            get(get_role).patch(update_role).delete(delete_role),
        )
        .route(
            "/authorization/organizations/{organizationId}/roles/{slug}/permissions",
            put(set_permissions).post(add_permission),
        )
        .route(
            "/authorization/organizations/{organizationId}/roles/{slug}/permissions/{permissionSlug}",
            delete(remove_permission),
        )
}

/// Body of `POST …/roles` (spec: `CreateOrganizationRoleDto`).
#[derive(Debug, Deserialize)]
pub struct CreateOrganizationRole {
    /// Slug starting with `org-`; generated from the name when omitted.
    #[serde(default)]
    pub slug: Option<String>,
    /// Display name, at most 48 characters.
    pub name: String,
    /// Description, at most 150 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// Resource type the role applies to (`organization` when omitted).
    #[serde(default)]
    pub resource_type_slug: Option<String>,
}

/// The organization of the path, which must exist in the environment. Errors: 404.
async fn organization(
    state: &AppState,
    env: &EnvironmentId,
    raw: &str,
) -> ApiResult<OrganizationId> {
    let not_found = || ApiError::not_found_id::<OrganizationId>(raw);
    let id = OrganizationId::parse_lenient(raw).ok_or_else(not_found)?;
    let mut conn = state.db.acquire().await?;
    organizations::find(&mut conn, env, &id)
        .await?
        .map(|o| o.id)
        .ok_or_else(not_found)
}

/// `org-<name as a slug>-<6 random characters>`, at most 48 characters.
fn generated_slug(name: &str) -> String {
    let mut base = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            base.push(c.to_ascii_lowercase());
        } else if !base.ends_with('-') && !base.is_empty() {
            base.push('-');
        }
    }
    let base: String = base.trim_end_matches('-').chars().take(34).collect();
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    let suffix = &suffix[suffix.len() - 6..];
    if base.is_empty() {
        format!("org-{suffix}")
    } else {
        format!("org-{base}-{suffix}")
    }
}

/// `POST …/roles` → 201 Role (`type: OrganizationRole`); records `organization_role.created`.
///
/// Errors: 404 organization; 422 for a malformed field (a given slug must start with `org-`) or
/// an unknown resource type; 409 `organization_role_slug_conflict`.
async fn create_role(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(org): Path<String>,
    AppJson(body): AppJson<CreateOrganizationRole>,
) -> ApiResult<(StatusCode, Json<Role>)> {
    let slug = match body.slug {
        Some(slug) => {
            input::slug("slug", &slug)?;
            if !slug.starts_with("org-") || slug.len() <= 4 {
                return Err(ApiError::invalid_field(
                    "slug",
                    "invalid",
                    "An organization role's slug must start with 'org-'.",
                ));
            }
            slug
        }
        None => generated_slug(&body.name),
    };
    let new = new_role(slug, &body.name, body.description, body.resource_type_slug)?;
    let org = organization(&state, &ctx.environment_id, &org).await?;
    let mut tx = state.db.begin().await?;
    let role = roles::insert(&mut tx, &ctx.environment_id, Scope::Organization(&org), new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(role)))
}

/// `GET …/roles`: the environment roles, then the organization's, in priority order.
/// Errors: 404 organization.
async fn list_roles(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(org): Path<String>,
) -> ApiResult<Json<PlainList<Role>>> {
    let org = organization(&state, &ctx.environment_id, &org).await?;
    let mut conn = state.db.acquire().await?;
    let data = roles::list(&mut conn, &ctx.environment_id, Scope::Organization(&org)).await?;
    Ok(Json(PlainList::new(data)))
}

/// `GET …/roles/{slug}`: a custom role of the organization or an environment role.
/// Errors: 404.
async fn get_role(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path((org, slug)): Path<(String, String)>,
) -> ApiResult<Json<Role>> {
    let org = organization(&state, &ctx.environment_id, &org).await?;
    let found = if input::path_key(&slug) {
        let mut conn = state.db.acquire().await?;
        roles::find_for_organization(&mut conn, &ctx.environment_id, &org, &slug).await?
    } else {
        None
    };
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Role", slug))
}

/// `PATCH …/roles/{slug}` → the custom role; records `organization_role.updated`.
/// Errors: 404, 422.
async fn update_role(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path((org, slug)): Path<(String, String)>,
    AppJson(body): AppJson<UpdateRole>,
) -> ApiResult<Json<Role>> {
    let changes = changes(body)?;
    let org = organization(&state, &ctx.environment_id, &org).await?;
    if !input::path_key(&slug) {
        return Err(ApiError::not_found("Role", slug));
    }
    let mut tx = state.db.begin().await?;
    let role = roles::update(
        &mut tx,
        &ctx.environment_id,
        Scope::Organization(&org),
        &slug,
        &changes,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("Role", slug))?;
    tx.commit().await?;
    Ok(Json(role))
}

/// `DELETE …/roles/{slug}` → 204; records `organization_role.deleted`.
///
/// Errors: 404; 409 `role_has_assignments` while a membership holds it.
async fn delete_role(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path((org, slug)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let org = organization(&state, &ctx.environment_id, &org).await?;
    if !input::path_key(&slug) {
        return Err(ApiError::not_found("Role", slug));
    }
    let mut tx = state.db.begin().await?;
    roles::delete(&mut tx, &ctx.environment_id, &org, &slug)
        .await?
        .ok_or_else(|| ApiError::not_found("Role", slug))?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT …/roles/{slug}/permissions` → the custom role with exactly these permissions.
/// Errors: 404, 422.
async fn set_permissions(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path((org, slug)): Path<(String, String)>,
    AppJson(body): AppJson<SetPermissions>,
) -> ApiResult<Json<Role>> {
    let permissions = permission_list(body)?;
    let org = organization(&state, &ctx.environment_id, &org).await?;
    let role = apply_permissions(
        &state,
        &ctx.environment_id,
        Scope::Organization(&org),
        &slug,
        PermissionChange::Set,
        &permissions,
        "permissions",
    )
    .await?;
    Ok(Json(role))
}

/// `POST …/roles/{slug}/permissions` → the custom role with the permission added.
/// Errors: 404, 422.
async fn add_permission(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path((org, slug)): Path<(String, String)>,
    AppJson(body): AppJson<AddPermission>,
) -> ApiResult<Json<Role>> {
    input::permission_slug("slug", &body.slug)?;
    let org = organization(&state, &ctx.environment_id, &org).await?;
    let role = apply_permissions(
        &state,
        &ctx.environment_id,
        Scope::Organization(&org),
        &slug,
        PermissionChange::Add,
        &[body.slug],
        "slug",
    )
    .await?;
    Ok(Json(role))
}

/// `DELETE …/roles/{slug}/permissions/{permissionSlug}` → the custom role without it.
/// Errors: 404 organization, role or permission.
async fn remove_permission(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path((org, slug, permission)): Path<(String, String, String)>,
) -> ApiResult<Json<Role>> {
    let org = organization(&state, &ctx.environment_id, &org).await?;
    if !input::path_key(&permission) {
        return Err(ApiError::not_found("Permission", permission));
    }
    let role = apply_permissions(
        &state,
        &ctx.environment_id,
        Scope::Organization(&org),
        &slug,
        PermissionChange::Remove,
        &[permission],
        "permissionSlug",
    )
    .await?;
    Ok(Json(role))
}
