//! Directories (spec tag `directories`; schema `Directory`) and their `dsync.activated` /
//! `dsync.deleted` events, plus the SCIM bearer token each directory is provisioned with.
//!
//! Keystead's directories are SCIM directories: the IdP pushes users and groups to
//! `<public-url>/scim/v2/{directory_id}` with the directory's bearer token, which is stored as a
//! SHA-256 digest only.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AssertSqlSafe, FromRow, PgConnection, Postgres, QueryBuilder};

use super::organization_domains;
use super::page::{ListParams, push_id_filter};
use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::ids::{DirectoryId, EnvironmentId, IdFilter, OrganizationId};
use crate::store::events::{self, EventName, names};

/// The directory `type` values Keystead can provision (the SCIM ones of the spec's enum).
pub const SCIM_TYPES: &[&str] = &[
    "azure scim v2.0",
    "cyberark scim v2.0",
    "generic scim v2.0",
    "jump cloud scim v2.0",
    "okta scim v2.0",
    "onelogin scim v2.0",
    "pingfederate scim v2.0",
    "rippling scim v2.0",
    "sailpoint scim v2.0",
];

/// User and group counts of a directory (`Directory.metadata`).
#[derive(Debug, Clone, Serialize)]
pub struct DirectoryMetadata {
    /// Active and inactive user counts.
    pub users: UserCounts,
    /// Number of groups.
    pub groups: i64,
}

/// `metadata.users`.
#[derive(Debug, Clone, Serialize)]
pub struct UserCounts {
    /// Users whose state is `active`.
    pub active: i64,
    /// Users whose state is `inactive`.
    pub inactive: i64,
}

/// A directory as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct Directory {
    /// Always `"directory"`.
    pub object: &'static str,
    /// `directory_…`
    pub id: DirectoryId,
    /// The owning organization.
    pub organization_id: OrganizationId,
    /// An opaque key identifying the directory to the provider.
    pub external_key: String,
    /// Provider type, e.g. `okta scim v2.0`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `linked`, `unlinked`, …
    pub state: String,
    /// Display name.
    pub name: String,
    /// The directory's primary domain, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// User and group counts.
    pub metadata: DirectoryMetadata,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, FromRow)]
struct Row {
    id: DirectoryId,
    organization_id: OrganizationId,
    external_key: String,
    #[sqlx(rename = "type")]
    kind: String,
    state: String,
    name: String,
    domain: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    active_users: i64,
    inactive_users: i64,
    groups: i64,
}

const COLUMNS: &str = "d.id, d.organization_id, d.external_key, d.type, d.state, d.name, d.domain, \
    d.created_at, d.updated_at, \
    (select count(*) from directory_users u where u.directory_id = d.id and u.active) as active_users, \
    (select count(*) from directory_users u where u.directory_id = d.id and not u.active) as inactive_users, \
    (select count(*) from directory_groups g where g.directory_id = d.id) as groups";

