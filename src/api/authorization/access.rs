//! Access checks and discovery. Spec tag `authorization`:
//! `POST /authorization/organization_memberships/{organization_membership_id}/check`
//! (`AuthorizationController_check`), the resources a membership may act on under a parent
//! (`_listResourcesForMembership`), its effective permissions on a resource by id and by
//! external id (`_listEffectivePermissions`, `_listEffectivePermissionsByExternalId`, and the
//! official Node SDK's `GET /authorization/resources/{resource_id}/organization_memberships/{organization_membership_id}/permissions`),
//! and the memberships holding a permission on a resource by id and by external id
//! (`AuthorizationResourcesController_listOrganizationMembershipsForResource`,
//! `AuthorizationResourcesByExternalIdController_listOrganizationMembershipsForResourceByExternalId`).
//! Each answer is one SQL statement ([`crate::store::authorization_checks`]).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::input;
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath, List, ListParams, Order, QueryMap};
use crate::ids::{AuthorizationResourceId, EnvironmentId, OrganizationMembershipId};
use crate::state::AppState;
use crate::store::authorization_checks::{self as checks, CheckOutcome, Target};
use crate::store::authorization_resources::{self as resources, Resource, ResourceRef};
use crate::store::organization_memberships::{self as memberships, Membership};
use crate::store::permissions::{self, Permission};
use crate::store::role_assignments;

/// Routes of checks and discovery (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/authorization/organization_memberships/{organization_membership_id}/check",
            post(check),
        )
        .route(
            "/authorization/organization_memberships/{organization_membership_id}/resources",
            get(list_resources_for_membership),
        )
        .route(
            "/authorization/organization_memberships/{organization_membership_id}/resources/{resource_id}/permissions",
            get(effective_permissions),
        )
        .route(
            "/authorization/organization_memberships/{organization_membership_id}/resources/{resource_id}/{external_id}/permissions",
            get(effective_permissions_by_external_id),
        )
        .route(
            "/authorization/resources/{resource_id}/organization_memberships/{organization_membership_id}/permissions",
            get(effective_permissions_by_resource),
        )
        .route(
            "/authorization/resources/{resource_id}/organization_memberships",
            get(memberships_for_resource),
        )
        .route(
            "/authorization/organizations/{organizationId}/resources/{resource_type_slug}/{external_id}/organization_memberships",
            get(memberships_for_resource_by_external_id),
        )
}

/// Body of the check (spec: `CheckAuthorizationDto`).
#[derive(Debug, Deserialize)]
pub struct CheckAuthorization {
    /// The permission to check.
    pub permission_slug: String,
    /// The resource by id.
    #[serde(default)]
    pub resource_id: Option<String>,
    /// The resource's external id (with `resource_type_slug`).
    #[serde(default)]
    pub resource_external_id: Option<String>,
    /// The resource's type (with `resource_external_id`).
    #[serde(default)]
    pub resource_type_slug: Option<String>,
}

/// `AuthorizationCheck`.
#[derive(Debug, Serialize)]
pub struct AuthorizationCheck {
    /// Whether the membership holds the permission on the resource.
    pub authorized: bool,
}

fn unknown_permission(field: &str, slug: &str) -> ApiError {
    ApiError::invalid_field(
        field,
        "not_found",
        format!("Permission '{slug}' does not exist."),
    )
}

/// `POST …/check` → `{authorized}`: an active membership holds the permission through one of its
/// organization-level roles (on every resource of its organization) or a role assigned on the
/// resource or an ancestor.
///
/// Errors: 404 membership or resource; 422 unknown permission or malformed target.
async fn check(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(om): IdPath<OrganizationMembershipId>,
    AppJson(body): AppJson<CheckAuthorization>,
) -> ApiResult<Json<AuthorizationCheck>> {
    input::permission_slug("permission_slug", &body.permission_slug)?;
    let target = input::target(
        body.resource_id.as_deref(),
        body.resource_external_id.as_deref(),
        body.resource_type_slug.as_deref(),
    )?;
    let by = match &target {
        ResourceRef::Id(id) => Target::Id(id),
        ResourceRef::Malformed(_) => return Err(resources::not_found(&target)),
        ResourceRef::External {
            resource_type_slug,
            external_id,
        } => Target::External(resource_type_slug, external_id),
    };
    let mut conn = state.db.acquire().await?;
    match checks::check(
        &mut conn,
        &ctx.environment_id,
        &om,
        &body.permission_slug,
        &by,
    )
    .await?
    {
        CheckOutcome::UnknownMembership => Err(ApiError::not_found_id::<OrganizationMembershipId>(
            om.as_str(),
        )),
        CheckOutcome::UnknownResource => Err(resources::not_found(&target)),
        CheckOutcome::UnknownPermission => {
            Err(unknown_permission("permission_slug", &body.permission_slug))
        }
        CheckOutcome::Authorized(authorized) => Ok(Json(AuthorizationCheck { authorized })),
    }
}

