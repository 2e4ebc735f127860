//! Authorization resource types (a Keystead extension: WorkOS configures them in its dashboard):
//! slug, name, description and allowed parent types, a DAG rooted at `organization`, which every
//! environment has (migration 1100). A type's depth is 1 + the deepest of its parents; types are
//! immutable once created, and their parents must exist first, so the DAG has no cycle.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};

use crate::db::Tx;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::EnvironmentId;

/// The implicit root type.
pub const ORGANIZATION: &str = "organization";

/// A resource type as the API returns it (`authorization_resource_type`).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ResourceType {
    /// Always `"authorization_resource_type"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// Unique key in the environment.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Description, or `null`.
    pub description: Option<String>,
    /// The types a resource of this type may be nested under (`organization`: top level).
    pub parent_resource_type_slugs: Vec<String>,
    /// Distance from `organization` (0 for `organization` itself).
    #[serde(skip)]
    pub depth: i32,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "t.slug, t.name, t.description, t.depth, t.created_at, t.updated_at,
    array(select p.parent_slug::text from authorization_resource_type_parents p
          where p.environment_id = t.environment_id and p.slug = t.slug order by p.position)
      as parent_resource_type_slugs";

fn tag(mut t: ResourceType) -> ResourceType {
    t.object = "authorization_resource_type";
    t
}

/// Input of [`insert`], already validated (slug format, name, description).
#[derive(Debug)]
pub struct NewResourceType {
    /// Slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Parent type slugs, non-empty, without duplicates.
    pub parents: Vec<String>,
}

/// Creates a type under existing parents.
///
/// Errors: 409 `resource_type_slug_conflict`; 422 for an unknown parent, a type naming itself
/// as its parent, or a depth past `max_depth`.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    new: &NewResourceType,
    max_depth: i32,
) -> ApiResult<ResourceType> {
    if new.parents.contains(&new.slug) {
        return Err(ApiError::invalid_field(
            "parent_resource_type_slugs",
            "cycle",
            format!("Resource type '{}' cannot be its own parent.", new.slug),
        ));
    }
    let known: Vec<(String, i32)> = sqlx::query_as(
        "select slug::text, depth from authorization_resource_types
         where environment_id = $1 and slug = any($2) for share",
    )
    .bind(env)
    .bind(&new.parents)
    .fetch_all(&mut **tx)
    .await?;
    if let Some(unknown) = new
        .parents
        .iter()
        .find(|p| !known.iter().any(|(s, _)| s == *p))
    {
        return Err(ApiError::invalid_field(
            "parent_resource_type_slugs",
            "not_found",
            format!("Resource type '{unknown}' does not exist."),
        ));
    }
    let depth = known.iter().map(|(_, d)| *d).max().unwrap_or(0) + 1;
    if depth > max_depth {
        return Err(ApiError::invalid_field(
            "parent_resource_type_slugs",
            "too_deep",
            format!("Resource types may be nested at most {max_depth} levels below organization."),
        ));
    }
    sqlx::query(
        "insert into authorization_resource_types (environment_id, slug, name, description, depth)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(env)
    .bind(&new.slug)
    .bind(&new.name)
    .bind(&new.description)
    .bind(depth)
    .execute(&mut **tx)
    .await
    .on_constraint("authorization_resource_types_pkey", || ApiError::Conflict {
        code: Some("resource_type_slug_conflict"),
        message: format!("A resource type with slug '{}' already exists.", new.slug),
    })?;
    sqlx::query(
        "insert into authorization_resource_type_parents (environment_id, slug, parent_slug, position)
         select $1, $2, p, n::int from unnest($3::text[]) with ordinality as u(p, n)",
    )
    .bind(env)
    .bind(&new.slug)
    .bind(&new.parents)
    .execute(&mut **tx)
    .await?;
    find(tx, env, &new.slug)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("inserted resource type vanished")))
}

/// One type by slug.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    slug: &str,
) -> ApiResult<Option<ResourceType>> {
    let row: Option<ResourceType> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from authorization_resource_types t
         where t.environment_id = $1 and t.slug = $2"
    )))
    .bind(env)
    .bind(slug)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(tag))
}

/// Every type of the environment, oldest first (`organization` first).
pub async fn list(conn: &mut PgConnection, env: &EnvironmentId) -> ApiResult<Vec<ResourceType>> {
    let rows: Vec<ResourceType> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from authorization_resource_types t
         where t.environment_id = $1 order by t.depth = 0 desc, t.created_at, t.slug"
    )))
    .bind(env)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(tag).collect())
}

/// `slug` and every type below it (its descendants in the DAG).
pub async fn with_descendants(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    slug: &str,
) -> ApiResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        r#"with recursive below(slug) as (
             select $2::text collate "C"
             union
             select p.slug from authorization_resource_type_parents p
             join below b on p.parent_slug = b.slug
             where p.environment_id = $1
         )
         select slug::text from below"#,
    )
    .bind(env)
    .bind(slug)
    .fetch_all(conn)
    .await?)
}

/// Deletes a type. `Ok(false)` for an unknown slug.
///
/// Errors: 422 for `organization`; 409 `resource_type_in_use` while a type, resource,
/// permission or role refers to it.
pub async fn delete(tx: &mut Tx, env: &EnvironmentId, slug: &str) -> ApiResult<bool> {
    if slug == ORGANIZATION {
        return Err(ApiError::Unprocessable {
            code: "invalid_request_parameters",
            message: "The organization resource type cannot be deleted.".into(),
            errors: Vec::new(),
        });
    }
    let in_use = || ApiError::Conflict {
        code: Some("resource_type_in_use"),
        message: format!(
            "Resource type '{slug}' is in use by resources, permissions, roles or other types."
        ),
    };
    let deleted = sqlx::query(
        "delete from authorization_resource_types where environment_id = $1 and slug = $2",
    )
    .bind(env)
    .bind(slug)
    .execute(&mut **tx)
    .await
    .on_constraint("authorization_resource_type_parents_parent_fkey", in_use)
    .on_constraint("authorization_resources_type_fkey", in_use)
    .on_constraint("authorization_permissions_type_fkey", in_use)
    .on_constraint("roles_resource_type_fkey", in_use)?;
    Ok(deleted.rows_affected() > 0)
}
