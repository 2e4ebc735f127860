//! What `/Users` and `/Groups` share, written once over [`ScimResource`]: list and
//! `POST /.search` with filter, sort and paging (RFC 7644 §3.4.2, §3.4.3), get (§3.4.1), delete
//! (§3.6), and the locked, `If-Match`-checked read that starts a PUT or PATCH (§3.5, §3.14).
//!
//! Lists run in SQL when the filter translates exactly ([`scim_filter::plan`]): one count for
//! `totalResults` and one page query. Otherwise SQL narrows to a superset, sorted the same way,
//! the in-memory evaluator ([`filter::matches`]) keeps the matches, and the page is cut from
//! them; `totalResults` is the full match count either way.

use std::future::Future;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use sqlx::PgConnection;

use super::context::{
    ScimContext, ScimId, ScimJson, ScimQuery, check_if_match, list_response, respond,
};
use super::query::ListQuery;
use super::resource::Projection;
use crate::ids::TypedId;
use crate::protocols::scim::error::ScimError;
use crate::protocols::scim::filter;
use crate::state::AppState;
use crate::store::scim_filter::{self, Cond};
use crate::store::scim_resources::{self as rows, ScimTable};

/// A SCIM resource type stored in a [`ScimTable`].
pub trait ScimResource: ScimTable + Sync {
    /// The SCIM resource type (`User`, `Group`), for 404 details.
    const KIND: &'static str;
    /// The attribute filled from other rows (`groups` of users, `members` of groups).
    const RELATED: &'static str;
    /// The sortable attributes, for the `sortBy` error detail.
    const SORTABLE: &'static str;
    /// The other rows' data, for a batch of resources.
    type Related: Send + Sync;

    /// Loads [`Self::RELATED`] for `rows`.
    fn load_related(
        conn: &mut PgConnection,
        ctx: &ScimContext,
        rows: &[Self],
    ) -> impl Future<Output = Result<Self::Related, ScimError>> + Send;

    /// The SCIM representation; without [`Self::RELATED`] when `related` is `None`.
    fn render(&self, related: Option<&Self::Related>, ctx: &ScimContext) -> Map<String, Value>;
}

/// Renders one resource with its related data unless the projection omits it.
pub async fn render_one<R: ScimResource>(
    conn: &mut PgConnection,
    ctx: &ScimContext,
    row: &R,
    projection: &Projection,
) -> Result<Map<String, Value>, ScimError> {
    let related = if projection.omits(R::RELATED) {
        None
    } else {
        Some(R::load_related(conn, ctx, std::slice::from_ref(row)).await?)
    };
    Ok(projection.apply(row.render(related.as_ref(), ctx)))
}

fn page_of<T>(rows: Vec<T>, q: &ListQuery) -> Vec<T> {
    rows.into_iter()
        .skip(usize::try_from(q.start_index - 1).unwrap_or(0))
        .take(usize::try_from(q.count).unwrap_or(0))
        .collect()
}

async fn run_list<R: ScimResource>(
    state: &AppState,
    ctx: &ScimContext,
    q: ListQuery,
) -> Result<Response, ScimError> {
    let sort = match &q.sort_by {
        None => None,
        Some(p) => Some(rows::sort_by::<R>(p, q.descending).ok_or_else(|| {
            ScimError::invalid_value(format!(
                "Cannot sort by '{}'; sortBy supports {}.",
                p.attr,
                R::SORTABLE
            ))
        })?),
    };
    let (cond, exact) = match &q.filter {
        None => (Cond::always(), true),
        Some(f) => scim_filter::plan(f, R::column),
    };
    let mut conn = state.db.acquire().await?;
    let (total, page) = match &q.filter {
        Some(f) if !exact => {
            let candidates: Vec<R> =
                rows::select(&mut conn, &ctx.dir, &cond, sort.as_ref(), None).await?;
            let related = if filter::mentions(f, R::RELATED) {
                Some(R::load_related(&mut conn, ctx, &candidates).await?)
            } else {
                None
            };
            let matched: Vec<R> = candidates
                .into_iter()
                .filter(|r| filter::matches(f, &r.render(related.as_ref(), ctx)))
                .collect();
            (matched.len() as i64, page_of(matched, &q))
        }
        _ => {
            let total = rows::count::<R>(&mut conn, &ctx.dir, &cond).await?;
            let page = if q.count == 0 || total < q.start_index {
                Vec::new()
            } else {
                let range = (q.start_index - 1, q.count);
                rows::select(&mut conn, &ctx.dir, &cond, sort.as_ref(), Some(range)).await?
            };
            (total, page)
        }
    };
    let related = if q.projection.omits(R::RELATED) || page.is_empty() {
        None
    } else {
        Some(R::load_related(&mut conn, ctx, &page).await?)
    };
    let resources = page
        .iter()
        .map(|r| q.projection.apply(r.render(related.as_ref(), ctx)))
        .collect();
    Ok(list_response(total, q.start_index, resources))
}

