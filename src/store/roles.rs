//! Roles (spec tag `authorization`, schema `Role`): environment roles (`type: EnvironmentRole`,
//! the catalogue membership and invitation role slugs come from; every environment starts with
//! `member`, the default, and `admin`, migration 0100) and organization (custom) roles (`type:
//! OrganizationRole`, slugs starting with `org-`), each scoped to a resource type and holding
//! permissions. Events: `role.created/updated` and `organization_role.created/updated/deleted`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};

use crate::db::Tx;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::{EnvironmentId, OrganizationId, RoleId};
use crate::store::events::{self, names};
use crate::store::resource_types::{self, ORGANIZATION};

/// The role a membership gets when none is named.
pub const DEFAULT_ROLE: &str = "member";

/// A role as the API returns it (`Role`).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Role {
    /// Always `"role"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// `role_…`
    pub id: RoleId,
    /// Slug, unique among the roles that apply to an organization, e.g. `admin`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Description, or `null`.
    pub description: Option<String>,
    /// `"EnvironmentRole"` or `"OrganizationRole"`.
    #[serde(rename = "type")]
    #[sqlx(skip)]
    pub kind: &'static str,
    /// The resource type the role applies to.
    pub resource_type_slug: String,
    /// Permission slugs, sorted.
    pub permissions: Vec<String>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
    /// The organization owning a custom role (`None` for environment roles).
    #[serde(skip)]
    pub organization_id: Option<OrganizationId>,
}

/// Which roles an operation addresses.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Environment roles (`/authorization/roles…`).
    Environment,
    /// The custom roles of one organization (`/authorization/organizations/{id}/roles…`).
    Organization(&'a OrganizationId),
}

/// The `role.*` event payload: no `id`, no `name` (WORKOS-API-NOTES §3.2).
#[derive(Debug, Serialize)]
struct RoleEvent<'a> {
    object: &'static str,
    slug: &'a str,
    resource_type_slug: &'a str,
    permissions: &'a [String],
    #[serde(with = "crate::timestamp")]
    created_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp")]
    updated_at: DateTime<Utc>,
}

/// The `organization_role.*` event payload (no `id`).
#[derive(Debug, Serialize)]
struct OrganizationRoleEvent<'a> {
    object: &'static str,
    organization_id: &'a OrganizationId,
    slug: &'a str,
    name: &'a str,
    description: Option<&'a str>,
    resource_type_slug: &'a str,
    permissions: &'a [String],
    #[serde(with = "crate::timestamp")]
    created_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp")]
    updated_at: DateTime<Utc>,
}

/// What happened to a role, for its event.
#[derive(Debug, Clone, Copy)]
enum Change {
    Created,
    Updated,
    Deleted,
}

async fn record(tx: &mut Tx, env: &EnvironmentId, change: Change, r: &Role) -> ApiResult<()> {
    match &r.organization_id {
        None => {
            let name = match change {
                Change::Created => names::ROLE_CREATED,
                Change::Updated => names::ROLE_UPDATED,
                Change::Deleted => names::ROLE_DELETED,
            };
            let event = RoleEvent {
                object: "role",
                slug: &r.slug,
                resource_type_slug: &r.resource_type_slug,
                permissions: &r.permissions,
                created_at: r.created_at,
                updated_at: r.updated_at,
            };
            events::record(tx, env, name, &event, None).await
        }
        Some(org) => {
            let name = match change {
                Change::Created => names::ORGANIZATION_ROLE_CREATED,
                Change::Updated => names::ORGANIZATION_ROLE_UPDATED,
                Change::Deleted => names::ORGANIZATION_ROLE_DELETED,
            };
            let event = OrganizationRoleEvent {
                object: "organization_role",
                organization_id: org,
                slug: &r.slug,
                name: &r.name,
                description: r.description.as_deref(),
                resource_type_slug: &r.resource_type_slug,
                permissions: &r.permissions,
                created_at: r.created_at,
                updated_at: r.updated_at,
            };
            events::record(tx, env, name, &event, Some(org)).await
        }
    }
}

