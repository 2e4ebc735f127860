//! Authorization resources (spec tag `authorization`, schema `AuthorizationResource`): a tree per
//! organization, addressed by id or by `(organization, resource type, external_id)`. A
//! resource's type decides which parents it may have (its type's parent types; `organization`
//! means top level). Deleting a resource deletes its subtree and their role assignments.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};

use super::page::{ListParams, push_id_filter};
use crate::db::Tx;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::{AuthorizationResourceId, EnvironmentId, IdFilter, OrganizationId};
use crate::store::resource_types::{self, ORGANIZATION};

/// A resource as the API returns it (`AuthorizationResource`).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Resource {
    /// Always `"authorization_resource"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// Display name.
    pub name: String,
    /// Description, or `null`.
    pub description: Option<String>,
    /// The owning organization.
    pub organization_id: OrganizationId,
    /// The parent, or `null` at the top of the organization.
    pub parent_resource_id: Option<AuthorizationResourceId>,
    /// `authz_resource_…`
    pub id: AuthorizationResourceId,
    /// The caller's key, unique per organization and type.
    pub external_id: String,
    /// The resource's type.
    pub resource_type_slug: String,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// Columns of [`Resource`], for queries aliasing the table `r`.
pub const COLUMNS: &str = "r.name, r.description, r.organization_id, r.parent_resource_id, r.id,
    r.external_id, r.resource_type_slug::text as resource_type_slug, r.created_at, r.updated_at";

/// Sets `object` on a row read with [`COLUMNS`].
pub fn tag(mut r: Resource) -> Resource {
    r.object = "authorization_resource";
    r
}

/// How a request names a resource.
#[derive(Debug, Clone)]
pub enum ResourceRef {
    /// By id.
    Id(AuthorizationResourceId),
    /// By the id a client sent that is no resource id (names nothing).
    Malformed(String),
    /// By type and external id (in an organization the context gives).
    External {
        /// The resource type.
        resource_type_slug: String,
        /// The external id.
        external_id: String,
    },
}

/// Resolves `r` within the environment (and, for external ids, `org`). `None` when nothing
/// matches.
pub async fn resolve(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    org: &OrganizationId,
    r: &ResourceRef,
) -> ApiResult<Option<Resource>> {
    match r {
        ResourceRef::Id(id) => find(conn, env, id).await,
        ResourceRef::Malformed(_) => Ok(None),
        ResourceRef::External {
            resource_type_slug,
            external_id,
        } => find_by_external_id(conn, env, org, resource_type_slug, external_id).await,
    }
}

/// The 404 for a [`ResourceRef`] that names nothing.
pub fn not_found(r: &ResourceRef) -> ApiError {
    match r {
        ResourceRef::Id(id) => ApiError::not_found_id::<AuthorizationResourceId>(id.as_str()),
        ResourceRef::Malformed(raw) => ApiError::not_found_id::<AuthorizationResourceId>(raw),
        ResourceRef::External {
            resource_type_slug,
            external_id,
        } => ApiError::not_found(
            "Authorization resource",
            format!("{resource_type_slug}/{external_id}"),
        ),
    }
}

/// One resource by id.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &AuthorizationResourceId,
) -> ApiResult<Option<Resource>> {
    let row: Option<Resource> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from authorization_resources r where r.environment_id = $1 and r.id = $2"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(tag))
}

/// One resource by organization, type and external id.
pub async fn find_by_external_id(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    org: &OrganizationId,
    resource_type_slug: &str,
    external_id: &str,
) -> ApiResult<Option<Resource>> {
    let row: Option<Resource> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from authorization_resources r
          where r.environment_id = $1 and r.organization_id = $2
            and r.resource_type_slug = $3 and r.external_id = $4"
    )))
    .bind(env)
    .bind(org)
    .bind(resource_type_slug)
    .bind(external_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(tag))
}

/// The parent a create or update names: none (top level) or a resource.
#[derive(Debug, Clone)]
pub enum ParentRef {
    /// Top level of the organization.
    Root,
    /// Under this resource.
    Resource(ResourceRef),
}