/// The membership's organization, or its 404.
async fn membership(
    state: &AppState,
    env: &EnvironmentId,
    om: &OrganizationMembershipId,
) -> ApiResult<crate::ids::OrganizationId> {
    let mut conn = state.db.acquire().await?;
    role_assignments::membership_organization(&mut conn, env, om)
        .await?
        .ok_or_else(|| ApiError::not_found_id::<OrganizationMembershipId>(om.as_str()))
}

/// The permission named by the `permission_slug` query parameter.
///
/// Errors: 422 when missing or unknown.
async fn permission_param(
    state: &AppState,
    env: &EnvironmentId,
    query: &QueryMap,
) -> ApiResult<Permission> {
    let slug = query.get("permission_slug").ok_or_else(|| {
        ApiError::invalid_field(
            "permission_slug",
            "required",
            "permission_slug is required.",
        )
    })?;
    let mut conn = state.db.acquire().await?;
    permissions::find_by_slug(&mut conn, env, slug)
        .await?
        .ok_or_else(|| unknown_permission("permission_slug", slug))
}

/// `GET …/organization_memberships/{id}/resources?permission_slug=&parent_resource_id=` (or
/// `parent_resource_type_slug` + `parent_resource_external_id`): a page of the parent's
/// children the membership holds the permission on.
///
/// Errors: 404 membership or parent; 422 missing or unknown permission, or a malformed parent.
async fn list_resources_for_membership(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(om): IdPath<OrganizationMembershipId>,
    query: QueryMap,
) -> ApiResult<Json<List<Resource>>> {
    let params = ListParams::from_query(&query, Order::Desc)?;
    let env = &ctx.environment_id;
    let org = membership(&state, env, &om).await?;
    let parent_ref = match (
        query.get("parent_resource_id"),
        query.get("parent_resource_external_id"),
        query.get("parent_resource_type_slug"),
    ) {
        (None, None, None) => {
            return Err(ApiError::invalid_field(
                "parent_resource_id",
                "required",
                "Provide parent_resource_id, or parent_resource_external_id and parent_resource_type_slug.",
            ));
        }
        (id, ext, ty) => input::target(id, ext, ty).map_err(|_| {
            ApiError::invalid_field(
                "parent_resource_id",
                "invalid",
                "Provide either parent_resource_id or parent_resource_external_id and parent_resource_type_slug.",
            )
        })?,
    };
    let permission = permission_param(&state, env, &query).await?;
    let mut conn = state.db.acquire().await?;
    let parent = resources::resolve(&mut conn, env, &org, &parent_ref)
        .await?
        .ok_or_else(|| resources::not_found(&parent_ref))?;
    let rows = checks::accessible_children(
        &mut conn,
        env,
        &om,
        &parent.id,
        permission.id.as_str(),
        &params,
    )
    .await?;
    Ok(Json(params.page(rows, |r| r.id.as_str())))
}

async fn effective(
    state: &AppState,
    env: &EnvironmentId,
    om: &OrganizationMembershipId,
    resource: &AuthorizationResourceId,
    query: &QueryMap,
) -> ApiResult<List<Permission>> {
    let params = ListParams::from_query(query, Order::Desc)?;
    let rows = {
        let mut conn = state.db.acquire().await?;
        checks::effective_permissions(&mut conn, env, om, resource, &params).await?
    };
    Ok(params.page(rows, |p| p.id.as_str()))
}

async fn resource_by_id(state: &AppState, env: &EnvironmentId, raw: &str) -> ApiResult<Resource> {
    let not_found = || ApiError::not_found_id::<AuthorizationResourceId>(raw);
    let id = AuthorizationResourceId::parse_lenient(raw).ok_or_else(not_found)?;
    let mut conn = state.db.acquire().await?;
    resources::find(&mut conn, env, &id)
        .await?
        .ok_or_else(not_found)
}

