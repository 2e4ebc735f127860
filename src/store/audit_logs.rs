//! Audit-log actions and their schema versions (spec tag `audit-logs`: schemas `AuditLogActionJson`,
//! `AuditLogSchemaJson`), ingested events, and per-organization retention
//! (`AuditLogsRetentionJson`).
//!
//! An action is created by its first schema; each further schema adds the next version. Rows
//! carry the JSON Schemas exactly as the client sent them; validating them and events against
//! them is the API layer's job.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{AssertSqlSafe, FromRow, PgConnection, Postgres, QueryBuilder};

use super::page::ListParams;
use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::{
    AuditLogActionId, AuditLogEventId, AuditLogSchemaId, EnvironmentId, OrganizationId,
};

/// Retention of an organization that never set one, in days.
pub const DEFAULT_RETENTION_DAYS: i32 = 365;

/// The metadata schema of an action's actor.
#[derive(Debug, Clone, Serialize)]
pub struct ActorSchema {
    /// A JSON Schema for `actor.metadata`.
    pub metadata: Value,
}

/// One version of an action's schema, as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditLogSchema {
    /// Always `"audit_log_schema"`.
    pub object: &'static str,
    /// The list cursor (not part of the object).
    #[serde(skip)]
    pub id: AuditLogSchemaId,
    /// 1, 2, … in creation order.
    pub version: i32,
    /// Actor metadata schema, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<ActorSchema>,
    /// `[{type, metadata?}]`: the target types events may name.
    pub targets: Value,
    /// Event metadata schema, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
}

/// An action with its latest schema, as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditLogAction {
    /// Always `"audit_log_action"`.
    pub object: &'static str,
    /// The list cursor (not part of the object).
    #[serde(skip)]
    pub id: AuditLogActionId,
    /// The action's name, e.g. `user.signed_in`.
    pub name: String,
    /// The latest schema version.
    pub schema: AuditLogSchema,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last new version.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// A schema body to store: JSON Schemas for the actor's, each target type's and the event's
/// metadata.
#[derive(Debug, Clone)]
pub struct NewSchema {
    /// `actor.metadata`.
    pub actor_metadata: Option<Value>,
    /// `[{type, metadata?}]`.
    pub targets: Value,
    /// `metadata`.
    pub metadata: Option<Value>,
}

#[derive(FromRow)]
struct SchemaRow {
    id: AuditLogSchemaId,
    version: i32,
    actor_metadata: Option<Value>,
    targets: Value,
    metadata: Option<Value>,
    created_at: DateTime<Utc>,
}

impl From<SchemaRow> for AuditLogSchema {
    fn from(r: SchemaRow) -> Self {
        Self {
            object: "audit_log_schema",
            id: r.id,
            version: r.version,
            actor: r.actor_metadata.map(|metadata| ActorSchema { metadata }),
            targets: r.targets,
            metadata: r.metadata,
            created_at: r.created_at,
        }
    }
}

#[derive(FromRow)]
struct ActionRow {
    action_id: AuditLogActionId,
    name: String,
    action_created_at: DateTime<Utc>,
    action_updated_at: DateTime<Utc>,
    #[sqlx(flatten)]
    schema: SchemaRow,
}

const SCHEMA_COLUMNS: &str =
    "s.id, s.version, s.actor_metadata, s.targets, s.metadata, s.created_at";

/// Adds the next schema version of action `name`, creating the action when it is new. Concurrent
/// calls for one action serialize on the action's row, so versions never collide.
pub async fn insert_schema(
    tx: &mut Tx,
    env: &EnvironmentId,
    name: &str,
    new: NewSchema,
) -> ApiResult<AuditLogSchema> {
    let (action_id,): (AuditLogActionId,) = sqlx::query_as(
        "insert into audit_log_actions (environment_id, id, name) values ($1, $2, $3)
         on conflict (environment_id, name) do update set updated_at = now()
         returning id",
    )
    .bind(env)
    .bind(AuditLogActionId::new())
    .bind(name)
    .fetch_one(&mut **tx)
    .await?;
    let row: SchemaRow = sqlx::query_as(AssertSqlSafe(format!(
        "insert into audit_log_schemas as s
           (environment_id, id, action_id, version, actor_metadata, targets, metadata)
         select $1, $2, $3, coalesce(max(version), 0) + 1, $4, $5, $6
           from audit_log_schemas where environment_id = $1 and action_id = $3
         returning {SCHEMA_COLUMNS}"
    )))
    .bind(env)
    .bind(AuditLogSchemaId::new())
    .bind(&action_id)
    .bind(new.actor_metadata)
    .bind(new.targets)
    .bind(new.metadata)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.into())
}

