//! `/scim/v2/{directory_id}/Users` (RFC 7644 §3.3 create, §3.4 get/list/search, §3.5.1 PUT,
//! §3.5.2 PATCH, §3.6 DELETE) over directory users.
//!
//! `active: false` (Okta's deactivation, by PUT or PATCH) keeps the user with state `inactive`
//! and records `dsync.user.updated`; DELETE removes it and records `dsync.user.deleted`.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use sqlx::PgConnection;

use super::error::ScimError;
use super::resource::{self, Projection};
use super::{
    ListQuery, ScimContext, ScimJson, check_if_match, filter, list_response, patch, respond,
};
use crate::app::AppState;
use crate::http::QueryMap;
use crate::store::directory_groups;
use crate::store::directory_users::{self as users, UserRecord};

/// (group id, group name) pairs of each user.
async fn groups_of(
    conn: &mut PgConnection,
    ctx: &ScimContext,
    users: &[UserRecord],
) -> Result<HashMap<String, Vec<(String, String)>>, ScimError> {
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let map = directory_groups::groups_of_users(conn, &ctx.dir.environment_id, &ids).await?;
    Ok(map
        .into_iter()
        .map(|(u, gs)| (u, gs.into_iter().map(|g| (g.id, g.name)).collect()))
        .collect())
}

async fn render_one(
    conn: &mut PgConnection,
    ctx: &ScimContext,
    u: &UserRecord,
    projection: &Projection,
) -> Result<Map<String, Value>, ScimError> {
    let groups = groups_of(conn, ctx, std::slice::from_ref(u)).await?;
    let groups = groups.get(&u.id).map(Vec::as_slice).unwrap_or_default();
    Ok(projection.apply(resource::render_user(u, groups, &ctx.base)))
}

async fn run_list(
    state: &AppState,
    ctx: &ScimContext,
    q: ListQuery,
) -> Result<Response, ScimError> {
    let mut conn = state.db.acquire().await?;
    let (total, page) = match &q.filter {
        None => {
            let total = users::count(&mut conn, &ctx.dir).await?;
            let page = if q.count == 0 {
                Vec::new()
            } else {
                let range = (q.start_index - 1, q.count);
                users::scim_list(&mut conn, &ctx.dir, &Default::default(), Some(range)).await?
            };
            (total, page)
        }
        Some(f) => {
            let candidates =
                users::scim_list(&mut conn, &ctx.dir, &q.narrow("userName"), None).await?;
            let groups = if filter::mentions(f, "groups") {
                groups_of(&mut conn, ctx, &candidates).await?
            } else {
                HashMap::new()
            };
            let matched: Vec<UserRecord> = candidates
                .into_iter()
                .filter(|u| {
                    let g = groups.get(&u.id).map(Vec::as_slice).unwrap_or_default();
                    filter::matches(f, &resource::render_user(u, g, &ctx.base))
                })
                .collect();
            let total = matched.len() as i64;
            let page = matched
                .into_iter()
                .skip(usize::try_from(q.start_index - 1).unwrap_or(0))
                .take(usize::try_from(q.count).unwrap_or(0))
                .collect();
            (total, page)
        }
    };
    let groups = if q.projection.omits("groups") {
        HashMap::new()
    } else {
        groups_of(&mut conn, ctx, &page).await?
    };
    let resources = page
        .iter()
        .map(|u| {
            let g = groups.get(&u.id).map(Vec::as_slice).unwrap_or_default();
            q.projection.apply(resource::render_user(u, g, &ctx.base))
        })
        .collect();
    Ok(list_response(total, q.start_index, resources))
}

/// `GET /Users` with `filter`, `startIndex`, `count`, `attributes`, `excludedAttributes`.
pub async fn list(
    State(state): State<AppState>,
    ctx: ScimContext,
    q: QueryMap,
) -> Result<Response, ScimError> {
    run_list(&state, &ctx, ListQuery::from_query(&q)?).await
}

/// `POST /Users/.search` with a `SearchRequest` body.
pub async fn search(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    run_list(&state, &ctx, ListQuery::from_body(&body)?).await
}

/// `POST /Users` → 201. Errors: 409 `uniqueness` for a taken userName, 400 `invalidValue`.
pub async fn create(
    State(state): State<AppState>,
    ctx: ScimContext,
    q: QueryMap,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let resource = resource::prepare_user(body)?;
    let mut tx = state.db.begin().await?;
    let u = users::insert(&mut tx, &ctx.dir, resource).await?;
    tx.commit().await?;
    let projection = Projection::new(q.get("attributes"), q.get("excludedAttributes"));
    Ok(respond(
        StatusCode::CREATED,
        projection.apply(resource::render_user(&u, &[], &ctx.base)),
    ))
}

/// `GET /Users/{id}`.
pub async fn get_one(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    q: QueryMap,
) -> Result<Response, ScimError> {
    let mut conn = state.db.acquire().await?;
    let u = users::find_in(&mut conn, &ctx.dir, &id, false)
        .await?
        .ok_or_else(|| ScimError::not_found("User", &id))?;
    let projection = Projection::new(q.get("attributes"), q.get("excludedAttributes"));
    Ok(respond(
        StatusCode::OK,
        render_one(&mut conn, &ctx, &u, &projection).await?,
    ))
}

/// Locks the user, lets `change` compute its new resource from the old one, stores it.
async fn write(
    state: &AppState,
    ctx: &ScimContext,
    id: &str,
    headers: &HeaderMap,
    change: impl FnOnce(&UserRecord) -> Result<Value, ScimError>,
) -> Result<Response, ScimError> {
    let mut tx = state.db.begin().await?;
    let old = users::find_in(&mut tx, &ctx.dir, id, true)
        .await?
        .ok_or_else(|| ScimError::not_found("User", id))?;
    check_if_match(headers, old.version)?;
    let resource = change(&old)?;
    let u = users::update(&mut tx, &ctx.dir, &old, resource).await?;
    tx.commit().await?;
    let mut conn = state.db.acquire().await?;
    Ok(respond(
        StatusCode::OK,
        render_one(&mut conn, ctx, &u, &Projection::default()).await?,
    ))
}

/// `PUT /Users/{id}`: replaces the resource (Okta deactivates with `active: false` here).
pub async fn replace(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let resource = resource::prepare_user(body)?;
    write(&state, &ctx, &id, &headers, |_| Ok(resource)).await
}

/// `PATCH /Users/{id}`: applies a PatchOp (Entra and Okta dialects included).
pub async fn modify(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    write(&state, &ctx, &id, &headers, |old| {
        let mut doc = old.resource.as_object().cloned().unwrap_or_default();
        patch::apply(&mut doc, &body)?;
        resource::prepare_user(Value::Object(doc))
    })
    .await
}

/// `DELETE /Users/{id}` → 204.
pub async fn remove(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let mut tx = state.db.begin().await?;
    let old = users::find_in(&mut tx, &ctx.dir, &id, true)
        .await?
        .ok_or_else(|| ScimError::not_found("User", &id))?;
    check_if_match(&headers, old.version)?;
    users::delete(&mut tx, &ctx.dir, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
