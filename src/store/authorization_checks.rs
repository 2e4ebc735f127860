//! Access checks and discovery (spec tag `authorization`): may a membership do X on a resource,
//! which children of a resource may it do X on, what may it do on a resource, and which
//! memberships may do X on a resource.
//!
//! The grant rule: an active membership holds permission P on resource R when one of its
//! organization-level roles (`role_slugs`, environment roles or its organization's custom roles)
//! holds P and R is in its organization, or when a role assigned to it on R or on an ancestor of
//! R holds P. Each answer is one SQL statement: a recursive query walks R's ancestors (at most
//! the type depth limit, each step a primary-key lookup) and indexed joins do the rest.

use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};

use super::authorization_resources::{self as resources, Resource};
use super::page::ListParams;
use super::permissions::{self, Permission};
use crate::error::ApiResult;
use crate::ids::{AuthorizationResourceId, EnvironmentId, OrganizationMembershipId};

/// The outcome of [`check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The membership names nothing in the environment.
    UnknownMembership,
    /// The resource names nothing (for external ids: in the membership's organization).
    UnknownResource,
    /// No permission has the slug.
    UnknownPermission,
    /// The answer.
    Authorized(bool),
}

/// The resource a check names: by id, or by type and external id in the membership's
/// organization.
#[derive(Debug, Clone)]
pub enum Target<'a> {
    /// By id.
    Id(&'a AuthorizationResourceId),
    /// By type and external id.
    External(&'a str, &'a str),
}

/// `$1` environment, `$2` membership, `$3` permission slug, `$4` resource id or null, `$5`/`$6`
/// type and external id (used when `$4` is null).
const CHECK: &str = "
with recursive
m as (
    select organization_id, status, coalesce(role_slugs, array[role_slug]) as slugs
      from organization_memberships where environment_id = $1 and id = $2
),
target as (
    select r.id, r.parent_resource_id, r.organization_id
      from authorization_resources r where r.environment_id = $1 and r.id = $4
    union all
    select r.id, r.parent_resource_id, r.organization_id
      from authorization_resources r
     where $4::text is null and r.environment_id = $1
       and r.organization_id = (select organization_id from m)
       and r.resource_type_slug = $5 and r.external_id = $6
),
chain (id, parent_id, n) as (
    select id, parent_resource_id, 0 from target
    union all
    select r.id, r.parent_resource_id, c.n + 1
      from chain c join authorization_resources r on r.environment_id = $1 and r.id = c.parent_id
     where c.n < 64
),
perm as (select id from authorization_permissions where environment_id = $1 and slug = $3)
select exists (select 1 from m) as membership_found,
       exists (select 1 from target) as resource_found,
       exists (select 1 from perm) as permission_found,
       coalesce((select status = 'active' from m), false) and (
           exists (
               select 1 from m
                 join roles ro on ro.environment_id = $1 and ro.slug = any(m.slugs)
                      and (ro.organization_id is null or ro.organization_id = m.organization_id)
                 join authorization_role_permissions rp on rp.role_id = ro.id
                where rp.permission_id = (select id from perm)
                  and m.organization_id = (select organization_id from target)
           )
           or exists (
               select 1 from chain c
                 join authorization_role_assignments a
                      on a.environment_id = $1 and a.organization_membership_id = $2 and a.resource_id = c.id
                 join authorization_role_permissions rp on rp.role_id = a.role_id
                where rp.permission_id = (select id from perm)
           )
       ) as authorized";

#[derive(Debug, FromRow)]
struct CheckRow {
    membership_found: bool,
    resource_found: bool,
    permission_found: bool,
    authorized: bool,
}

/// Whether the membership holds `permission` on the target, in one statement.
pub async fn check(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    om: &OrganizationMembershipId,
    permission: &str,
    target: &Target<'_>,
) -> ApiResult<CheckOutcome> {
    let (id, ty, ext) = match target {
        Target::Id(id) => (Some(id.as_str()), None, None),
        Target::External(ty, ext) => (None, Some(*ty), Some(*ext)),
    };
    let row: CheckRow = sqlx::query_as(CHECK)
        .bind(env)
        .bind(om)
        .bind(permission)
        .bind(id)
        .bind(ty)
        .bind(ext)
        .fetch_one(conn)
        .await?;
    Ok(if !row.membership_found {
        CheckOutcome::UnknownMembership
    } else if !row.resource_found {
        CheckOutcome::UnknownResource
    } else if !row.permission_found {
        CheckOutcome::UnknownPermission
    } else {
        CheckOutcome::Authorized(row.authorized)
    })
}

/// The roles the membership holds on a resource (`$3`, or `$4` when that is null: the parent of
/// the listed children): its organization-level roles when the resource is in its organization,
/// and the roles assigned to it on the resource or an ancestor. `$1` environment, `$2`
/// membership.
const HELD_ROLES: &str = "
with recursive
m as (
    select organization_id, coalesce(role_slugs, array[role_slug]) as slugs
      from organization_memberships where environment_id = $1 and id = $2 and status = 'active'
),
chain (id, parent_id, organization_id, n) as (
    select r.id, r.parent_resource_id, r.organization_id, 0
      from authorization_resources r where r.environment_id = $1 and r.id = $3
    union all
    select r.id, r.parent_resource_id, r.organization_id, c.n + 1
      from chain c join authorization_resources r on r.environment_id = $1 and r.id = c.parent_id
     where c.n < 64
),
held (role_id) as (
    select ro.id from m
      join roles ro on ro.environment_id = $1 and ro.slug = any(m.slugs)
           and (ro.organization_id is null or ro.organization_id = m.organization_id)
     where m.organization_id = (select organization_id from chain where n = 0)
    union
    select a.role_id from chain c
      join authorization_role_assignments a
           on a.environment_id = $1 and a.organization_membership_id = $2 and a.resource_id = c.id
     where exists (select 1 from m)
)";

