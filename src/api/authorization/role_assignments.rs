//! `/authorization/organization_memberships/{organization_membership_id}/role_assignments`:
//! roles assigned to a membership on resources. Spec tag `authorization`: list, assign, remove
//! by role and resource, remove by id (`AuthorizationRoleAssignmentsController_*`); schema
//! `RoleAssignment` (plus `organization_membership_id` and `source`, as the SDKs read them).
//! Also the official Node SDK's `GET /authorization/resources/{resource_id}/role_assignments`
//! and `GET …/resources/{resource_type_slug}/{external_id}/role_assignments` (every assignment on
//! a resource), which the spec lacks.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;

use super::input;
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath, List, ListParams, Order, QueryMap};
use crate::ids::{
    AuthorizationResourceId, EnvironmentId, OrganizationMembershipId, RoleAssignmentId,
};
use crate::state::AppState;
use crate::store::authorization_resources::{self as resources, Resource};
use crate::store::role_assignments::{self, AssignmentFilter, RoleAssignment};

/// Routes of the role assignments (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/authorization/organization_memberships/{organization_membership_id}/role_assignments",
            get(list_assignments)
                .post(assign_role)
                .delete(remove_role),
        )
        .route(
            "/authorization/organization_memberships/{organization_membership_id}/role_assignments/{role_assignment_id}",
            delete(remove_assignment),
        )
        .route(
            "/authorization/resources/{resource_id}/role_assignments",
            get(list_for_resource),
        )
        .route(
            "/authorization/organizations/{organizationId}/resources/{resource_type_slug}/{external_id}/role_assignments",
            get(list_for_resource_by_external_id),
        )
}

/// Body of the assign and remove operations (spec: `AssignRoleDto`, `RemoveRoleDto`).
#[derive(Debug, Deserialize)]
pub struct RoleTarget {
    /// The role's slug (an environment role or a custom role of the membership's organization).
    pub role_slug: String,
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

fn membership_not_found(id: &OrganizationMembershipId) -> ApiError {
    ApiError::not_found_id::<OrganizationMembershipId>(id.as_str())
}

/// `POST …/role_assignments` → 201 `RoleAssignment` (an identical direct assignment is
/// answered as it is).
///
/// Errors: 404 membership or resource; 422 `invalid_role`, a resource of another organization,
/// a role of another resource type, or a malformed target.
async fn assign_role(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(om): IdPath<OrganizationMembershipId>,
    AppJson(body): AppJson<RoleTarget>,
) -> ApiResult<(StatusCode, Json<RoleAssignment>)> {
    input::slug("role_slug", &body.role_slug)?;
    let target = input::target(
        body.resource_id.as_deref(),
        body.resource_external_id.as_deref(),
        body.resource_type_slug.as_deref(),
    )?;
    let mut tx = state.db.begin().await?;
    let assignment =
        role_assignments::insert(&mut tx, &ctx.environment_id, &om, &body.role_slug, &target)
            .await?
            .ok_or_else(|| membership_not_found(&om))?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(assignment)))
}

/// `DELETE …/role_assignments` with `{role_slug, resource…}` → 204.
///
/// Errors: 404 membership, resource or assignment; 422 as for assigning.
async fn remove_role(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(om): IdPath<OrganizationMembershipId>,
    AppJson(body): AppJson<RoleTarget>,
) -> ApiResult<StatusCode> {
    input::slug("role_slug", &body.role_slug)?;
    let target = input::target(
        body.resource_id.as_deref(),
        body.resource_external_id.as_deref(),
        body.resource_type_slug.as_deref(),
    )?;
    let mut tx = state.db.begin().await?;
    let removed = role_assignments::delete_matching(
        &mut tx,
        &ctx.environment_id,
        &om,
        &body.role_slug,
        &target,
    )
    .await?
    .ok_or_else(|| membership_not_found(&om))?;
    if !removed {
        return Err(ApiError::not_found("Role assignment", body.role_slug));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE …/role_assignments/{role_assignment_id}` → 204. Errors: 404.
async fn remove_assignment(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path((om, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let om = OrganizationMembershipId::parse_lenient(&om)
        .ok_or_else(|| ApiError::not_found_id::<OrganizationMembershipId>(&om))?;
    let id = RoleAssignmentId::parse_lenient(&id)
        .ok_or_else(|| ApiError::not_found_id::<RoleAssignmentId>(&id))?;
    let mut tx = state.db.begin().await?;
    if !role_assignments::delete(&mut tx, &ctx.environment_id, &om, &id).await? {
        return Err(ApiError::not_found_id::<RoleAssignmentId>(id.as_str()));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET …/role_assignments`: a page of `RoleAssignmentList`, optionally only those on
/// `resource_id`, or on resources with `resource_external_id` / `resource_type_slug`.
/// Errors: 404 membership; 422 bad list parameters.
async fn list_assignments(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(om): IdPath<OrganizationMembershipId>,
    query: QueryMap,
) -> ApiResult<Json<List<RoleAssignment>>> {
    let params = ListParams::from_query(&query, Order::Desc)?;
    let filter = AssignmentFilter {
        resource_id: query.get("resource_id").map(String::from),
        resource_external_id: query.get("resource_external_id").map(String::from),
        resource_type_slug: query.get("resource_type_slug").map(String::from),
    };
    let mut conn = state.db.acquire().await?;
    if role_assignments::membership_organization(&mut conn, &ctx.environment_id, &om)
        .await?
        .is_none()
    {
        return Err(membership_not_found(&om));
    }
    let rows =
        role_assignments::list(&mut conn, &ctx.environment_id, &om, &filter, &params).await?;
    Ok(Json(params.page(rows, |a| a.id.as_str())))
}

async fn page_for_resource(
    state: &AppState,
    env: &EnvironmentId,
    resource: &Resource,
    query: &QueryMap,
) -> ApiResult<List<RoleAssignment>> {
    let params = ListParams::from_query(query, Order::Desc)?;
    let mut conn = state.db.acquire().await?;
    let rows = role_assignments::list_for_resource(&mut conn, env, &resource.id, &params).await?;
    Ok(params.page(rows, |a| a.id.as_str()))
}

/// `GET /authorization/resources/{resource_id}/role_assignments` (Node SDK
/// `listRoleAssignmentsForResource`): every assignment on the resource. Errors: 404.
async fn list_for_resource(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<AuthorizationResourceId>,
    query: QueryMap,
) -> ApiResult<Json<List<RoleAssignment>>> {
    let resource = {
        let mut conn = state.db.acquire().await?;
        resources::find(&mut conn, &ctx.environment_id, &id)
            .await?
            .ok_or_else(|| ApiError::not_found_id::<AuthorizationResourceId>(id.as_str()))?
    };
    Ok(Json(
        page_for_resource(&state, &ctx.environment_id, &resource, &query).await?,
    ))
}

/// `GET …/resources/{resource_type_slug}/{external_id}/role_assignments` (Node SDK
/// `listResourceRoleAssignments`). Errors: 404.
async fn list_for_resource_by_external_id(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(key): Path<(String, String, String)>,
    query: QueryMap,
) -> ApiResult<Json<List<RoleAssignment>>> {
    let resource = input::resource_by_path(&state, &ctx.environment_id, &key).await?;
    Ok(Json(
        page_for_resource(&state, &ctx.environment_id, &resource, &query).await?,
    ))
}
