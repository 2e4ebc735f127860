//! The flags on for one subject: `GET /organizations/{organizationId}/feature-flags` (spec tag
//! `organizations.feature-flags`, `OrganizationFeatureFlagsController_list`) and
//! `GET /user_management/users/{userId}/feature-flags` (`user-management.users.feature-flags`,
//! `UserlandUserFeatureFlagsController_list`). Paginated like every list (keyset on the flag id,
//! newest first by default).
//!
//! "On" is the evaluator's answer: an enabled flag whose target of the subject is on, or, without
//! one, whose `default_value` is `true`. A user also inherits the targets of the organizations
//! they are an active member of (the user's own target wins).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::error::ApiResult;
use crate::http::{Env, IdPath, List, ListParams, Order, QueryMap};
use crate::ids::{EnvironmentId, OrganizationId, UserId};
use crate::state::AppState;
use crate::store::feature_flag_targets::{self, Target};
use crate::store::feature_flags::{self, FeatureFlag, Subject};

/// Routes of the per-subject lists (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/organizations/{id}/feature-flags",
            get(list_organization_flags),
        )
        .route(
            "/user_management/users/{id}/feature-flags",
            get(list_user_flags),
        )
}

/// One page of the flags on for `target`, after checking it is the environment's (404 if not).
async fn page(
    state: &AppState,
    env: &EnvironmentId,
    target: Target,
    q: &QueryMap,
) -> ApiResult<Json<List<FeatureFlag>>> {
    let params = ListParams::from_query(q, Order::Desc)?;
    let mut conn = state.db.acquire().await?;
    if !feature_flag_targets::exists(&mut conn, env, &target).await? {
        return Err(target.not_found());
    }
    let subject = match &target {
        Target::Organization(id) => Subject::Organization(id),
        Target::User(id) => Subject::User(id),
    };
    let rows = feature_flags::list(&mut conn, env, subject, &params).await?;
    Ok(Json(params.page(rows, |f| &f.id)))
}

/// `GET /organizations/{organizationId}/feature-flags`. Errors: 404 for an unknown organization;
/// 422 for bad list parameters.
async fn list_organization_flags(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationId>,
    q: QueryMap,
) -> ApiResult<Json<List<FeatureFlag>>> {
    page(&state, &ctx.environment_id, Target::Organization(id), &q).await
}

/// `GET /user_management/users/{userId}/feature-flags`. Errors: 404 for an unknown user; 422 for
/// bad list parameters.
async fn list_user_flags(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<UserId>,
    q: QueryMap,
) -> ApiResult<Json<List<FeatureFlag>>> {
    page(&state, &ctx.environment_id, Target::User(id), &q).await
}