/// Resolves a parent for a resource of `resource_type_slug` in `org` and checks that the type
/// allows it. Returns the parent's id.
///
/// Errors: 404 for a parent that does not exist; 422 for a parent in another organization or of
/// a type the resource's type does not allow.
async fn check_parent(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    org: &OrganizationId,
    resource_type_slug: &str,
    parent: &ParentRef,
) -> ApiResult<Option<AuthorizationResourceId>> {
    let ty = resource_types::find(conn, env, resource_type_slug)
        .await?
        .filter(|t| t.slug != ORGANIZATION)
        .ok_or_else(|| {
            ApiError::invalid_field(
                "resource_type_slug",
                "not_found",
                format!("Resource type '{resource_type_slug}' does not exist."),
            )
        })?;
    let (parent_id, parent_type) = match parent {
        ParentRef::Root => (None, ORGANIZATION.to_string()),
        ParentRef::Resource(r) => {
            let found = match r {
                ResourceRef::Id(id) => find(conn, env, id).await?,
                ResourceRef::Malformed(_) => None,
                ResourceRef::External {
                    resource_type_slug,
                    external_id,
                } => find_by_external_id(conn, env, org, resource_type_slug, external_id).await?,
            };
            let p = found.ok_or_else(|| not_found(r))?;
            if p.organization_id != *org {
                return Err(ApiError::invalid_field(
                    "parent_resource_id",
                    "invalid",
                    "The parent resource belongs to another organization.",
                ));
            }
            (Some(p.id), p.resource_type_slug)
        }
    };
    if !ty.parent_resource_type_slugs.contains(&parent_type) {
        let allowed = ty.parent_resource_type_slugs.join(", ");
        return Err(ApiError::invalid_field(
            if parent_id.is_some() {
                "parent_resource_id"
            } else {
                "parent_resource_type_slug"
            },
            "invalid_parent",
            format!(
                "A '{}' resource must be nested under one of: {allowed}; '{parent_type}' is not allowed.",
                ty.slug
            ),
        ));
    }
    Ok(parent_id)
}

/// Input of [`insert`] (lengths already validated).
#[derive(Debug)]
pub struct NewResource {
    /// The owning organization.
    pub organization_id: OrganizationId,
    /// The type.
    pub resource_type_slug: String,
    /// The caller's key.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Where it goes.
    pub parent: ParentRef,
}

fn conflict(external_id: &str) -> ApiError {
    ApiError::Conflict {
        code: Some("authorization_resource_external_id_conflict"),
        message: format!(
            "A resource of this type with external_id '{external_id}' already exists in the organization."
        ),
    }
}

/// Creates a resource.
///
/// Errors: 404 for an unknown organization or parent; 422 for an unknown type or a parent it
/// does not allow; 409 `authorization_resource_external_id_conflict`.
pub async fn insert(tx: &mut Tx, env: &EnvironmentId, new: &NewResource) -> ApiResult<Resource> {
    let org_known: bool = sqlx::query_scalar(
        "select exists (select 1 from organizations where environment_id = $1 and id = $2)",
    )
    .bind(env)
    .bind(&new.organization_id)
    .fetch_one(&mut **tx)
    .await?;
    if !org_known {
        return Err(ApiError::not_found_id::<OrganizationId>(
            new.organization_id.as_str(),
        ));
    }
    let parent = check_parent(
        tx,
        env,
        &new.organization_id,
        &new.resource_type_slug,
        &new.parent,
    )
    .await?;
    let row: Resource = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into authorization_resources as r
             (environment_id, id, organization_id, resource_type_slug, external_id, name, description,
              parent_resource_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning {COLUMNS}"
    )))
    .bind(env)
    .bind(AuthorizationResourceId::new())
    .bind(&new.organization_id)
    .bind(&new.resource_type_slug)
    .bind(&new.external_id)
    .bind(&new.name)
    .bind(&new.description)
    .bind(parent)
    .fetch_one(&mut **tx)
    .await
    .on_constraint("authorization_resources_external_id_key", || {
        conflict(&new.external_id)
    })?;
    Ok(tag(row))
}

/// Filters of `GET /authorization/resources`.
#[derive(Debug, Default)]
pub struct ResourceFilter {
    /// Resources of this organization.
    pub organization_id: Option<IdFilter<OrganizationId>>,
    /// Resources of this type.
    pub resource_type_slug: Option<String>,
    /// Resources with this external id.
    pub external_id: Option<String>,
    /// Children of this resource.
    pub parent_resource_id: Option<IdFilter<AuthorizationResourceId>>,
    /// Children of the resource with this type and external id.
    pub parent_external: Option<(String, String)>,
    /// Name contains this (case-insensitive).
    pub search: Option<String>,
}

