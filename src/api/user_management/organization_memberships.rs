//! `/user_management/organization_memberships`: create, list (by `organization_id`, `user_id`,
//! `statuses`), get, update roles, deactivate, reactivate, delete. Spec tag
//! `user-management.organization-membership` (operations
//! `UserlandUserOrganizationMembershipsController_*`; semantics in WORKOS-API-NOTES §8 item 11).
//!
//! Roles come from the environment's catalogue (`member` by default, `admin`, custom slugs);
//! unknown slugs are refused with 422 `invalid_role`. `role_slug` and `role_slugs` are mutually
//! exclusive; with `role_slugs` the first is the primary `role`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath, List, ListParams, Order, QueryMap};
use crate::ids::EnvironmentId;
use crate::ids::{IdFilter, OrganizationId, OrganizationMembershipId, UserId};
use crate::state::AppState;
use crate::store::organization_memberships::{self as memberships, Membership, MembershipFilter};
use crate::store::role_assignments;
use crate::store::roles::{self, DEFAULT_ROLE, Unusable};
use crate::store::{organizations, users};

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/user_management/organization_memberships",
            get(list_memberships).post(create_membership),
        )
        .route(
            "/user_management/organization_memberships/{id}",
            get(get_membership)
                .put(update_membership)
                .delete(delete_membership),
        )
        .route(
            "/user_management/organization_memberships/{id}/deactivate",
            put(deactivate_membership),
        )
        .route(
            "/user_management/organization_memberships/{id}/reactivate",
            put(reactivate_membership),
        )
}

/// Body of `POST /user_management/organization_memberships`.
#[derive(Debug, Deserialize)]
pub struct CreateMembership {
    /// The user.
    pub user_id: String,
    /// The organization.
    pub organization_id: String,
    /// One role (default `member`).
    #[serde(default)]
    pub role_slug: Option<String>,
    /// Several roles, the first primary.
    #[serde(default)]
    pub role_slugs: Option<Vec<String>>,
}

/// Body of `PUT /user_management/organization_memberships/{id}`: `{}`, `{role_slug}` or
/// `{role_slugs}`.
#[derive(Debug, Default, Deserialize)]
pub struct UpdateMembership {
    /// The new role.
    #[serde(default)]
    pub role_slug: Option<String>,
    /// The new roles.
    #[serde(default)]
    pub role_slugs: Option<Vec<String>>,
}

/// The roles a body names (deduplicated, in order), `None` when it names none.
///
/// Errors: 422 `invalid_request_parameters` for both fields or an empty list; 422
/// `invalid_role` for a slug not in the catalogue.
async fn requested_roles(
    state: &AppState,
    env: &EnvironmentId,
    org: Option<&OrganizationId>,
    role_slug: Option<String>,
    role_slugs: Option<Vec<String>>,
) -> ApiResult<Option<Vec<String>>> {
    use crate::limits::{ROLE_SLUG_MAX, max_chars};
    max_chars("role_slug", role_slug.as_deref(), ROLE_SLUG_MAX)?;
    for slug in role_slugs.iter().flatten() {
        max_chars("role_slugs", Some(slug), ROLE_SLUG_MAX)?;
    }
    let wanted = match (role_slug, role_slugs) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_field(
                "role_slugs",
                "invalid",
                "Provide either role_slug or role_slugs, not both.",
            ));
        }
        (Some(one), None) => vec![one],
        (None, Some(many)) if many.is_empty() => {
            return Err(ApiError::invalid_field(
                "role_slugs",
                "invalid",
                "role_slugs must name at least one role.",
            ));
        }
        (None, Some(many)) => {
            let mut out: Vec<String> = Vec::with_capacity(many.len());
            for slug in many {
                if !out.contains(&slug) {
                    out.push(slug);
                }
            }
            out
        }
        (None, None) => return Ok(None),
    };
    let mut conn = state.db.acquire().await?;
    match roles::first_unusable(&mut conn, env, org, &wanted).await? {
        None => {}
        Some(Unusable::Unknown(unknown)) => {
            return Err(ApiError::Unprocessable {
                code: "invalid_role",
                message: format!("Role '{unknown}' does not exist."),
                errors: Vec::new(),
            });
        }
        Some(Unusable::SubResourceScoped(slug)) => {
            return Err(ApiError::Unprocessable {
                code: "sub_resource_scoped_role_not_allowed",
                message: format!(
                    "Role '{slug}' is scoped to a sub-resource type and cannot be an organization membership's role."
                ),
                errors: vec![
                    serde_json::json!({"field": "role_slug", "code": "sub_resource_scoped_role_not_allowed"}),
                ],
            });
        }
    }
    Ok(Some(wanted))
}

