//! `GET /directory_groups` (filters `directory`, `user`) and `GET /directory_groups/{id}`
//! (spec tag `directory-groups`).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::error::{ApiError, ApiResult};
use crate::http::{Env, IdPath, List, ListParams, Order, QueryMap};
use crate::ids::{DirectoryGroupId, IdFilter};
use crate::state::AppState;
use crate::store::directory_groups::{self as groups, DirectoryGroup, GroupFilter};

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/directory_groups", get(list_directory_groups))
        .route("/directory_groups/{id}", get(get_directory_group))
}

/// `GET /directory_groups`.
async fn list_directory_groups(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
) -> ApiResult<Json<List<DirectoryGroup>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let filter = GroupFilter {
        directory: q.get("directory").map(IdFilter::parse),
        user: q.get("user").map(IdFilter::parse),
    };
    let mut conn = state.db.acquire().await?;
    let rows = groups::list(&mut conn, &ctx.environment_id, &filter, &params).await?;
    Ok(Json(params.page(rows, |g| &g.id)))
}

/// `GET /directory_groups/{id}`.
async fn get_directory_group(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<DirectoryGroupId>,
) -> ApiResult<Json<DirectoryGroup>> {
    let mut conn = state.db.acquire().await?;
    groups::find(&mut conn, &ctx.environment_id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Directory Group", id))
}