/// `GET /Users`, `GET /Groups` with `filter`, `sortBy`, `sortOrder`, `startIndex`, `count`,
/// `attributes`, `excludedAttributes`.
pub async fn list<R: ScimResource>(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimQuery(q): ScimQuery,
) -> Result<Response, ScimError> {
    run_list::<R>(&state, &ctx, ListQuery::from_query(&q)?).await
}

/// `POST /Users/.search`, `POST /Groups/.search` with a `SearchRequest` body.
pub async fn search<R: ScimResource>(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    run_list::<R>(&state, &ctx, ListQuery::from_body(&body)?).await
}

/// `GET /Users/{id}`, `GET /Groups/{id}` (`attributes`, `excludedAttributes`).
pub async fn get_one<R: ScimResource>(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimId(id): ScimId,
    ScimQuery(q): ScimQuery,
) -> Result<Response, ScimError> {
    let mut conn = state.db.acquire().await?;
    let found = match R::Id::parse_lenient(&id) {
        Some(typed) => rows::find_in(&mut conn, &ctx.dir, &typed, false).await?,
        None => None,
    };
    let row: R = found.ok_or_else(|| ScimError::not_found(R::KIND, &id))?;
    let projection = Projection::new(q.get("attributes"), q.get("excludedAttributes"));
    Ok(respond(
        StatusCode::OK,
        render_one(&mut conn, &ctx, &row, &projection).await?,
    ))
}

/// 200 with a resource just written (after its transaction committed), rendered in full.
pub async fn written<R: ScimResource>(
    state: &AppState,
    ctx: &ScimContext,
    row: &R,
) -> Result<Response, ScimError> {
    let mut conn = state.db.acquire().await?;
    Ok(respond(
        StatusCode::OK,
        render_one(&mut conn, ctx, row, &Projection::default()).await?,
    ))
}

/// Locks a resource for a write in `conn` (a transaction) and checks `If-Match` against it:
/// 404 when absent or `id` (the path segment) is malformed, 412 when the version differs.
pub async fn lock<R: ScimResource>(
    conn: &mut PgConnection,
    ctx: &ScimContext,
    id: &str,
    headers: &HeaderMap,
) -> Result<R, ScimError> {
    let found = match R::Id::parse_lenient(id) {
        Some(typed) => rows::find_in(conn, &ctx.dir, &typed, true).await?,
        None => None,
    };
    let row: R = found.ok_or_else(|| ScimError::not_found(R::KIND, id))?;
    check_if_match(headers, row.version())?;
    Ok(row)
}

/// `DELETE /Users/{id}`, `DELETE /Groups/{id}` → 204; the `dsync.*.deleted` event is recorded
/// in the same transaction.
pub async fn remove<R: ScimResource>(
    State(state): State<AppState>,
    ctx: ScimContext,
    ScimId(id): ScimId,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let mut tx = state.db.begin().await?;
    let old: R = lock(&mut tx, &ctx, &id, &headers).await?;
    rows::delete::<R>(&mut tx, &ctx.dir, old.id()).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