/// `POST /user_management/organization_memberships` → 201 an `active` membership (an
/// `inactive` one of the pair is reactivated with the given roles). Records
/// `organization_membership.created` (or `.updated`).
///
/// Errors: 404 unknown user or organization; 422 `invalid_role`; 400
/// `organization_membership_already_exists`.
async fn create_membership(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateMembership>,
) -> ApiResult<(StatusCode, Json<Membership>)> {
    let env = &ctx.environment_id;
    let org = OrganizationId::parse_lenient(&body.organization_id);
    let roles = requested_roles(&state, env, org.as_ref(), body.role_slug, body.role_slugs)
        .await?
        .unwrap_or_else(|| vec![DEFAULT_ROLE.to_string()]);
    let mut tx = state.db.begin().await?;
    let user = match UserId::parse_lenient(&body.user_id) {
        Some(id) => users::find(&mut tx, env, &id).await?,
        None => None,
    }
    .ok_or_else(|| ApiError::not_found("User", &body.user_id))?;
    let organization = match OrganizationId::parse_lenient(&body.organization_id) {
        Some(id) => organizations::find(&mut tx, env, &id).await?,
        None => None,
    }
    .ok_or_else(|| ApiError::not_found("Organization", &body.organization_id))?;
    let m = memberships::insert(&mut tx, env, &user.id, &organization.id, &roles, "active").await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// `GET /user_management/organization_memberships` — needs `user_id` or `organization_id`;
/// `statuses` (comma-joined or repeated) defaults to `active`.
///
/// Errors: 400 `missing_user_id_or_organization_id`, `invalid_request_parameters`.
async fn list_memberships(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
) -> ApiResult<Json<List<Membership>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let user_id = q.get("user_id").map(IdFilter::parse);
    let organization_id = q.get("organization_id").map(IdFilter::parse);
    if user_id.is_none() && organization_id.is_none() {
        return Err(ApiError::bad_request(
            "missing_user_id_or_organization_id",
            "Provide user_id or organization_id.",
        ));
    }
    let mut statuses = q.list("statuses");
    if statuses.is_empty() {
        statuses.push("active".into());
    }
    if let Some(bad) = statuses
        .iter()
        .find(|s| !matches!(s.as_str(), "active" | "inactive" | "pending"))
    {
        return Err(ApiError::bad_request(
            "invalid_request_parameters",
            format!("Unknown status '{bad}'; use active, inactive or pending."),
        ));
    }
    let filter = MembershipFilter {
        user_id,
        organization_id,
        statuses,
    };
    let mut conn = state.db.acquire().await?;
    let rows = memberships::list(&mut conn, &ctx.environment_id, &filter, &params).await?;
    Ok(Json(params.page(rows, |m| &m.id)))
}

/// `GET /user_management/organization_memberships/{id}`.
async fn get_membership(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationMembershipId>,
) -> ApiResult<Json<Membership>> {
    let mut conn = state.db.acquire().await?;
    memberships::find(&mut conn, &ctx.environment_id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Organization membership", id))
}

/// `PUT /user_management/organization_memberships/{id}` — replaces the roles; `{}` changes
/// nothing. Records `organization_membership.updated`. Errors: 404; 422 `invalid_role`.
async fn update_membership(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationMembershipId>,
    AppJson(body): AppJson<UpdateMembership>,
) -> ApiResult<Json<Membership>> {
    let env = &ctx.environment_id;
    let org = {
        let mut conn = state.db.acquire().await?;
        role_assignments::membership_organization(&mut conn, env, &id).await?
    };
    let roles = requested_roles(&state, env, org.as_ref(), body.role_slug, body.role_slugs).await?;
    let mut tx = state.db.begin().await?;
    let m = match roles {
        Some(roles) => memberships::update_roles(&mut tx, env, &id, &roles).await?,
        None => memberships::find(&mut tx, env, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("Organization membership", &id))?,
    };
    tx.commit().await?;
    Ok(Json(m))
}

/// `PUT …/{id}/deactivate` — `active` → `inactive` (`organization_membership.updated`); an
/// inactive one is returned unchanged. Errors: 404; 400
/// `cannot_deactivate_pending_organization_membership`.
async fn deactivate_membership(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationMembershipId>,
) -> ApiResult<Json<Membership>> {
    let mut tx = state.db.begin().await?;
    let m = memberships::transition(
        &mut tx,
        &ctx.environment_id,
        &id,
        "active",
        "inactive",
        "cannot_deactivate_pending_organization_membership",
    )
    .await?;
    tx.commit().await?;
    Ok(Json(m))
}

/// `PUT …/{id}/reactivate` — `inactive` → `active` keeping the roles; an active one is returned
/// unchanged. Errors: 404; 400 `cannot_reactivate_pending_organization_membership`.
async fn reactivate_membership(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationMembershipId>,
) -> ApiResult<Json<Membership>> {
    let mut tx = state.db.begin().await?;
    let m = memberships::transition(
        &mut tx,
        &ctx.environment_id,
        &id,
        "inactive",
        "active",
        "cannot_reactivate_pending_organization_membership",
    )
    .await?;
    tx.commit().await?;
    Ok(Json(m))
}

/// `DELETE /user_management/organization_memberships/{id}` → 200 with no body; records
/// `organization_membership.deleted`. Errors: 404.
async fn delete_membership(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationMembershipId>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    memberships::delete(&mut tx, &ctx.environment_id, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::OK)
}
