//! `/scim/v2/{directory_id}/Groups` (RFC 7644 §3.3–§3.6) over directory groups and their
//! memberships.
//!
//! `members` changes arrive through every path IdPs use: POST and PUT bodies (Okta), PATCH `add`
//! / `remove` with `members[value eq "…"]` (Okta, RFC) or with a `value` list (Entra ID), and
//! `replace`. Whatever the path, the new member set is diffed against the stored one and each
//! change records `dsync.group.user_added` or `dsync.group.user_removed`.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use sqlx::PgConnection;

use super::error::ScimError;
use super::resource::{self, Projection};
use super::{
    ListQuery, ScimContext, ScimJson, check_if_match, filter, list_response, patch, respond,
};
use crate::app::AppState;
use crate::db::Tx;
use crate::http::QueryMap;
use crate::store::directory_groups::{self as groups, GroupRecord, Member};

async fn members_of(
    conn: &mut PgConnection,
    ctx: &ScimContext,
    list: &[GroupRecord],
) -> Result<HashMap<String, Vec<Member>>, ScimError> {
    let ids: Vec<String> = list.iter().map(|g| g.id.clone()).collect();
    let mut out: HashMap<String, Vec<Member>> = HashMap::new();
    for m in groups::members(conn, &ctx.dir.environment_id, &ids).await? {
        out.entry(m.group_id.clone()).or_default().push(m);
    }
    Ok(out)
}

fn render(
    g: &GroupRecord,
    members: Option<&HashMap<String, Vec<Member>>>,
    ctx: &ScimContext,
) -> Map<String, Value> {
    let list: Option<Vec<&Member>> =
        members.map(|m| m.get(&g.id).map(|v| v.iter().collect()).unwrap_or_default());
    resource::render_group(g, list.as_deref(), &ctx.base)
}

