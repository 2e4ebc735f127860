//! Organization memberships (spec tag `user-management.organization-membership`; schema
//! `UserlandUserOrganizationMembership` with the embedded `user` and `role`, plus `roles[]` as the
//! SDKs read it) and their `organization_membership.*` events (no `user`, no
//! `organization_name`; WORKOS-API-NOTES §3.2, §8 item 11).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};

use super::page::{ListParams, push_id_filter};
use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::ids::{EnvironmentId, IdFilter, OrganizationId, OrganizationMembershipId, UserId};
use crate::store::events::{self, EventName, names};
use crate::store::users::{self, User};

/// `SlimRole`: a role by slug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlimRole {
    /// The role's slug.
    pub slug: String,
}

/// A membership as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct Membership {
    /// Always `"organization_membership"`.
    pub object: &'static str,
    /// `om_…`
    pub id: OrganizationMembershipId,
    /// The user.
    pub user_id: UserId,
    /// The organization.
    pub organization_id: OrganizationId,
    /// The organization's name.
    pub organization_name: String,
    /// `active`, `inactive` or `pending` (invited, not yet accepted).
    pub status: String,
    /// Whether Directory Sync manages the membership.
    pub directory_managed: bool,
    /// Attributes mapped from an identity provider (`{}` otherwise).
    pub custom_attributes: Map<String, Value>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
    /// The primary role (the first of `roles`).
    pub role: SlimRole,
    /// Every role the membership holds.
    pub roles: Vec<SlimRole>,
    /// The member.
    pub user: User,
}

/// The `organization_membership.*` event payload.
#[derive(Debug, Serialize)]
struct MembershipEvent<'a> {
    object: &'static str,
    id: &'a OrganizationMembershipId,
    user_id: &'a UserId,
    organization_id: &'a OrganizationId,
    status: &'a str,
    role: &'a SlimRole,
    roles: &'a [SlimRole],
    custom_attributes: &'a Map<String, Value>,
    directory_managed: bool,
    #[serde(with = "crate::timestamp")]
    created_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp")]
    updated_at: DateTime<Utc>,
}

async fn record(
    tx: &mut Tx,
    env: &EnvironmentId,
    name: EventName,
    m: &Membership,
) -> ApiResult<()> {
    let event = MembershipEvent {
        object: "organization_membership",
        id: &m.id,
        user_id: &m.user_id,
        organization_id: &m.organization_id,
        status: &m.status,
        role: &m.role,
        roles: &m.roles,
        custom_attributes: &m.custom_attributes,
        directory_managed: m.directory_managed,
        created_at: m.created_at,
        updated_at: m.updated_at,
    };
    events::record(tx, env, name, &event, Some(&m.organization_id)).await
}

#[derive(Debug, FromRow)]
struct Row {
    id: OrganizationMembershipId,
    user_id: UserId,
    organization_id: OrganizationId,
    organization_name: String,
    status: String,
    directory_managed: bool,
    custom_attributes: Value,
    role_slugs: Vec<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const SELECT: &str = "select m.id, m.user_id, m.organization_id, o.name as organization_name, m.status,
       m.directory_managed, m.custom_attributes, coalesce(m.role_slugs, array[m.role_slug]) as role_slugs,
       m.created_at, m.updated_at
     from organization_memberships m
     join organizations o on o.environment_id = m.environment_id and o.id = m.organization_id
     where m.environment_id = ";

/// Attaches the users to rows; rows whose user vanished are dropped.
async fn hydrate(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    rows: Vec<Row>,
) -> ApiResult<Vec<Membership>> {
    let ids: Vec<UserId> = rows.iter().map(|r| r.user_id.clone()).collect();
    let users: HashMap<UserId, User> = users::find_many(conn, env, &ids)
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let user = users.get(&r.user_id)?.clone();
            let roles: Vec<SlimRole> = r
                .role_slugs
                .iter()
                .map(|slug| SlimRole { slug: slug.clone() })
                .collect();
            Some(Membership {
                object: "organization_membership",
                role: roles.first().cloned().unwrap_or(SlimRole {
                    slug: super::roles::DEFAULT_ROLE.to_string(),
                }),
                roles,
                id: r.id,
                user_id: r.user_id,
                organization_id: r.organization_id,
                organization_name: r.organization_name,
                status: r.status,
                directory_managed: r.directory_managed,
                custom_attributes: match r.custom_attributes {
                    Value::Object(m) => m,
                    _ => Map::new(),
                },
                created_at: r.created_at,
                updated_at: r.updated_at,
                user,
            })
        })
        .collect())
}

async fn find_where(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    clause: &str,
    a: &str,
    b: Option<&str>,
) -> ApiResult<Option<Membership>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(SELECT);
    qb.push_bind(env.to_string())
        .push(format_args!(" and {clause} "))
        .push_bind(a.to_string());
    if let Some(b) = b {
        qb.push(" and m.organization_id = ")
            .push_bind(b.to_string());
    }
    let rows: Vec<Row> = qb.build_query_as().fetch_all(&mut *conn).await?;
    Ok(hydrate(conn, env, rows).await?.into_iter().next())
}