/// One page (`limit + 1` rows) of resources.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    filter: &ResourceFilter,
    params: &ListParams,
) -> ApiResult<Vec<Resource>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {COLUMNS} from authorization_resources r where r.environment_id = "
    ));
    qb.push_bind(env.to_string());
    push_id_filter(
        &mut qb,
        "r.organization_id",
        filter.organization_id.as_ref(),
    );
    push_id_filter(
        &mut qb,
        "r.parent_resource_id",
        filter.parent_resource_id.as_ref(),
    );
    if let Some(ty) = &filter.resource_type_slug {
        qb.push(" and r.resource_type_slug = ")
            .push_bind(ty.clone());
    }
    if let Some(ext) = &filter.external_id {
        qb.push(" and r.external_id = ").push_bind(ext.clone());
    }
    if let Some((ty, ext)) = &filter.parent_external {
        qb.push(
            " and r.parent_resource_id in (select p.id from authorization_resources p
                where p.environment_id = r.environment_id and p.organization_id = r.organization_id
                  and p.resource_type_slug = ",
        )
        .push_bind(ty.clone())
        .push(" and p.external_id = ")
        .push_bind(ext.clone())
        .push(")");
    }
    if let Some(search) = &filter.search {
        let pattern = format!(
            "%{}%",
            search
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        qb.push(" and r.name ilike ").push_bind(pattern);
    }
    params.push_keyset(&mut qb, "r.id");
    let rows: Vec<Resource> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(tag).collect())
}

/// Changes to a resource: `None` leaves a field.
#[derive(Debug, Default)]
pub struct ResourceChanges {
    /// New name.
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New parent.
    pub parent: Option<ParentRef>,
}

/// Updates a resource (locked first). `None` when `id` names nothing.
///
/// Errors: as [`insert`] for a new parent.
pub async fn update(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &AuthorizationResourceId,
    changes: &ResourceChanges,
) -> ApiResult<Option<Resource>> {
    let current: Option<Resource> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from authorization_resources r
          where r.environment_id = $1 and r.id = $2 for update"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(current) = current else {
        return Ok(None);
    };
    let parent = match &changes.parent {
        None => current.parent_resource_id.clone(),
        Some(p) => {
            check_parent(
                tx,
                env,
                &current.organization_id,
                &current.resource_type_slug,
                p,
            )
            .await?
        }
    };
    let row: Resource = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update authorization_resources r
            set name = coalesce($3, r.name),
                description = case when $4 then $5 else r.description end,
                parent_resource_id = $6
          where r.environment_id = $1 and r.id = $2
          returning {COLUMNS}"
    )))
    .bind(env)
    .bind(id)
    .bind(&changes.name)
    .bind(changes.description.is_some())
    .bind(changes.description.clone().flatten())
    .bind(parent)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Some(tag(row)))
}

/// Deletes a resource. With `cascade`, its subtree and every role assignment on them go too;
/// without, a resource with children or assignments is refused. `false` when `id` names
/// nothing.
///
/// Errors: 409 `resource_has_dependents`.
pub async fn delete(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &AuthorizationResourceId,
    cascade: bool,
) -> ApiResult<bool> {
    // Locked first: a child inserted meanwhile waits on this row, so it is seen or refused.
    let exists: Option<i32> = sqlx::query_scalar(
        "select 1 from authorization_resources where environment_id = $1 and id = $2 for update",
    )
    .bind(env)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    if exists.is_none() {
        return Ok(false);
    }
    if !cascade {
        let dependents: bool = sqlx::query_scalar(
            "select exists (select 1 from authorization_resources
                             where environment_id = $1 and parent_resource_id = $2)
                 or exists (select 1 from authorization_role_assignments
                             where environment_id = $1 and resource_id = $2)",
        )
        .bind(env)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        if dependents {
            return Err(ApiError::Conflict {
                code: Some("resource_has_dependents"),
                message: "The resource has child resources or role assignments; pass cascade_delete=true to delete them too.".into(),
            });
        }
    }
    let done =
        sqlx::query("delete from authorization_resources where environment_id = $1 and id = $2")
            .bind(env)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    Ok(done.rows_affected() > 0)
}
