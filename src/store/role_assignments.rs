//! Role assignments of organization memberships on resources (spec tag `authorization`, schema
//! `RoleAssignment`, plus `organization_membership_id` and `source` as the SDKs read them). A
//! role scoped to resource type T is assigned on a resource of type T in the membership's
//! organization and grants its permissions there and on every descendant.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};

use super::authorization_resources::{self as resources, ResourceRef};
use super::page::ListParams;
use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::ids::{EnvironmentId, OrganizationId, OrganizationMembershipId, RoleAssignmentId};
use crate::store::organization_memberships::SlimRole;
use crate::store::roles;

/// The resource of an assignment.
#[derive(Debug, Clone, Serialize)]
pub struct AssignedResource {
    /// `authz_resource_…`
    pub id: String,
    /// The caller's key.
    pub external_id: String,
    /// The resource's type.
    pub resource_type_slug: String,
}

/// Where an assignment comes from.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// `direct` or `group`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The group role assignment it derives from, `null` for `direct`.
    pub group_role_assignment_id: Option<String>,
    /// The group it derives from (`{id, name}` in the newest SDKs), `null` for `direct`.
    pub group: Option<serde_json::Value>,
}

/// A role assignment as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct RoleAssignment {
    /// Always `"role_assignment"`.
    pub object: &'static str,
    /// `role_assignment_…`
    pub id: RoleAssignmentId,
    /// The membership holding the role.
    pub organization_membership_id: OrganizationMembershipId,
    /// The role.
    pub role: SlimRole,
    /// The resource it is held on.
    pub resource: AssignedResource,
    /// Direct or through a group.
    pub source: Source,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, FromRow)]
