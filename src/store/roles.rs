//! Environment roles (spec tag `authorization`, schema `Role` with `type: EnvironmentRole`): the
//! catalogue organization-membership and invitation role slugs must come from. Every environment
//! starts with `member` (the default role) and `admin` (migration 0100); custom slugs are added
//! with `POST /authorization/roles`. Permissions are not modelled yet (always `[]`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};

use crate::db::Tx;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::{EnvironmentId, RoleId};
use crate::store::events::{self, names};

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
    /// Unique (per environment) slug, e.g. `admin`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Description, or `null`.
    pub description: Option<String>,
    /// Always `"EnvironmentRole"`.
    #[serde(rename = "type")]
    #[sqlx(skip)]
    pub kind: &'static str,
    /// The resource type the role applies to (`organization`).
    pub resource_type_slug: String,
    /// Permission slugs (none yet).
    #[sqlx(skip)]
    pub permissions: Vec<String>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
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

const COLUMNS: &str = "id, slug, name, description, resource_type_slug, created_at, updated_at";

fn tag(mut r: Role) -> Role {
    r.object = "role";
    r.kind = "EnvironmentRole";
    r
}

/// Input of [`insert`], already validated.
#[derive(Debug)]
pub struct NewRole {
    /// Slug (lowercase letters, digits, `-`, `_`).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Resource type (`organization` when not given).
    pub resource_type_slug: String,
}

/// Creates a custom role and records `role.created`. Errors: 409 `role_slug_conflict`.
pub async fn insert(tx: &mut Tx, env: &EnvironmentId, new: NewRole) -> ApiResult<Role> {
    let role: Role = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into roles (id, environment_id, slug, name, description, resource_type_slug)
         values ($1, $2, $3, $4, $5, $6) returning {COLUMNS}"
    )))
    .bind(RoleId::new())
    .bind(env)
    .bind(&new.slug)
    .bind(&new.name)
    .bind(&new.description)
    .bind(&new.resource_type_slug)
    .fetch_one(&mut **tx)
    .await
    .on_constraint("roles_slug_key", || ApiError::Conflict {
        code: Some("role_slug_conflict"),
        message: format!("A role with slug '{}' already exists.", new.slug),
    })?;
    let role = tag(role);
    let event = RoleEvent {
        object: "role",
        slug: &role.slug,
        resource_type_slug: &role.resource_type_slug,
        permissions: &role.permissions,
        created_at: role.created_at,
        updated_at: role.updated_at,
    };
    events::record(tx, env, names::ROLE_CREATED, &event, None).await?;
    Ok(role)
}

/// One role by slug.
pub async fn find_by_slug(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    slug: &str,
) -> ApiResult<Option<Role>> {
    let row: Option<Role> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from roles where environment_id = $1 and slug = $2"
    )))
    .bind(env)
    .bind(slug)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(tag))
}

/// Every role of the environment, oldest first (`RoleList` is not paginated).
pub async fn list(conn: &mut PgConnection, env: &EnvironmentId) -> ApiResult<Vec<Role>> {
    let rows: Vec<Role> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from roles where environment_id = $1 order by created_at, id"
    )))
    .bind(env)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(tag).collect())
}

/// The first of `slugs` that is not a role of the environment, if any.
pub async fn first_unknown(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    slugs: &[String],
) -> ApiResult<Option<String>> {
    let known: Vec<String> =
        sqlx::query_scalar("select slug from roles where environment_id = $1 and slug = any($2)")
            .bind(env)
            .bind(slugs)
            .fetch_all(conn)
            .await?;
    Ok(slugs.iter().find(|s| !known.contains(s)).cloned())
}
