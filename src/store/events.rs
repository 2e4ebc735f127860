//! The event outbox (`events` table) and its read side, `GET /events` (spec tag `events`).
//!
//! [`record`] is called by every mutating store function inside its transaction, so an event
//! exists exactly when its change was committed. Payloads are the spec's event schemas
//! (WORKOS-API-NOTES §3.1, §3.2): callers pass the `data` object already shaped.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};

use crate::db::Tx;
use crate::error::ApiResult;
use crate::http::ListParams;
use crate::ids::EnvironmentId;
use crate::ids::{new_id, prefix};

/// The event names Keystead emits, as WorkOS spells them.
pub mod names {
    /// `organization.created`
    pub const ORGANIZATION_CREATED: &str = "organization.created";
    /// `organization.updated`
    pub const ORGANIZATION_UPDATED: &str = "organization.updated";
    /// `organization.deleted`
    pub const ORGANIZATION_DELETED: &str = "organization.deleted";
    /// `organization_domain.created`
    pub const ORGANIZATION_DOMAIN_CREATED: &str = "organization_domain.created";
    /// `organization_domain.updated`
    pub const ORGANIZATION_DOMAIN_UPDATED: &str = "organization_domain.updated";
    /// `organization_domain.deleted`
    pub const ORGANIZATION_DOMAIN_DELETED: &str = "organization_domain.deleted";
    /// `organization_domain.verified`
    pub const ORGANIZATION_DOMAIN_VERIFIED: &str = "organization_domain.verified";
    /// `organization_domain.verification_failed`
    pub const ORGANIZATION_DOMAIN_VERIFICATION_FAILED: &str =
        "organization_domain.verification_failed";
    /// `user.created`
    pub const USER_CREATED: &str = "user.created";
    /// `user.updated`
    pub const USER_UPDATED: &str = "user.updated";
    /// `user.deleted`
    pub const USER_DELETED: &str = "user.deleted";
    /// `session.created`
    pub const SESSION_CREATED: &str = "session.created";
    /// `session.revoked`
    pub const SESSION_REVOKED: &str = "session.revoked";
    /// `authentication.password_succeeded`
    pub const AUTHENTICATION_PASSWORD_SUCCEEDED: &str = "authentication.password_succeeded";
    /// `authentication.password_failed`
    pub const AUTHENTICATION_PASSWORD_FAILED: &str = "authentication.password_failed";
    /// `dsync.activated`
    pub const DSYNC_ACTIVATED: &str = "dsync.activated";
    /// `dsync.deleted`
    pub const DSYNC_DELETED: &str = "dsync.deleted";
    /// `dsync.user.created`
    pub const DSYNC_USER_CREATED: &str = "dsync.user.created";
    /// `dsync.user.updated`
    pub const DSYNC_USER_UPDATED: &str = "dsync.user.updated";
    /// `dsync.user.deleted`
    pub const DSYNC_USER_DELETED: &str = "dsync.user.deleted";
    /// `dsync.group.created`
    pub const DSYNC_GROUP_CREATED: &str = "dsync.group.created";
    /// `dsync.group.updated`
    pub const DSYNC_GROUP_UPDATED: &str = "dsync.group.updated";
    /// `dsync.group.deleted`
    pub const DSYNC_GROUP_DELETED: &str = "dsync.group.deleted";
    /// `dsync.group.user_added`
    pub const DSYNC_GROUP_USER_ADDED: &str = "dsync.group.user_added";
    /// `dsync.group.user_removed`
    pub const DSYNC_GROUP_USER_REMOVED: &str = "dsync.group.user_removed";
    /// `connection.activated`
    pub const CONNECTION_ACTIVATED: &str = "connection.activated";
    /// `connection.deactivated`
    pub const CONNECTION_DEACTIVATED: &str = "connection.deactivated";
    /// `connection.deleted`
    pub const CONNECTION_DELETED: &str = "connection.deleted";
    /// `authentication.sso_started`
    pub const AUTHENTICATION_SSO_STARTED: &str = "authentication.sso_started";
    /// `authentication.sso_succeeded`
    pub const AUTHENTICATION_SSO_SUCCEEDED: &str = "authentication.sso_succeeded";
    /// `authentication.sso_failed`
    pub const AUTHENTICATION_SSO_FAILED: &str = "authentication.sso_failed";
    /// `role.created`
    pub const ROLE_CREATED: &str = "role.created";
    /// `organization_membership.created`
    pub const ORGANIZATION_MEMBERSHIP_CREATED: &str = "organization_membership.created";
    /// `organization_membership.updated`
    pub const ORGANIZATION_MEMBERSHIP_UPDATED: &str = "organization_membership.updated";
    /// `organization_membership.deleted`
    pub const ORGANIZATION_MEMBERSHIP_DELETED: &str = "organization_membership.deleted";
    /// `invitation.created`
    pub const INVITATION_CREATED: &str = "invitation.created";
    /// `invitation.accepted`
    pub const INVITATION_ACCEPTED: &str = "invitation.accepted";
    /// `invitation.resent`
    pub const INVITATION_RESENT: &str = "invitation.resent";
    /// `invitation.revoked`
    pub const INVITATION_REVOKED: &str = "invitation.revoked";
    /// `magic_auth.created`
    pub const MAGIC_AUTH_CREATED: &str = "magic_auth.created";
    /// `email_verification.created`
    pub const EMAIL_VERIFICATION_CREATED: &str = "email_verification.created";
    /// `password_reset.created`
    pub const PASSWORD_RESET_CREATED: &str = "password_reset.created";
    /// `password_reset.succeeded`
    pub const PASSWORD_RESET_SUCCEEDED: &str = "password_reset.succeeded";
    /// `authentication.magic_auth_succeeded`
    pub const AUTHENTICATION_MAGIC_AUTH_SUCCEEDED: &str = "authentication.magic_auth_succeeded";
    /// `authentication.magic_auth_failed`
    pub const AUTHENTICATION_MAGIC_AUTH_FAILED: &str = "authentication.magic_auth_failed";
    /// `authentication.email_verification_succeeded`
    pub const AUTHENTICATION_EMAIL_VERIFICATION_SUCCEEDED: &str =
        "authentication.email_verification_succeeded";
    /// `authentication.email_verification_failed`
    pub const AUTHENTICATION_EMAIL_VERIFICATION_FAILED: &str =
        "authentication.email_verification_failed";
    /// `authentication.mfa_succeeded`
    pub const AUTHENTICATION_MFA_SUCCEEDED: &str = "authentication.mfa_succeeded";
    /// `authentication.mfa_failed`
    pub const AUTHENTICATION_MFA_FAILED: &str = "authentication.mfa_failed";
}

/// An event as `GET /events` returns it (spec schema `EventSchema`).
#[derive(Debug, Serialize, FromRow)]
pub struct Event {
    /// Always `"event"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// `event_…`
    pub id: String,
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
    event: &str,
    data: &impl Serialize,
    organization_id: Option<&str>,
) -> ApiResult<()> {
    let data = serde_json::to_value(data).map_err(anyhow::Error::from)?;
    sqlx::query(
        "insert into events (id, environment_id, event, data, organization_id) values ($1, $2, $3, $4, $5)",
    )
    .bind(new_id(prefix::EVENT))
    .bind(env)
    .bind(event)
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
    pub organization_id: Option<String>,
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
    if let Some(org) = &filter.organization_id {
        qb.push(" and organization_id = ").push_bind(org.clone());
    }
    params.push_keyset(&mut qb, "id");
    let mut rows: Vec<Event> = qb.build_query_as().fetch_all(&mut *conn).await?;
    for e in &mut rows {
        e.object = "event";
        e.context = Value::Object(Default::default());
    }
    Ok(rows)
}