/// One page of actions, each with its latest schema; `limit + 1` rows for the envelope.
pub async fn list_actions(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    params: &ListParams,
) -> ApiResult<Vec<AuditLogAction>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select a.id as action_id, a.name, a.created_at as action_created_at,
                a.updated_at as action_updated_at, {SCHEMA_COLUMNS}
         from audit_log_actions a
         join lateral (select * from audit_log_schemas s
                       where s.environment_id = a.environment_id and s.action_id = a.id
                       order by s.version desc limit 1) s on true
         where a.environment_id = "
    ));
    qb.push_bind(env.to_string());
    params.push_keyset(&mut qb, "a.id");
    let rows: Vec<ActionRow> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditLogAction {
            object: "audit_log_action",
            id: r.action_id,
            name: r.name,
            schema: r.schema.into(),
            created_at: r.action_created_at,
            updated_at: r.action_updated_at,
        })
        .collect())
}

/// Whether action `name` exists.
pub async fn action_exists(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    name: &str,
) -> ApiResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from audit_log_actions where environment_id = $1 and name = $2)",
    )
    .bind(env)
    .bind(name)
    .fetch_one(conn)
    .await?)
}

/// One page of action `name`'s schema versions; `limit + 1` rows for the envelope.
pub async fn list_schemas(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    name: &str,
    params: &ListParams,
) -> ApiResult<Vec<AuditLogSchema>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {SCHEMA_COLUMNS} from audit_log_schemas s
         join audit_log_actions a on a.environment_id = s.environment_id and a.id = s.action_id
         where s.environment_id = "
    ));
    qb.push_bind(env.to_string());
    qb.push(" and a.name = ");
    qb.push_bind(name.to_string());
    params.push_keyset(&mut qb, "s.id");
    let rows: Vec<SchemaRow> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Version `version` of action `name`'s schema, if both exist.
pub async fn find_schema(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    name: &str,
    version: i32,
) -> ApiResult<Option<AuditLogSchema>> {
    let row: Option<SchemaRow> = sqlx::query_as(AssertSqlSafe(format!(
        "select {SCHEMA_COLUMNS} from audit_log_schemas s
         join audit_log_actions a on a.environment_id = s.environment_id and a.id = s.action_id
         where s.environment_id = $1 and a.name = $2 and s.version = $3"
    )))
    .bind(env)
    .bind(name)
    .bind(version)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Into::into))
}

/// An event to store (already validated).
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The action's name.
    pub action: String,
    /// The schema version it was checked against (`None`: the action has no schema).
    pub version: Option<i32>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// `{id, type, name?, metadata?}`.
    pub actor: Value,
    /// `[{id, type, name?, metadata?}]`.
    pub targets: Value,
    /// `{location, user_agent?}`.
    pub context: Value,
    /// Event metadata.
    pub metadata: Option<Value>,
}

/// Stores one event of `org` — in the same statement that finds the organization, so an
/// unknown one (or another environment's) stores nothing and answers `None`.
pub async fn insert_event(
    tx: &mut Tx,
    env: &EnvironmentId,
    org: &OrganizationId,
    new: NewEvent,
) -> ApiResult<Option<AuditLogEventId>> {
    Ok(sqlx::query_scalar(
        "insert into audit_log_events (environment_id, id, organization_id, action, version,
           occurred_at, actor, targets, context, metadata)
         select o.environment_id, $2, o.id, $4, $5, $6, $7, $8, $9, $10
           from organizations o where o.environment_id = $1 and o.id = $3
         returning id",
    )
    .bind(env)
    .bind(AuditLogEventId::new())
    .bind(org)
    .bind(new.action)
    .bind(new.version)
    .bind(new.occurred_at)
    .bind(new.actor)
    .bind(new.targets)
    .bind(new.context)
    .bind(new.metadata)
    .fetch_optional(&mut **tx)
    .await?)
}

/// How many events `org` has (tests and diagnostics).
pub async fn count_events(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    org: &OrganizationId,
) -> ApiResult<i64> {
    Ok(sqlx::query_scalar(
        "select count(*) from audit_log_events where environment_id = $1 and organization_id = $2",
    )
    .bind(env)
    .bind(org)
    .fetch_one(conn)
    .await?)
}

/// `org`'s retention in days ([`DEFAULT_RETENTION_DAYS`] when never set).
pub async fn retention(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    org: &OrganizationId,
) -> ApiResult<i32> {
    let days: Option<i32> = sqlx::query_scalar(
        "select retention_period_in_days from audit_log_retention
         where environment_id = $1 and organization_id = $2",
    )
    .bind(env)
    .bind(org)
    .fetch_optional(conn)
    .await?;
    Ok(days.unwrap_or(DEFAULT_RETENTION_DAYS))
}

/// Sets `org`'s retention (30 or 365, checked by the caller and the table).
pub async fn set_retention(
    tx: &mut Tx,
    env: &EnvironmentId,
    org: &OrganizationId,
    days: i32,
) -> ApiResult<i32> {
    Ok(sqlx::query_scalar(
        "insert into audit_log_retention (environment_id, organization_id, retention_period_in_days)
         values ($1, $2, $3)
         on conflict (environment_id, organization_id)
           do update set retention_period_in_days = excluded.retention_period_in_days
         returning retention_period_in_days",
    )
    .bind(env)
    .bind(org)
    .bind(days)
    .fetch_one(&mut **tx)
    .await?)
}