/// One membership by id.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &OrganizationMembershipId,
) -> ApiResult<Option<Membership>> {
    find_where(conn, env, "m.id =", id, None).await
}

/// The memberships with these ids, in the order given (ids naming none are skipped).
pub async fn find_many(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    ids: &[OrganizationMembershipId],
) -> ApiResult<Vec<Membership>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(SELECT);
    qb.push_bind(env.to_string())
        .push(" and m.id = any(")
        .push_bind(ids.to_vec())
        .push(")");
    let rows: Vec<Row> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let mut found = hydrate(conn, env, rows).await?;
    found.sort_by_key(|m| ids.iter().position(|id| *id == m.id));
    Ok(found)
}

/// The membership of `user_id` in `organization_id`, whatever its status.
pub async fn find_for(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    user_id: &UserId,
    organization_id: &OrganizationId,
) -> ApiResult<Option<Membership>> {
    find_where(conn, env, "m.user_id =", user_id, Some(organization_id)).await
}

/// Filters of `GET /user_management/organization_memberships`.
#[derive(Debug, Default)]
pub struct MembershipFilter {
    /// Memberships of this user.
    pub user_id: Option<IdFilter<UserId>>,
    /// Memberships in this organization.
    pub organization_id: Option<IdFilter<OrganizationId>>,
    /// Statuses to include.
    pub statuses: Vec<String>,
}

/// One page (`limit + 1` rows) of memberships.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    filter: &MembershipFilter,
    params: &ListParams,
) -> ApiResult<Vec<Membership>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(SELECT);
    qb.push_bind(env.to_string());
    push_id_filter(&mut qb, "m.user_id", filter.user_id.as_ref());
    push_id_filter(
        &mut qb,
        "m.organization_id",
        filter.organization_id.as_ref(),
    );
    if !filter.statuses.is_empty() {
        qb.push(" and m.status = any(")
            .push_bind(filter.statuses.clone())
            .push(")");
    }
    params.push_keyset(&mut qb, "m.id");
    let rows: Vec<Row> = qb.build_query_as().fetch_all(&mut *conn).await?;
    hydrate(conn, env, rows).await
}

async fn reload(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &OrganizationMembershipId,
) -> ApiResult<Membership> {
    find(tx, env, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Organization membership", id.as_str()))
}

/// Creates a membership with `roles` (non-empty, already checked) and `status` (`active` or
/// `pending`), recording `organization_membership.created`. An existing `inactive` membership
/// of the pair is reactivated with these roles instead (`organization_membership.updated`).
///
/// The user and organization must exist in the environment. Errors: 400
/// `organization_membership_already_exists` for an active or pending pair.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    user_id: &UserId,
    organization_id: &OrganizationId,
    roles: &[String],
    status: &str,
) -> ApiResult<Membership> {
    let existing: Option<(OrganizationMembershipId, String)> = sqlx::query_as(
        "select id, status from organization_memberships
         where environment_id = $1 and user_id = $2 and organization_id = $3 for update",
    )
    .bind(env)
    .bind(user_id)
    .bind(organization_id)
    .fetch_optional(&mut **tx)
    .await?;
    match existing {
        Some((id, current)) if current == "inactive" && status == "active" => {
            set(tx, env, &id, Some("active"), Some(roles)).await?;
            let m = reload(tx, env, &id).await?;
            record(tx, env, names::ORGANIZATION_MEMBERSHIP_UPDATED, &m).await?;
            Ok(m)
        }
        Some(_) => Err(ApiError::bad_request(
            "organization_membership_already_exists",
            "The user is already a member of this organization.",
        )),
        None => {
            let id = OrganizationMembershipId::new();
            sqlx::query(
                "insert into organization_memberships (id, environment_id, user_id, organization_id, role_slug,
                   role_slugs, status)
                 values ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id)
            .bind(env)
            .bind(user_id)
            .bind(organization_id)
            .bind(roles.first().map_or(super::roles::DEFAULT_ROLE, String::as_str))
            .bind(roles)
            .bind(status)
            .execute(&mut **tx)
            .await?;
            let m = reload(tx, env, &id).await?;
            record(tx, env, names::ORGANIZATION_MEMBERSHIP_CREATED, &m).await?;
            Ok(m)
        }
    }
}

async fn set(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &OrganizationMembershipId,
    status: Option<&str>,
    roles: Option<&[String]>,
) -> ApiResult<()> {
    let done = sqlx::query(
        "update organization_memberships set
           status = coalesce($3, status),
           role_slugs = coalesce($4, role_slugs),
           role_slug = coalesce(($4::text[])[1], role_slug)
         where environment_id = $1 and id = $2",
    )
    .bind(env)
    .bind(id)
    .bind(status)
    .bind(roles)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("Organization membership", id.as_str()));
    }
    Ok(())
}

