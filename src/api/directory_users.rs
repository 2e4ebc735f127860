//! `GET /directory_users` (filters `directory`, `group`) and `GET /directory_users/{id}`
//! (spec tag `directory-users`; items are `DirectoryUserWithGroups`).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::error::{ApiError, ApiResult};
use crate::http::{Env, IdPath, List, ListParams, Order, QueryMap};
use crate::ids::{DirectoryUserId, IdFilter};
use crate::state::AppState;
use crate::store::directory_group_members::{DirectoryUserWithGroups, with_groups};
use crate::store::directory_users::{self as users, UserFilter};

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/directory_users", get(list_directory_users))
        .route("/directory_users/{id}", get(get_directory_user))
}

/// `GET /directory_users`.
async fn list_directory_users(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
) -> ApiResult<Json<List<DirectoryUserWithGroups>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let filter = UserFilter {
        directory: q.get("directory").map(IdFilter::parse),
        group: q.get("group").map(IdFilter::parse),
    };
    let env = &ctx.environment_id;
    let mut conn = state.db.acquire().await?;
    let rows = users::list(&mut conn, env, &filter, &params).await?;
    let rows = with_groups(&mut conn, env, rows).await?;
    Ok(Json(params.page(rows, |u| &u.user.id)))
}

/// `GET /directory_users/{id}`.
async fn get_directory_user(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<DirectoryUserId>,
) -> ApiResult<Json<DirectoryUserWithGroups>> {
    let env = &ctx.environment_id;
    let mut conn = state.db.acquire().await?;
    let row = users::find(&mut conn, env, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Directory User", &id))?;
    let mut list = with_groups(&mut conn, env, vec![row]).await?;
    list.pop()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Directory User", id))
}