async fn run_list(
    state: &AppState,
    ctx: &ScimContext,
    q: ListQuery,
) -> Result<Response, ScimError> {
    let mut conn = state.db.acquire().await?;
    let (total, page) = match &q.filter {
        None => {
            let total = groups::count(&mut conn, &ctx.dir).await?;
            let page = if q.count == 0 {
                Vec::new()
            } else {
                let range = (q.start_index - 1, q.count);
                groups::scim_list(&mut conn, &ctx.dir, &Default::default(), Some(range)).await?
            };
            (total, page)
        }
        Some(f) => {
            let candidates =
                groups::scim_list(&mut conn, &ctx.dir, &q.narrow("displayName"), None).await?;
            let members = if filter::mentions(f, "members") {
                Some(members_of(&mut conn, ctx, &candidates).await?)
            } else {
                None
            };
            let matched: Vec<GroupRecord> = candidates
                .into_iter()
                .filter(|g| filter::matches(f, &render(g, members.as_ref(), ctx)))
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
    let members = if q.projection.omits("members") {
        None
    } else {
        Some(members_of(&mut conn, ctx, &page).await?)
    };
    let resources = page
        .iter()
        .map(|g| q.projection.apply(render(g, members.as_ref(), ctx)))
        .collect();
    Ok(list_response(total, q.start_index, resources))
}

/// `GET /Groups` with `filter`, `startIndex`, `count`, `attributes`, `excludedAttributes`.
pub async fn list(
    State(state): State<AppState>,
    ctx: ScimContext,
    q: QueryMap,
) -> Result<Response, ScimError> {
    run_list(&state, &ctx, ListQuery::from_query(&q)?).await
}

/// `POST /Groups/.search` with a `SearchRequest` body.
pub async fn search(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    run_list(&state, &ctx, ListQuery::from_body(&body)?).await
}

async fn render_one(
    state: &AppState,
    ctx: &ScimContext,
    g: &GroupRecord,
    projection: &Projection,
) -> Result<Map<String, Value>, ScimError> {
    let mut conn = state.db.acquire().await?;
    let members = if projection.omits("members") {
        None
    } else {
        Some(members_of(&mut conn, ctx, std::slice::from_ref(g)).await?)
    };
    Ok(projection.apply(render(g, members.as_ref(), ctx)))
}

/// `POST /Groups` → 201, with its initial `members`.
pub async fn create(
    State(state): State<AppState>,
    ctx: ScimContext,
    q: QueryMap,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let (resource, members) = resource::prepare_group(body)?;
    let mut tx = state.db.begin().await?;
    let g = groups::insert(&mut tx, &ctx.dir, resource).await?;
    groups::change_members(&mut tx, &ctx.dir, &g, &members, &[]).await?;
    tx.commit().await?;
    let projection = Projection::new(q.get("attributes"), q.get("excludedAttributes"));
    Ok(respond(
        StatusCode::CREATED,
        render_one(&state, &ctx, &g, &projection).await?,
    ))
}

/// `GET /Groups/{id}` (`excludedAttributes=members` skips loading members).
pub async fn get_one(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    q: QueryMap,
) -> Result<Response, ScimError> {
    let g = {
        let mut conn = state.db.acquire().await?;
        groups::find_in(&mut conn, &ctx.dir, &id, false)
            .await?
            .ok_or_else(|| ScimError::not_found("Group", &id))?
    };
    let projection = Projection::new(q.get("attributes"), q.get("excludedAttributes"));
    Ok(respond(
        StatusCode::OK,
        render_one(&state, &ctx, &g, &projection).await?,
    ))
}

/// Locks the group and its member list, lets `change` compute the new resource and member set
/// from the old document (resource plus `members`), stores both.
async fn write(
    state: &AppState,
    ctx: &ScimContext,
    id: &str,
    headers: &HeaderMap,
    change: impl FnOnce(Value) -> Result<(Value, Vec<String>), ScimError>,
) -> Result<Response, ScimError> {
    let mut tx: Tx = state.db.begin().await?;
    let old = groups::find_in(&mut tx, &ctx.dir, id, true)
        .await?
        .ok_or_else(|| ScimError::not_found("Group", id))?;
    check_if_match(headers, old.version)?;
    let current: Vec<String> = groups::members(
        &mut tx,
        &ctx.dir.environment_id,
        std::slice::from_ref(&old.id),
    )
    .await?
    .into_iter()
    .map(|m| m.user_id)
    .collect();
    let mut doc = old.resource.as_object().cloned().unwrap_or_default();
    doc.insert(
        "members".into(),
        Value::Array(current.iter().map(|id| json!({ "value": id })).collect()),
    );
    let (resource, wanted) = change(Value::Object(doc))?;
    let g = groups::update(&mut tx, &ctx.dir, &old, resource).await?;
    let add: Vec<String> = wanted
        .iter()
        .filter(|id| !current.contains(id))
        .cloned()
        .collect();
    let remove: Vec<String> = current
        .iter()
        .filter(|id| !wanted.contains(id))
        .cloned()
        .collect();
    groups::change_members(&mut tx, &ctx.dir, &g, &add, &remove).await?;
    tx.commit().await?;
    Ok(respond(
        StatusCode::OK,
        render_one(state, ctx, &g, &Projection::default()).await?,
    ))
}

/// `PUT /Groups/{id}`: replaces the group, members included (Okta's membership path).
pub async fn replace(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let prepared = resource::prepare_group(body)?;
    write(&state, &ctx, &id, &headers, |_| Ok(prepared)).await
}

/// `PATCH /Groups/{id}`: applies a PatchOp to the group document including `members`.
pub async fn modify(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    write(&state, &ctx, &id, &headers, |doc| {
        let Value::Object(mut doc) = doc else {
            return Err(ScimError::invalid_syntax("Stored group is not an object."));
        };
        patch::apply(&mut doc, &body)?;
        resource::prepare_group(Value::Object(doc))
    })
    .await
}

/// `DELETE /Groups/{id}` → 204.
pub async fn remove(
    State(state): State<AppState>,
    ctx: ScimContext,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let mut tx = state.db.begin().await?;
    let old = groups::find_in(&mut tx, &ctx.dir, &id, true)
        .await?
        .ok_or_else(|| ScimError::not_found("Group", &id))?;
    check_if_match(&headers, old.version)?;
    groups::delete(&mut tx, &ctx.dir, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