const COLUMNS: &str = "r.id, r.slug, r.name, r.description, r.resource_type_slug::text as resource_type_slug,
    r.organization_id, r.created_at, r.updated_at,
    array(select p.slug::text from authorization_role_permissions rp
          join authorization_permissions p on p.environment_id = rp.environment_id and p.id = rp.permission_id
          where rp.role_id = r.id order by p.slug) as permissions";

fn tag(mut r: Role) -> Role {
    r.object = "role";
    r.kind = if r.organization_id.is_some() {
        "OrganizationRole"
    } else {
        "EnvironmentRole"
    };
    r
}

/// `and …` restricting `roles r` to a scope; `$3` is the organization id when there is one.
fn scope_clause(scope: Scope<'_>) -> &'static str {
    match scope {
        Scope::Environment => "r.organization_id is null and $3::text is null",
        Scope::Organization(_) => "r.organization_id = $3",
    }
}

fn scope_org(scope: Scope<'_>) -> Option<&OrganizationId> {
    match scope {
        Scope::Environment => None,
        Scope::Organization(org) => Some(org),
    }
}

/// Input of [`insert`], already validated.
#[derive(Debug)]
pub struct NewRole {
    /// Slug (lowercase letters, digits, `-`, `_`; `org-…` for organization roles).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Resource type (`organization` when not given).
    pub resource_type_slug: String,
}

/// Creates a role in `scope` and records `role.created` or `organization_role.created`.
///
/// Errors: 409 `role_slug_conflict` / `organization_role_slug_conflict`; 422 for an unknown
/// resource type.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    scope: Scope<'_>,
    new: NewRole,
) -> ApiResult<Role> {
    let id = RoleId::new();
    sqlx::query(
        "insert into roles (id, environment_id, slug, name, description, resource_type_slug, organization_id)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(env)
    .bind(&new.slug)
    .bind(&new.name)
    .bind(&new.description)
    .bind(&new.resource_type_slug)
    .bind(scope_org(scope))
    .execute(&mut **tx)
    .await
    .on_constraint("roles_slug_key", || ApiError::Conflict {
        code: Some("role_slug_conflict"),
        message: format!("A role with slug '{}' already exists.", new.slug),
    })
    .on_constraint("roles_organization_slug_key", || ApiError::Conflict {
        code: Some("organization_role_slug_conflict"),
        message: format!("A role with slug '{}' already exists.", new.slug),
    })
    .on_constraint("roles_resource_type_fkey", || {
        ApiError::invalid_field(
            "resource_type_slug",
            "not_found",
            format!("Resource type '{}' does not exist.", new.resource_type_slug),
        )
    })?;
    let role = reload(tx, env, &id).await?;
    record(tx, env, Change::Created, &role).await?;
    Ok(role)
}

async fn reload(tx: &mut Tx, env: &EnvironmentId, id: &RoleId) -> ApiResult<Role> {
    let row: Role = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from roles r where r.environment_id = $1 and r.id = $2"
    )))
    .bind(env)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(tag(row))
}

/// One role of `scope` by slug.
pub async fn find_in(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    scope: Scope<'_>,
    slug: &str,
) -> ApiResult<Option<Role>> {
    let row: Option<Role> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from roles r where r.environment_id = $1 and r.slug = $2 and {}",
        scope_clause(scope)
    )))
    .bind(env)
    .bind(slug)
    .bind(scope_org(scope))
    .fetch_optional(conn)
    .await?;
    Ok(row.map(tag))
}

/// One environment role by slug.
pub async fn find_by_slug(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    slug: &str,
) -> ApiResult<Option<Role>> {
    find_in(conn, env, Scope::Environment, slug).await
}

/// The role `slug` as it applies to `org`: its custom role, else the environment role.
pub async fn find_for_organization(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    org: &OrganizationId,
    slug: &str,
) -> ApiResult<Option<Role>> {
    let row: Option<Role> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from roles r
         where r.environment_id = $1 and r.slug = $2
           and (r.organization_id is null or r.organization_id = $3)
         order by r.organization_id nulls last limit 1"
    )))
    .bind(env)
    .bind(slug)
    .bind(org)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(tag))
}

