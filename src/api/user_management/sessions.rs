//! Sessions: `GET /user_management/users/{id}/sessions` (operation
//! `UserlandUserSessionsController_list`) and `POST /user_management/sessions/revoke`
//! (`UserlandSessionsController_revokeSession`). Spec tag `user-management.sessions`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath, List, ListParams, Order, QueryMap};
use crate::ids::{SessionId, UserId};
use crate::state::AppState;
use crate::store::sessions::{self, Session};
use crate::store::users;

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/user_management/users/{id}/sessions",
            get(list_user_sessions),
        )
        .route("/user_management/sessions/revoke", post(revoke_session))
}

/// Body of `POST /user_management/sessions/revoke`.
#[derive(Debug, Deserialize)]
pub struct RevokeSession {
    /// The session (`session_…`) to revoke.
    pub session_id: String,
    /// Accepted for compatibility; revocation itself redirects nowhere.
    #[serde(default)]
    pub return_to: Option<String>,
}

/// `GET /user_management/users/{id}/sessions` — the user's sessions, newest first.
/// Errors: 404 unknown user.
async fn list_user_sessions(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<UserId>,
    q: QueryMap,
) -> ApiResult<Json<List<Session>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let mut conn = state.db.acquire().await?;
    users::find(&mut conn, &ctx.environment_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("User", &id))?;
    let rows = sessions::list_for_user(&mut conn, &ctx.environment_id, &id, &params).await?;
    Ok(Json(params.page(rows, |s| &s.id)))
}

/// `POST /user_management/sessions/revoke` → 200 with no body; records `session.revoked` once.
/// Revoking an already revoked session is a no-op. Errors: 404 unknown session.
async fn revoke_session(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<RevokeSession>,
) -> ApiResult<StatusCode> {
    let id = SessionId::parse_lenient(&body.session_id)
        .ok_or_else(|| ApiError::not_found("Session", &body.session_id))?;
    let mut tx = state.db.begin().await?;
    sessions::revoke(&mut tx, &ctx.environment_id, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::OK)
}
