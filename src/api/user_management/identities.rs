//! `GET /user_management/users/{id}/identities` (operation `UserlandUserIdentitiesController_get`,
//! spec tag `user-management.users`): the OAuth identities linked to a user, as a bare array of
//! `{idp_id, type: "OAuth", provider}`, plus (a documented deviation) the enterprise SSO
//! identities linked by User Management SSO logins, `{idp_id, type: "SSO", provider:
//! <connection type>}`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::error::{ApiError, ApiResult};
use crate::http::Env;
use crate::http::IdPath;
use crate::ids::UserId;
use crate::state::AppState;
use crate::store::user_identities::{self, Identity};
use crate::store::users;

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/user_management/users/{id}/identities",
        get(list_identities),
    )
}

/// `GET /user_management/users/{id}/identities`. Errors: 404 unknown user.
async fn list_identities(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<UserId>,
) -> ApiResult<Json<Vec<Identity>>> {
    let mut conn = state.db.acquire().await?;
    users::find(&mut conn, &ctx.environment_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("User", &id))?;
    Ok(Json(
        user_identities::list_for_user(&mut conn, &ctx.environment_id, &id).await?,
    ))
}