/// The environment roles (oldest first: `member`, `admin`, then custom), or for an
/// organization, the environment roles followed by its custom roles (priority order).
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    scope: Scope<'_>,
) -> ApiResult<Vec<Role>> {
    let clause = match scope {
        Scope::Environment => "r.organization_id is null and $2::text is null",
        Scope::Organization(_) => "(r.organization_id is null or r.organization_id = $2)",
    };
    let rows: Vec<Role> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from roles r where r.environment_id = $1 and {clause}
         order by r.organization_id is not null, r.created_at, r.id"
    )))
    .bind(env)
    .bind(scope_org(scope))
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(tag).collect())
}

/// Why a slug cannot be an organization-level role of a membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// No environment role (nor custom role of the organization) has the slug.
    Unknown(String),
    /// The role is scoped to a resource type below `organization`.
    SubResourceScoped(String),
}

/// The first of `slugs` that cannot be an organization-level role of a membership of `org`
/// (environment roles, and `org`'s custom roles when given, scoped to `organization`), if any.
pub async fn first_unusable(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    org: Option<&OrganizationId>,
    slugs: &[String],
) -> ApiResult<Option<Unusable>> {
    let known: Vec<(String, String)> = sqlx::query_as(
        "select slug, resource_type_slug::text from roles
          where environment_id = $1 and slug = any($2)
            and (organization_id is null or organization_id = $3)",
    )
    .bind(env)
    .bind(slugs)
    .bind(org)
    .fetch_all(conn)
    .await?;
    for slug in slugs {
        match known.iter().find(|(s, _)| s == slug) {
            None => return Ok(Some(Unusable::Unknown(slug.clone()))),
            Some((_, ty)) if ty != ORGANIZATION => {
                return Ok(Some(Unusable::SubResourceScoped(slug.clone())));
            }
            Some(_) => {}
        }
    }
    Ok(None)
}

/// The permission slugs (sorted, distinct) the roles `slugs` hold as they apply to `org`
/// (environment roles and `org`'s custom roles).
pub async fn permission_slugs(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    org: &OrganizationId,
    slugs: &[String],
) -> ApiResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "select distinct p.slug::text from roles r
           join authorization_role_permissions rp on rp.role_id = r.id
           join authorization_permissions p on p.environment_id = rp.environment_id and p.id = rp.permission_id
          where r.environment_id = $1 and r.slug = any($3)
            and (r.organization_id is null or r.organization_id = $2)
          order by 1",
    )
    .bind(env)
    .bind(org)
    .bind(slugs)
    .fetch_all(conn)
    .await?)
}

/// Changes to a role: `None` leaves a field, `Some(None)` clears the description.
#[derive(Debug, Default)]
pub struct RoleChanges {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<Option<String>>,
}

/// Updates a role of `scope` and records its `*.updated` event. `None` for an unknown slug.
pub async fn update(
    tx: &mut Tx,
    env: &EnvironmentId,
    scope: Scope<'_>,
    slug: &str,
    changes: &RoleChanges,
) -> ApiResult<Option<Role>> {
    let id: Option<RoleId> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "update roles r set name = coalesce($4, r.name),
                description = case when $5 then $6 else r.description end
          where r.environment_id = $1 and r.slug = $2 and {}
          returning r.id",
        scope_clause(scope)
    )))
    .bind(env)
    .bind(slug)
    .bind(scope_org(scope))
    .bind(&changes.name)
    .bind(changes.description.is_some())
    .bind(changes.description.clone().flatten())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(id) = id else {
        return Ok(None);
    };
    let role = reload(tx, env, &id).await?;
    record(tx, env, Change::Updated, &role).await?;
    Ok(Some(role))
}

/// How [`change_permissions`] changes a role's permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionChange {
    /// Replace them with the given ones.
    Set,
    /// Add the given ones (present ones stay).
    Add,
    /// Remove the given ones.
    Remove,
}