impl From<Row> for Directory {
    fn from(r: Row) -> Self {
        Self {
            object: "directory",
            id: r.id,
            organization_id: r.organization_id,
            external_key: r.external_key,
            kind: r.kind,
            state: r.state,
            name: r.name,
            domain: r.domain,
            metadata: DirectoryMetadata {
                users: UserCounts {
                    active: r.active_users,
                    inactive: r.inactive_users,
                },
                groups: r.groups,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// `dsync.*` event state vocabulary: `linked` → `active`, `unlinked` → `inactive`
/// (WORKOS-API-NOTES §6.1).
fn event_state(state: &str) -> &str {
    match state {
        "linked" => "active",
        "unlinked" => "inactive",
        other => other,
    }
}

/// Records `dsync.activated` (with the organization's domains) or `dsync.deleted`.
async fn record(tx: &mut Tx, env: &EnvironmentId, name: EventName, d: &Directory) -> ApiResult<()> {
    let mut data = serde_json::json!({
        "object": "directory",
        "id": d.id,
        "organization_id": d.organization_id,
        "type": d.kind,
        "state": event_state(&d.state),
        "name": d.name,
        "created_at": crate::timestamp::format(&d.created_at),
        "updated_at": crate::timestamp::format(&d.updated_at),
    });
    if name == names::DSYNC_ACTIVATED {
        let organization = [d.organization_id.clone()];
        let domains: Vec<_> = organization_domains::list_for(&mut *tx, env, &organization)
        .await?
        .into_iter()
        .map(|x| serde_json::json!({"object": "organization_domain", "id": x.id, "domain": x.domain}))
        .collect();
        data["external_key"] = d.external_key.clone().into();
        data["domains"] = domains.into();
    }
    events::record(tx, env, name, &data, Some(&d.organization_id)).await
}

/// Input of [`insert`], already validated.
#[derive(Debug)]
pub struct NewDirectory {
    /// The owning organization (must exist).
    pub organization_id: OrganizationId,
    /// Display name.
    pub name: String,
    /// One of [`SCIM_TYPES`].
    pub kind: String,
    /// Optional primary domain.
    pub domain: Option<String>,
}

/// Creates a linked directory whose SCIM token has digest `token_hash`; records
/// `dsync.activated`.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    new: &NewDirectory,
    token_hash: &str,
) -> ApiResult<Directory> {
    let id = DirectoryId::new();
    let row: Row = sqlx::query_as(AssertSqlSafe(format!(
        "with d as (
           insert into directories (id, environment_id, organization_id, name, type, external_key, domain, scim_token_hash)
           values ($1, $2, $3, $4, $5, $6, $7, $8) returning *)
         select {COLUMNS} from d"
    )))
    .bind(&id)
    .bind(env)
    .bind(&new.organization_id)
    .bind(&new.name)
    .bind(&new.kind)
    .bind(crate::crypto::random_alphanumeric(16))
    .bind(&new.domain)
    .bind(token_hash)
    .fetch_one(&mut **tx)
    .await?;
    let d = Directory::from(row);
    record(tx, env, names::DSYNC_ACTIVATED, &d).await?;
    Ok(d)
}

/// One directory by id.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &DirectoryId,
) -> ApiResult<Option<Directory>> {
    let row: Option<Row> = sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from directories d where d.environment_id = $1 and d.id = $2"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Directory::from))
}

/// Filters of `GET /directories`.
#[derive(Debug, Default)]
pub struct DirectoryFilter {
    /// Only this organization's directories.
    pub organization_id: Option<IdFilter<OrganizationId>>,
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
    /// Exact domain (deprecated in the spec, still honoured).
    pub domain: Option<String>,
}

/// One page of directories; `limit + 1` rows for the envelope.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    filter: &DirectoryFilter,
    params: &ListParams,
) -> ApiResult<Vec<Directory>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {COLUMNS} from directories d where d.environment_id = "
    ));
    qb.push_bind(env.to_string());
    push_id_filter(
        &mut qb,
        "d.organization_id",
        filter.organization_id.as_ref(),
    );
    if let Some(search) = &filter.search {
        let pattern = format!(
            "%{}%",
            search
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        qb.push(" and d.name ilike ").push_bind(pattern);
    }
    if let Some(domain) = &filter.domain {
        qb.push(" and lower(d.domain) = lower(")
            .push_bind(domain.clone())
            .push(")");
    }
    params.push_keyset(&mut qb, "d.id");
    let rows: Vec<Row> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(Directory::from).collect())
}

/// Deletes a directory with its users and groups; records `dsync.deleted`. 404 when absent.
pub async fn delete(tx: &mut Tx, env: &EnvironmentId, id: &DirectoryId) -> ApiResult<Directory> {
    let mut d = find(&mut *tx, env, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Directory", id.as_str()))?;
    sqlx::query("delete from directories where environment_id = $1 and id = $2")
        .bind(env)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    d.state = "deleting".into();
    record(tx, env, names::DSYNC_DELETED, &d).await?;
    Ok(d)
}

/// Replaces the SCIM token digest; the old token stops working at commit. 404 when absent.
pub async fn rotate_token(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &DirectoryId,
    token_hash: &str,
) -> ApiResult<()> {
    let done = sqlx::query(
        "update directories set scim_token_hash = $3 where environment_id = $1 and id = $2",
    )
    .bind(env)
    .bind(id)
    .bind(token_hash)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("Directory", id.as_str()));
    }
    Ok(())
}

/// The directory a SCIM request acts on, resolved from its path id and bearer token.
#[derive(Debug, Clone, FromRow)]
pub struct ScimDirectory {
    /// The environment the directory belongs to.
    pub environment_id: EnvironmentId,
    /// `directory_…`
    pub id: DirectoryId,
    /// The owning organization.
    pub organization_id: OrganizationId,
}

/// The directory `id` when `token_hash` is its current SCIM token digest.
pub async fn authenticate_scim(
    conn: &mut PgConnection,
    id: &DirectoryId,
    token_hash: &str,
) -> ApiResult<Option<ScimDirectory>> {
    Ok(sqlx::query_as(
        "select environment_id, id, organization_id from directories
         where scim_token_hash = $1 and id = $2 and state = 'linked'",
    )
    .bind(token_hash)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}