struct Row {
    id: RoleAssignmentId,
    organization_membership_id: OrganizationMembershipId,
    role_slug: String,
    resource_id: String,
    external_id: String,
    resource_type_slug: String,
    group_role_assignment_id: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for RoleAssignment {
    fn from(r: Row) -> Self {
        Self {
            object: "role_assignment",
            id: r.id,
            organization_membership_id: r.organization_membership_id,
            role: SlimRole { slug: r.role_slug },
            resource: AssignedResource {
                id: r.resource_id,
                external_id: r.external_id,
                resource_type_slug: r.resource_type_slug,
            },
            source: Source {
                kind: if r.group_role_assignment_id.is_some() {
                    "group"
                } else {
                    "direct"
                },
                group_role_assignment_id: r.group_role_assignment_id,
                group: None,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const SELECT: &str = "select a.id, a.organization_membership_id, ro.slug as role_slug,
       r.id as resource_id, r.external_id, r.resource_type_slug::text as resource_type_slug,
       a.group_role_assignment_id, a.created_at, a.updated_at
     from authorization_role_assignments a
     join roles ro on ro.id = a.role_id
     join authorization_resources r on r.environment_id = a.environment_id and r.id = a.resource_id
     where a.environment_id = ";

/// The organization of a membership of the environment, `None` when it names none.
pub async fn membership_organization(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    om: &OrganizationMembershipId,
) -> ApiResult<Option<OrganizationId>> {
    Ok(sqlx::query_scalar(
        "select organization_id from organization_memberships where environment_id = $1 and id = $2",
    )
    .bind(env)
    .bind(om)
    .fetch_optional(conn)
    .await?)
}

async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &RoleAssignmentId,
) -> ApiResult<Option<RoleAssignment>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(SELECT);
    qb.push_bind(env.to_string())
        .push(" and a.id = ")
        .push_bind(id.to_string());
    let row: Option<Row> = qb.build_query_as().fetch_optional(conn).await?;
    Ok(row.map(Into::into))
}

/// Resolves the role and resource of an assignment of a membership of `org`.
///
/// Errors: 422 `invalid_role` for an unknown role; 404 for an unknown resource; 422 for a
/// resource of another organization or of a type other than the role's.
async fn resolve(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    org: &OrganizationId,
    role_slug: &str,
    resource: &ResourceRef,
) -> ApiResult<(roles::Role, resources::Resource)> {
    let role = roles::find_for_organization(conn, env, org, role_slug)
        .await?
        .ok_or_else(|| ApiError::Unprocessable {
            code: "invalid_role",
            message: format!("Role '{role_slug}' does not exist."),
            errors: Vec::new(),
        })?;
    let res = resources::resolve(conn, env, org, resource)
        .await?
        .ok_or_else(|| resources::not_found(resource))?;
    if res.organization_id != *org {
        return Err(ApiError::invalid_field(
            "resource_id",
            "invalid",
            "The resource belongs to another organization than the membership.",
        ));
    }
    if role.resource_type_slug != res.resource_type_slug {
        return Err(ApiError::invalid_field(
            "role_slug",
            "invalid_resource_type",
            format!(
                "Role '{}' applies to resource type '{}', not '{}'.",
                role.slug, role.resource_type_slug, res.resource_type_slug
            ),
        ));
    }
    Ok((role, res))
}

/// Assigns `role_slug` to the membership on `resource` (an existing identical direct assignment
/// is returned as it is). `None` when the membership names nothing.
///
/// Errors: as `resolve` above.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    om: &OrganizationMembershipId,
    role_slug: &str,
    resource: &ResourceRef,
) -> ApiResult<Option<RoleAssignment>> {
    let Some(org) = membership_organization(tx, env, om).await? else {
        return Ok(None);
    };
    let (role, res) = resolve(tx, env, &org, role_slug, resource).await?;
    sqlx::query(
        "insert into authorization_role_assignments
             (environment_id, id, organization_membership_id, role_id, resource_id)
         values ($1, $2, $3, $4, $5)
         on conflict (environment_id, organization_membership_id, resource_id, role_id)
             where group_role_assignment_id is null do nothing",
    )
    .bind(env)
    .bind(RoleAssignmentId::new())
    .bind(om)
    .bind(&role.id)
    .bind(&res.id)
    .execute(&mut **tx)
    .await?;
    let id: RoleAssignmentId = sqlx::query_scalar(
        "select id from authorization_role_assignments
          where environment_id = $1 and organization_membership_id = $2 and resource_id = $3
            and role_id = $4 and group_role_assignment_id is null",
    )
    .bind(env)
    .bind(om)
    .bind(&res.id)
    .bind(&role.id)
    .fetch_one(&mut **tx)
    .await?;
    find(tx, env, &id).await
}

/// Filters of a membership's assignment list (the SDKs' optional `resource_*` parameters).
#[derive(Debug, Default)]
pub struct AssignmentFilter {
    /// Assignments on this resource id.
    pub resource_id: Option<String>,
    /// Assignments on resources with this external id.
    pub resource_external_id: Option<String>,
    /// Assignments on resources of this type.
    pub resource_type_slug: Option<String>,
}

/// One page (`limit + 1` rows) of a membership's assignments.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    om: &OrganizationMembershipId,
    filter: &AssignmentFilter,
    params: &ListParams,
) -> ApiResult<Vec<RoleAssignment>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(SELECT);
    qb.push_bind(env.to_string())
        .push(" and a.organization_membership_id = ")
        .push_bind(om.to_string());
    if let Some(id) = &filter.resource_id {
        qb.push(" and r.id = ").push_bind(id.clone());
    }
    if let Some(ext) = &filter.resource_external_id {
        qb.push(" and r.external_id = ").push_bind(ext.clone());
    }
    if let Some(ty) = &filter.resource_type_slug {
        qb.push(" and r.resource_type_slug = ")
            .push_bind(ty.clone());
    }
    params.push_keyset(&mut qb, "a.id");
    let rows: Vec<Row> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// One page (`limit + 1` rows) of the assignments on a resource (every membership).
pub async fn list_for_resource(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    resource_id: &str,
    params: &ListParams,
) -> ApiResult<Vec<RoleAssignment>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(SELECT);
    qb.push_bind(env.to_string())
        .push(" and a.resource_id = ")
        .push_bind(resource_id.to_string());
    params.push_keyset(&mut qb, "a.id");
    let rows: Vec<Row> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Removes one direct assignment of the membership by id. `false` when none matches.
pub async fn delete(
    tx: &mut Tx,
    env: &EnvironmentId,
    om: &OrganizationMembershipId,
    id: &RoleAssignmentId,
) -> ApiResult<bool> {
    let done = sqlx::query(
        "delete from authorization_role_assignments
          where environment_id = $1 and organization_membership_id = $2 and id = $3
            and group_role_assignment_id is null",
    )
    .bind(env)
    .bind(om)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Removes the membership's direct assignment of `role_slug` on `resource`. `None` when the
/// membership names nothing, `Some(false)` when it holds no such assignment.
///
/// Errors: as [`insert`] for the role and resource.
pub async fn delete_matching(
    tx: &mut Tx,
    env: &EnvironmentId,
    om: &OrganizationMembershipId,
    role_slug: &str,
    resource: &ResourceRef,
) -> ApiResult<Option<bool>> {
    let Some(org) = membership_organization(tx, env, om).await? else {
        return Ok(None);
    };
    let (role, res) = resolve(tx, env, &org, role_slug, resource).await?;
    let done = sqlx::query(
        "delete from authorization_role_assignments
          where environment_id = $1 and organization_membership_id = $2 and resource_id = $3
            and role_id = $4 and group_role_assignment_id is null",
    )
    .bind(env)
    .bind(om)
    .bind(&res.id)
    .bind(&role.id)
    .execute(&mut **tx)
    .await?;
    Ok(Some(done.rows_affected() > 0))
}
