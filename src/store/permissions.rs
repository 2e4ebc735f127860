//! Authorization permissions (spec tag `permissions`, schema `AuthorizationPermission`),
//! addressed by slug, and their `permission.created/updated/deleted` events (the payload has no
//! `resource_type_slug`, as the spec's event schema has it).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};

use super::page::ListParams;
use crate::db::Tx;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::{EnvironmentId, PermissionId};
use crate::store::events::{self, EventName, names};

/// A permission as the API returns it (`AuthorizationPermission`).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Permission {
    /// Always `"permission"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// `perm_…`
    pub id: PermissionId,
    /// Unique key, e.g. `documents:read`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Description, or `null`.
    pub description: Option<String>,
    /// Always `false`: Keystead has no system permissions.
    pub system: bool,
    /// The resource type the permission applies to.
    pub resource_type_slug: String,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// The `permission.*` payload: the permission without `resource_type_slug`.
#[derive(Debug, Serialize)]
struct PermissionEvent<'a> {
    object: &'static str,
    id: &'a PermissionId,
    slug: &'a str,
    name: &'a str,
    description: Option<&'a str>,
    system: bool,
    #[serde(with = "crate::timestamp")]
    created_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp")]
    updated_at: DateTime<Utc>,
}

async fn record(
    tx: &mut Tx,
    env: &EnvironmentId,
    name: EventName,
    p: &Permission,
) -> ApiResult<()> {
    let event = PermissionEvent {
        object: "permission",
        id: &p.id,
        slug: &p.slug,
        name: &p.name,
        description: p.description.as_deref(),
        system: p.system,
        created_at: p.created_at,
        updated_at: p.updated_at,
    };
    events::record(tx, env, name, &event, None).await
}

/// Columns of [`Permission`], for queries aliasing the table `p`.
pub const COLUMNS: &str = "p.id, p.slug, p.name, p.description, p.system, p.resource_type_slug, p.created_at, p.updated_at";

/// Sets `object` on a row read with [`COLUMNS`].
pub fn tag(mut p: Permission) -> Permission {
    p.object = "permission";
    p
}

/// Input of [`insert`], already validated.
#[derive(Debug)]
pub struct NewPermission {
    /// Slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Resource type (`organization` when not given).
    pub resource_type_slug: String,
}

/// Creates a permission and records `permission.created`.
///
/// Errors: 409 `permission_slug_conflict`; 422 for an unknown resource type.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    new: &NewPermission,
) -> ApiResult<Permission> {
    let row: Permission = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into authorization_permissions as p
             (environment_id, id, slug, name, description, resource_type_slug)
         values ($1, $2, $3, $4, $5, $6) returning {COLUMNS}"
    )))
    .bind(env)
    .bind(PermissionId::new())
    .bind(&new.slug)
    .bind(&new.name)
    .bind(&new.description)
    .bind(&new.resource_type_slug)
    .fetch_one(&mut **tx)
    .await
    .on_constraint("authorization_permissions_slug_key", || {
        ApiError::Conflict {
            code: Some("permission_slug_conflict"),
            message: format!("A permission with slug '{}' already exists.", new.slug),
        }
    })
    .on_constraint("authorization_permissions_type_fkey", || {
        ApiError::invalid_field(
            "resource_type_slug",
            "not_found",
            format!("Resource type '{}' does not exist.", new.resource_type_slug),
        )
    })?;
    let p = tag(row);
    record(tx, env, names::PERMISSION_CREATED, &p).await?;
    Ok(p)
}

/// One permission by slug.
pub async fn find_by_slug(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    slug: &str,
) -> ApiResult<Option<Permission>> {
    let row: Option<Permission> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from authorization_permissions p where p.environment_id = $1 and p.slug = $2"
    )))
    .bind(env)
    .bind(slug)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(tag))
}

/// Every permission among `slugs` (in no particular order).
pub async fn find_many(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    slugs: &[String],
) -> ApiResult<Vec<Permission>> {
    let rows: Vec<Permission> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from authorization_permissions p
         where p.environment_id = $1 and p.slug = any($2)"
    )))
    .bind(env)
    .bind(slugs)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(tag).collect())
}

/// One page (`limit + 1` rows) of the environment's permissions.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    params: &ListParams,
) -> ApiResult<Vec<Permission>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {COLUMNS} from authorization_permissions p where p.environment_id = "
    ));
    qb.push_bind(env.to_string());
    params.push_keyset(&mut qb, "p.id");
    let rows: Vec<Permission> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(tag).collect())
}

/// Changes to a permission: `None` leaves a field, `Some(None)` clears the description.
#[derive(Debug, Default)]
pub struct PermissionChanges {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<Option<String>>,
}

/// Updates a permission and records `permission.updated`. `None` for an unknown slug.
pub async fn update(
    tx: &mut Tx,
    env: &EnvironmentId,
    slug: &str,
    changes: &PermissionChanges,
) -> ApiResult<Option<Permission>> {
    let row: Option<Permission> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update authorization_permissions p
            set name = coalesce($3, p.name),
                description = case when $4 then $5 else p.description end
          where p.environment_id = $1 and p.slug = $2
          returning {COLUMNS}"
    )))
    .bind(env)
    .bind(slug)
    .bind(&changes.name)
    .bind(changes.description.is_some())
    .bind(changes.description.clone().flatten())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(p) = row.map(tag) else {
        return Ok(None);
    };
    record(tx, env, names::PERMISSION_UPDATED, &p).await?;
    Ok(Some(p))
}

/// Deletes a permission (roles lose it) and records `permission.deleted`. `None` for an unknown
/// slug.
pub async fn delete(tx: &mut Tx, env: &EnvironmentId, slug: &str) -> ApiResult<Option<Permission>> {
    let row: Option<Permission> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "delete from authorization_permissions p where p.environment_id = $1 and p.slug = $2
         returning {COLUMNS}"
    )))
    .bind(env)
    .bind(slug)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(p) = row.map(tag) else {
        return Ok(None);
    };
    record(tx, env, names::PERMISSION_DELETED, &p).await?;
    Ok(Some(p))
}
