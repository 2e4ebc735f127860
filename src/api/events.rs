//! `GET /events`: the outbox, filtered by `events`, `range_start`, `range_end`,
//! `organization_id`, paged by `after`. Spec tag `events` (operation `EventsController_list`).
//!
//! Events come oldest first by default, so a consumer polls with `after=<last id it saw>` and
//! never misses one; `list_metadata.after` is `null` on the last page (SDK auto-pagination
//! stops there). `order=desc` is accepted too.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::http::{Env, ListParams, Order, QueryMap};
use crate::ids::IdFilter;
use crate::state::AppState;
use crate::store::events::{self, Event, EventFilter};
use crate::timestamp;

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new().route("/events", get(list_events))
}

/// `EventList`: `{object: "list", data, list_metadata: {after}}` (no `before`, per the spec).
#[derive(Debug, Serialize)]
pub struct EventList {
    /// Always `"list"`.
    pub object: &'static str,
    /// The page.
    pub data: Vec<Event>,
    /// `after`: pass it to get the next page; `null` at the end.
    pub list_metadata: EventListMetadata,
}

/// Cursor of an [`EventList`].
#[derive(Debug, Serialize)]
pub struct EventListMetadata {
    /// The last event id of the page when more follow.
    pub after: Option<String>,
}

fn parse_time(q: &QueryMap, field: &str) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    q.get(field)
        .map(|s| {
            timestamp::parse_filter(s).ok_or_else(|| {
                ApiError::invalid_field(
                    field,
                    "invalid",
                    format!("{field} must be an ISO-8601 date."),
                )
            })
        })
        .transpose()
}

/// `GET /events`. Errors: 422 with `errors[{code, field}]` for a bad limit, order or range.
async fn list_events(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
) -> ApiResult<Json<EventList>> {
    let params = ListParams::from_query(&q, Order::Asc)?;
    let filter = EventFilter {
        events: q.list("events"),
        range_start: parse_time(&q, "range_start")?,
        range_end: parse_time(&q, "range_end")?,
        organization_id: q.get("organization_id").map(IdFilter::parse),
    };
    let mut conn = state.db.acquire().await?;
    let rows = events::list(&mut conn, &ctx.environment_id, &filter, &params).await?;
    let page = params.page(rows, |e| &e.id);
    let after = page.list_metadata.after;
    Ok(Json(EventList {
        object: "list",
        data: page.data,
        list_metadata: EventListMetadata { after },
    }))
}