/// `GET …/organization_memberships/{id}/resources/{resource_id}/permissions`: a page of the
/// permissions the membership holds on the resource, inherited ones included. Errors: 404.
async fn effective_permissions(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path((om, resource)): Path<(String, String)>,
    query: QueryMap,
) -> ApiResult<Json<List<Permission>>> {
    effective_by_ids(&state, &ctx.environment_id, &om, &resource, &query).await
}

/// `GET /authorization/resources/{resource_id}/organization_memberships/{organization_membership_id}/permissions`
/// (the Node SDK's `listEffectivePermissions`): as [`effective_permissions`].
async fn effective_permissions_by_resource(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path((resource, om)): Path<(String, String)>,
    query: QueryMap,
) -> ApiResult<Json<List<Permission>>> {
    effective_by_ids(&state, &ctx.environment_id, &om, &resource, &query).await
}

/// The effective permissions of membership `om` on resource `resource` (both ids as sent;
/// malformed or unknown ones are 404), for the two routes that name them in either order.
async fn effective_by_ids(
    state: &AppState,
    env: &EnvironmentId,
    om: &str,
    resource: &str,
    query: &QueryMap,
) -> ApiResult<Json<List<Permission>>> {
    let om = OrganizationMembershipId::parse_lenient(om)
        .ok_or_else(|| ApiError::not_found_id::<OrganizationMembershipId>(om))?;
    membership(state, env, &om).await?;
    let resource = resource_by_id(state, env, resource).await?;
    Ok(Json(effective(state, env, &om, &resource.id, query).await?))
}

/// `GET …/organization_memberships/{id}/resources/{resource_type_slug}/{external_id}/permissions`:
/// as [`effective_permissions`], the resource named by type and external id in the
/// membership's organization. Errors: 404.
async fn effective_permissions_by_external_id(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path((om, ty, ext)): Path<(String, String, String)>,
    query: QueryMap,
) -> ApiResult<Json<List<Permission>>> {
    let env = &ctx.environment_id;
    let om = OrganizationMembershipId::parse_lenient(&om)
        .ok_or_else(|| ApiError::not_found_id::<OrganizationMembershipId>(&om))?;
    let org = membership(&state, env, &om).await?;
    let key = (org.to_string(), ty, ext);
    let resource = input::resource_by_path(&state, env, &key).await?;
    Ok(Json(
        effective(&state, env, &om, &resource.id, &query).await?,
    ))
}

async fn holders(
    state: &AppState,
    env: &EnvironmentId,
    resource: &Resource,
    query: &QueryMap,
) -> ApiResult<List<Membership>> {
    let params = ListParams::from_query(query, Order::Desc)?;
    let direct = match query.get("assignment") {
        None | Some("indirect") => false,
        Some("direct") => true,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "assignment",
                "invalid",
                "assignment must be direct or indirect.",
            ));
        }
    };
    let permission = permission_param(state, env, query).await?;
    let mut conn = state.db.acquire().await?;
    let ids = checks::memberships_with_permission(
        &mut conn,
        env,
        resource,
        permission.id.as_str(),
        direct,
        &params,
    )
    .await?;
    let page = params.page(ids, |id| id.as_str());
    let data = memberships::find_many(&mut conn, env, &page.data).await?;
    Ok(List {
        object: page.object,
        data,
        list_metadata: page.list_metadata,
    })
}

/// `GET /authorization/resources/{resource_id}/organization_memberships?permission_slug=`
/// (`assignment=direct` for assignments on the resource itself only): a page of the active
/// memberships holding the permission on the resource, with their users.
///
/// Errors: 404 resource; 422 missing or unknown permission, a bad `assignment`.
async fn memberships_for_resource(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(resource): Path<String>,
    query: QueryMap,
) -> ApiResult<Json<List<Membership>>> {
    let resource = resource_by_id(&state, &ctx.environment_id, &resource).await?;
    Ok(Json(
        holders(&state, &ctx.environment_id, &resource, &query).await?,
    ))
}

/// `GET …/resources/{resource_type_slug}/{external_id}/organization_memberships`: as
/// [`memberships_for_resource`]. Errors: 404, 422.
async fn memberships_for_resource_by_external_id(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(key): Path<(String, String, String)>,
    query: QueryMap,
) -> ApiResult<Json<List<Membership>>> {
    let resource = input::resource_by_path(&state, &ctx.environment_id, &key).await?;
    Ok(Json(
        holders(&state, &ctx.environment_id, &resource, &query).await?,
    ))
}