/// Sets, adds or removes permissions of a role of `scope`, and records its `*.updated` event.
/// `None` for an unknown role.
///
/// Errors: 422 naming `field` for an unknown permission slug, or one whose resource type is
/// neither the role's nor below it (an `organization` role may hold any permission); for
/// [`PermissionChange::Remove`], 404 for an unknown permission.
pub async fn change_permissions(
    tx: &mut Tx,
    env: &EnvironmentId,
    scope: Scope<'_>,
    slug: &str,
    change: PermissionChange,
    permissions: &[String],
    field: &str,
) -> ApiResult<Option<Role>> {
    let locked: Option<(RoleId, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select r.id, r.resource_type_slug::text from roles r
          where r.environment_id = $1 and r.slug = $2 and {} for update",
        scope_clause(scope)
    )))
    .bind(env)
    .bind(slug)
    .bind(scope_org(scope))
    .fetch_optional(&mut **tx)
    .await?;
    let Some((id, role_type)) = locked else {
        return Ok(None);
    };
    let found: Vec<(String, String, String)> = sqlx::query_as(
        "select id, slug::text, resource_type_slug::text from authorization_permissions
          where environment_id = $1 and slug = any($2)",
    )
    .bind(env)
    .bind(permissions)
    .fetch_all(&mut **tx)
    .await?;
    if let Some(unknown) = permissions
        .iter()
        .find(|s| !found.iter().any(|(_, slug, _)| slug == *s))
    {
        return Err(if change == PermissionChange::Remove {
            ApiError::not_found("Permission", unknown.clone())
        } else {
            ApiError::invalid_field(
                field,
                "not_found",
                format!("Permission '{unknown}' does not exist."),
            )
        });
    }
    if change != PermissionChange::Remove && role_type != ORGANIZATION {
        let allowed = resource_types::with_descendants(tx, env, &role_type).await?;
        if let Some((_, bad, ty)) = found.iter().find(|(_, _, ty)| !allowed.contains(ty)) {
            return Err(ApiError::invalid_field(
                field,
                "invalid_resource_type",
                format!(
                    "Permission '{bad}' applies to resource type '{ty}', which is not '{role_type}' or below it."
                ),
            ));
        }
    }
    let ids: Vec<&str> = found.iter().map(|(id, _, _)| id.as_str()).collect();
    if change == PermissionChange::Set {
        sqlx::query("delete from authorization_role_permissions where role_id = $1")
            .bind(&id)
            .execute(&mut **tx)
            .await?;
    }
    if change == PermissionChange::Remove {
        sqlx::query(
            "delete from authorization_role_permissions where role_id = $1 and permission_id = any($2)",
        )
        .bind(&id)
        .bind(&ids)
        .execute(&mut **tx)
        .await?;
    } else {
        sqlx::query(
            "insert into authorization_role_permissions (environment_id, role_id, permission_id)
             select $1, $2, p from unnest($3::text[]) as p on conflict do nothing",
        )
        .bind(env)
        .bind(&id)
        .bind(&ids)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("update roles set updated_at = now() where id = $1")
        .bind(&id)
        .execute(&mut **tx)
        .await?;
    let role = reload(tx, env, &id).await?;
    record(tx, env, Change::Updated, &role).await?;
    Ok(Some(role))
}

/// Deletes a custom role of `org` and records `organization_role.deleted`. `None` for an
/// unknown slug.
///
/// Errors: 409 `role_has_assignments` while a membership of the organization holds it or a
/// role assignment names it.
pub async fn delete(
    tx: &mut Tx,
    env: &EnvironmentId,
    org: &OrganizationId,
    slug: &str,
) -> ApiResult<Option<Role>> {
    let Some(role) = find_in(tx, env, Scope::Organization(org), slug).await? else {
        return Ok(None);
    };
    let in_use = || ApiError::Conflict {
        code: Some("role_has_assignments"),
        message: format!("Role '{slug}' is assigned and cannot be deleted."),
    };
    let held: bool = sqlx::query_scalar(
        "select exists (select 1 from organization_memberships
          where environment_id = $1 and organization_id = $2
            and $3 = any(coalesce(role_slugs, array[role_slug])))",
    )
    .bind(env)
    .bind(org)
    .bind(slug)
    .fetch_one(&mut **tx)
    .await?;
    if held {
        return Err(in_use());
    }
    sqlx::query("delete from roles where id = $1")
        .bind(&role.id)
        .execute(&mut **tx)
        .await
        .on_constraint("authorization_role_assignments_role_id_fkey", in_use)?;
    record(tx, env, Change::Deleted, &role).await?;
    Ok(Some(role))
}