/// One page (`limit + 1` rows) of the permissions the membership holds on `resource`
/// (inherited ones included).
pub async fn effective_permissions(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    om: &OrganizationMembershipId,
    resource: &AuthorizationResourceId,
    params: &ListParams,
) -> ApiResult<Vec<Permission>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(HELD_ROLES);
    qb.push(format_args!(
        " select {} from authorization_permissions p where p.environment_id = $1
            and p.id in (select rp.permission_id from authorization_role_permissions rp
                          where rp.role_id in (select role_id from held))",
        permissions::COLUMNS
    ));
    bind_held(&mut qb, env, om, resource);
    params.push_keyset(&mut qb, "p.id");
    let rows: Vec<Permission> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(permissions::tag).collect())
}

/// Binds `$1`–`$3` of [`HELD_ROLES`]: the query text already names them, so they are pushed as
/// a no-op clause's arguments in order.
fn bind_held(
    qb: &mut QueryBuilder<Postgres>,
    env: &EnvironmentId,
    om: &OrganizationMembershipId,
    resource: &AuthorizationResourceId,
) {
    qb.push(" and (")
        .push_bind(env.to_string())
        .push("::text is not null or ")
        .push_bind(om.to_string())
        .push("::text is not null or ")
        .push_bind(resource.to_string())
        .push("::text is not null)");
}

/// One page (`limit + 1` rows) of the children of `parent` on which the membership holds the
/// permission `permission_id` (through the parent's grants, or an assignment on the child).
pub async fn accessible_children(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    om: &OrganizationMembershipId,
    parent: &AuthorizationResourceId,
    permission_id: &str,
    params: &ListParams,
) -> ApiResult<Vec<Resource>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(HELD_ROLES);
    qb.push(format_args!(
        " select {} from authorization_resources r
           where r.environment_id = $1 and r.parent_resource_id = $3
             and (exists (select 1 from held h join authorization_role_permissions rp on rp.role_id = h.role_id
                           where rp.permission_id = $4)
                  or exists (select 1 from m
                               join authorization_role_assignments a
                                    on a.environment_id = $1 and a.organization_membership_id = $2
                                   and a.resource_id = r.id
                               join authorization_role_permissions rp on rp.role_id = a.role_id
                              where rp.permission_id = $4))",
        resources::COLUMNS
    ));
    bind_held(&mut qb, env, om, parent);
    qb.push(" and ")
        .push_bind(permission_id.to_string())
        .push("::text is not null");
    params.push_keyset(&mut qb, "r.id");
    let rows: Vec<Resource> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(resources::tag).collect())
}

/// One page (`limit + 1` ids) of the memberships holding the permission `permission_id` on
/// `resource`: with `direct`, only through an assignment on the resource itself; otherwise also
/// through ancestors and organization-level roles. Active memberships only.
pub async fn memberships_with_permission(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    resource: &Resource,
    permission_id: &str,
    direct: bool,
    params: &ListParams,
) -> ApiResult<Vec<OrganizationMembershipId>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
        "with recursive chain (id, parent_id, n) as (
             select r.id, r.parent_resource_id, 0
               from authorization_resources r where r.environment_id = $1 and r.id = $2
             union all
             select r.id, r.parent_resource_id, c.n + 1
               from chain c join authorization_resources r on r.environment_id = $1 and r.id = c.parent_id
              where c.n < 64
         )
         select m.id from organization_memberships m
          where m.environment_id = $1 and m.organization_id = $3 and m.status = 'active'
            and (exists (select 1 from chain c
                           join authorization_role_assignments a
                                on a.environment_id = $1 and a.organization_membership_id = m.id
                               and a.resource_id = c.id
                           join authorization_role_permissions rp on rp.role_id = a.role_id
                          where rp.permission_id = $4 and (not $5 or c.n = 0))
                 or (not $5 and exists (
                         select 1 from roles ro
                           join authorization_role_permissions rp on rp.role_id = ro.id
                          where ro.environment_id = $1
                            and ro.slug = any(coalesce(m.role_slugs, array[m.role_slug]))
                            and (ro.organization_id is null or ro.organization_id = m.organization_id)
                            and rp.permission_id = $4)))
            and (",
    );
    qb.push_bind(env.to_string())
        .push("::text is not null and ")
        .push_bind(resource.id.to_string())
        .push("::text is not null and ")
        .push_bind(resource.organization_id.to_string())
        .push("::text is not null and ")
        .push_bind(permission_id.to_string())
        .push("::text is not null and ")
        .push_bind(direct)
        .push(" is not null)");
    params.push_keyset(&mut qb, "m.id");
    let ids: Vec<(OrganizationMembershipId,)> = qb.build_query_as().fetch_all(conn).await?;
    Ok(ids.into_iter().map(|(id,)| id).collect())
}
