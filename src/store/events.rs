//! The event outbox (`events` table) and its read side, `GET /events` (spec tag `events`).
//!
//! [`record`] is called by every mutating store function inside its transaction, so an event
//! exists exactly when its change was committed. Payloads are the spec's event schemas
//! (WORKOS-API-NOTES §3.1, §3.2): callers pass the `data` object already shaped. The names and
//! their payload types are listed once, in [`registry`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};

use super::page::{ListParams, push_id_filter};
use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::{EnvironmentId, EventId, IdFilter, OrganizationId};

pub mod registry;

pub use registry::{EventName, names};

/// An event as `GET /events` returns it (spec schema `EventSchema`).
#[derive(Debug, Serialize, FromRow)]
pub struct Event {
    /// Always `"event"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// `event_…`
    pub id: EventId,
    /// The event name, e.g. `organization.created`.
    pub event: String,
    /// The payload, shaped per event.
    pub data: Value,
    /// When the change was committed.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Event context; empty for API-originated changes.
    #[sqlx(skip)]
    pub context: Value,
}

/// Writes one event into the outbox, inside the caller's transaction.
pub async fn record(
    tx: &mut Tx,
    env: &EnvironmentId,
    event: EventName,
    data: &impl Serialize,
    organization_id: Option<&OrganizationId>,
) -> ApiResult<()> {
    let data = serde_json::to_value(data).map_err(anyhow::Error::from)?;
    sqlx::query(
        "insert into events (id, environment_id, event, data, organization_id) values ($1, $2, $3, $4, $5)",
    )
    .bind(EventId::new())
    .bind(env)
    .bind(event.as_str())
    .bind(data)
    .bind(organization_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Filters of `GET /events`.
#[derive(Debug, Default)]
pub struct EventFilter {
    /// Event names to include (all when empty).
    pub events: Vec<String>,
    /// Only events created at or after this instant.
    pub range_start: Option<DateTime<Utc>>,
    /// Only events created before this instant.
    pub range_end: Option<DateTime<Utc>>,
    /// Only events of this organization.
    pub organization_id: Option<IdFilter<OrganizationId>>,
}

/// One page of events, newest or oldest first per `params`; `limit + 1` rows for the envelope.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    filter: &EventFilter,
    params: &ListParams,
) -> ApiResult<Vec<Event>> {
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new("select id, event, data, created_at from events where environment_id = ");
    qb.push_bind(env.to_string());
    if !filter.events.is_empty() {
        qb.push(" and event = any(")
            .push_bind(filter.events.clone())
            .push(")");
    }
    if let Some(t) = filter.range_start {
        qb.push(" and created_at >= ").push_bind(t);
    }
    if let Some(t) = filter.range_end {
        qb.push(" and created_at < ").push_bind(t);
    }
    push_id_filter(&mut qb, "organization_id", filter.organization_id.as_ref());
    params.push_keyset(&mut qb, "id");
    let mut rows: Vec<Event> = qb.build_query_as().fetch_all(&mut *conn).await?;
    for e in &mut rows {
        e.object = "event";
        e.context = Value::Object(Default::default());
    }
    Ok(rows)
}