/// Replaces the roles (non-empty, already checked); records `organization_membership.updated`.
pub async fn update_roles(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &OrganizationMembershipId,
    roles: &[String],
) -> ApiResult<Membership> {
    set(tx, env, id, None, Some(roles)).await?;
    let m = reload(tx, env, id).await?;
    record(tx, env, names::ORGANIZATION_MEMBERSHIP_UPDATED, &m).await?;
    Ok(m)
}

/// Moves a membership from `from` to `to` and records `organization_membership.updated`; a
/// membership already in `to` is returned unchanged without an event.
///
/// Errors: 404 unknown; 400 `pending_error` when the membership is `pending` and `from` is not.
pub async fn transition(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &OrganizationMembershipId,
    from: &str,
    to: &str,
    pending_error: &'static str,
) -> ApiResult<Membership> {
    let current: Option<String> = sqlx::query_scalar(
        "select status from organization_memberships where environment_id = $1 and id = $2 for update",
    )
    .bind(env)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let current =
        current.ok_or_else(|| ApiError::not_found("Organization membership", id.as_str()))?;
    if current == to {
        return reload(tx, env, id).await;
    }
    if current == "pending" && from != "pending" {
        return Err(ApiError::bad_request(
            pending_error,
            "The organization membership is pending; it changes when its invitation is accepted.",
        ));
    }
    if current != from {
        return reload(tx, env, id).await;
    }
    set(tx, env, id, Some(to), None).await?;
    let m = reload(tx, env, id).await?;
    record(tx, env, names::ORGANIZATION_MEMBERSHIP_UPDATED, &m).await?;
    Ok(m)
}

/// Deletes a membership and records `organization_membership.deleted`; 404 when absent.
pub async fn delete(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &OrganizationMembershipId,
) -> ApiResult<()> {
    let m = reload(tx, env, id).await?;
    sqlx::query("delete from organization_memberships where environment_id = $1 and id = $2")
        .bind(env)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    record(tx, env, names::ORGANIZATION_MEMBERSHIP_DELETED, &m).await
}

/// Whose memberships [`delete_all_of`] deletes.
#[derive(Debug, Clone, Copy)]
pub enum MembershipsOf<'a> {
    /// Every membership of this user.
    User(&'a UserId),
    /// Every membership in this organization.
    Organization(&'a OrganizationId),
}

/// Deletes every membership of a user or organization, recording
/// `organization_membership.deleted` for each; called before the user or organization itself is
/// deleted.
pub async fn delete_all_of(
    tx: &mut Tx,
    env: &EnvironmentId,
    of: MembershipsOf<'_>,
) -> ApiResult<()> {
    let (column, id) = match of {
        MembershipsOf::User(id) => ("user_id", id.as_str()),
        MembershipsOf::Organization(id) => ("organization_id", id.as_str()),
    };
    let ids: Vec<OrganizationMembershipId> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select id from organization_memberships where environment_id = $1 and {column} = $2 order by id"
    )))
    .bind(env)
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    for membership in ids {
        delete(tx, env, &membership).await?;
    }
    Ok(())
}

/// Deletes a user and records `user.deleted`, after deleting the user's memberships with their
/// `organization_membership.deleted` events (memberships embed their user, so the cascade lives
/// here, above [`users`]).
pub async fn delete_user(tx: &mut Tx, env: &EnvironmentId, id: &UserId) -> ApiResult<()> {
    delete_all_of(tx, env, MembershipsOf::User(id)).await?;
    users::delete(tx, env, id).await
}

/// The organizations (id, name) the user is an active member of, oldest membership first.
pub async fn active_organizations(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    user_id: &UserId,
) -> ApiResult<Vec<(OrganizationId, String)>> {
    Ok(sqlx::query_as(
        "select o.id, o.name from organization_memberships m
         join organizations o on o.environment_id = m.environment_id and o.id = m.organization_id
         where m.environment_id = $1 and m.user_id = $2 and m.status = 'active' order by m.id",
    )
    .bind(env)
    .bind(user_id)
    .fetch_all(conn)
    .await?)
}

/// The roles of the user's active membership in the organization, `None` when not a member.
pub async fn active_roles(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    user_id: &UserId,
    organization_id: &OrganizationId,
) -> ApiResult<Option<Vec<String>>> {
    Ok(sqlx::query_scalar(
        "select coalesce(role_slugs, array[role_slug]) from organization_memberships where environment_id = $1 and user_id = $2
           and organization_id = $3 and status = 'active'",
    )
    .bind(env)
    .bind(user_id)
    .bind(organization_id)
    .fetch_optional(conn)
    .await?)
}
