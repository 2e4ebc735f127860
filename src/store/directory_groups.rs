//! Directory groups (spec tag `directory-groups`; schema `DirectoryGroup`) and their
//! `dsync.group.created` / `updated` / `deleted` events.
//!
//! Like users, a group keeps its SCIM resource (RFC 7643 §4.2) without `members`, which live in
//! the `directory_group_members` table; membership writes and their `dsync.group.user_added` /
//! `user_removed` events are [`super::directory_group_members`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{AssertSqlSafe, FromRow, PgConnection, Postgres, QueryBuilder};

use super::directories::ScimDirectory;
use super::directory_users;
use super::page::{ListParams, push_id_filter};
use super::scim_filter::Column;
use super::scim_resources::{self, ScimTable};
use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::OrganizationId;
use crate::ids::{DirectoryGroupId, DirectoryId, DirectoryUserId, EnvironmentId, IdFilter};
use crate::protocols::scim::filter::AttrPath;
use crate::store::events::{self, EventName, names};

/// A directory group as the API and events return it.
#[derive(Debug, Clone, Serialize)]
pub struct DirectoryGroup {
    /// Always `"directory_group"`.
    pub object: &'static str,
    /// `directory_group_…`
    pub id: DirectoryGroupId,
    /// The IdP's id for the group (SCIM `externalId`, else the SCIM `id`).
    pub idp_id: String,
    /// The directory.
    pub directory_id: DirectoryId,
    /// The directory's organization.
    pub organization_id: OrganizationId,
    /// SCIM `displayName`.
    pub name: String,
    /// The SCIM resource as the IdP wrote it (without `members`).
    pub raw_attributes: Value,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// A stored group: the SCIM resource plus bookkeeping.
#[derive(Debug, Clone, FromRow)]
pub struct GroupRecord {
    /// `directory_group_…` (also the SCIM `id`).
    pub id: DirectoryGroupId,
    /// The directory.
    pub directory_id: DirectoryId,
    /// The directory's organization.
    pub organization_id: OrganizationId,
    /// SCIM `displayName`.
    pub display_name: String,
    /// SCIM `externalId`.
    pub external_id: Option<String>,
    /// The SCIM resource without `id`, `meta` and `members`.
    pub resource: Value,
    /// Incremented on every change (the SCIM `meta.version` / ETag).
    pub version: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl ScimTable for GroupRecord {
    const TABLE: &'static str = "directory_groups";
    const ALIAS: &'static str = "g";
    const COLUMNS: &'static str = COLUMNS;
    const ENTITY: &'static str = "Directory Group";
    const DELETED_EVENT: EventName = names::DSYNC_GROUP_DELETED;
    type Object = DirectoryGroup;
    type Id = DirectoryGroupId;

    /// The SCIM attributes with a column or an SQL expression (RFC 7644 §3.4.2.2 filters).
    fn column(p: &AttrPath) -> Option<Column> {
        let text =
            |expr, nullable, empty_is_null| Some(Column::text(expr, nullable, empty_is_null));
        if p.urn.is_some() {
            return None;
        }
        match (p.attr.as_str(), p.sub.as_deref()) {
            ("id", None) => text("g.id", false, false),
            ("displayName", None) => text("g.display_name", false, false),
            ("externalId", None) => text("g.external_id", true, true),
            ("members", _) => Some(Column::Members),
            ("meta", Some("lastModified")) => Some(Column::Instant("g.updated_at")),
            ("meta", Some("created")) => Some(Column::Instant("g.created_at")),
            _ => None,
        }
    }

    fn object(&self) -> DirectoryGroup {
        self.directory_group()
    }

    fn id(&self) -> &DirectoryGroupId {
        &self.id
    }

    fn version(&self) -> i32 {
        self.version
    }
}

const COLUMNS: &str = "g.id, g.directory_id, g.organization_id, g.display_name, g.external_id, \
                       g.resource, g.version, g.created_at, g.updated_at";

impl GroupRecord {
    /// The WorkOS `DirectoryGroup`.
    pub fn directory_group(&self) -> DirectoryGroup {
        DirectoryGroup {
            object: "directory_group",
            id: self.id.clone(),
            idp_id: self
                .external_id
                .clone()
                .unwrap_or_else(|| self.id.to_string()),
            directory_id: self.directory_id.clone(),
            organization_id: self.organization_id.clone(),
            name: self.display_name.clone(),
            raw_attributes: self.resource.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

fn indexed(resource: &Value) -> (String, Option<String>) {
    let s = |k: &str| {
        resource
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    (s("displayName").unwrap_or_default(), s("externalId"))
}

/// Creates a group from a validated SCIM resource; records `dsync.group.created`.
pub async fn insert(tx: &mut Tx, dir: &ScimDirectory, resource: Value) -> ApiResult<GroupRecord> {
    let (display_name, external_id) = indexed(&resource);
    let row: GroupRecord = sqlx::query_as(AssertSqlSafe(format!(
        "insert into directory_groups as g (id, environment_id, directory_id, organization_id,
           display_name, external_id, resource)
         values ($1, $2, $3, $4, $5, $6, $7) returning {COLUMNS}"
    )))
    .bind(DirectoryGroupId::new())
    .bind(&dir.environment_id)
    .bind(&dir.id)
    .bind(&dir.organization_id)
    .bind(&display_name)
    .bind(&external_id)
    .bind(&resource)
    .fetch_one(&mut **tx)
    .await?;
    events::record(
        tx,
        &dir.environment_id,
        names::DSYNC_GROUP_CREATED,
        &row.directory_group(),
        Some(&dir.organization_id),
    )
    .await?;
    Ok(row)
}

/// Replaces a group's resource; records `dsync.group.updated` with `previous_attributes` when
/// the WorkOS object changed.
pub async fn update(
    tx: &mut Tx,
    dir: &ScimDirectory,
    old: &GroupRecord,
    resource: Value,
) -> ApiResult<GroupRecord> {
    let (display_name, external_id) = indexed(&resource);
    let row: GroupRecord = sqlx::query_as(AssertSqlSafe(format!(
        "update directory_groups as g set display_name = $4, external_id = $5, resource = $6,
           version = version + 1
         where environment_id = $1 and directory_id = $2 and id = $3 returning {COLUMNS}"
    )))
    .bind(&dir.environment_id)
    .bind(&dir.id)
    .bind(&old.id)
    .bind(&display_name)
    .bind(&external_id)
    .bind(&resource)
    .fetch_one(&mut **tx)
    .await?;
    directory_users::record_updated(
        tx,
        dir,
        names::DSYNC_GROUP_UPDATED,
        &old.directory_group(),
        &row.directory_group(),
    )
    .await?;
    Ok(row)
}

/// Filters of `GET /directory_groups`.
#[derive(Debug, Default)]
pub struct GroupFilter {
    /// Only groups of this directory.
    pub directory: Option<IdFilter<DirectoryId>>,
    /// Only groups this user is a member of.
    pub user: Option<IdFilter<DirectoryUserId>>,
}

/// One page of groups of the environment; `limit + 1` rows for the envelope.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    filter: &GroupFilter,
    params: &ListParams,
) -> ApiResult<Vec<DirectoryGroup>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {COLUMNS} from directory_groups g where g.environment_id = "
    ));
    qb.push_bind(env.to_string());
    push_id_filter(&mut qb, "g.directory_id", filter.directory.as_ref());
    if let Some(u) = &filter.user {
        qb.push(" and g.id in (select m.group_id from directory_group_members m where m.environment_id = ")
            .push_bind(env.to_string());
        push_id_filter(&mut qb, "m.user_id", Some(u));
        qb.push(")");
    }
    params.push_keyset(&mut qb, "g.id");
    let rows: Vec<GroupRecord> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.iter().map(GroupRecord::directory_group).collect())
}

/// One group of the environment by id.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &DirectoryGroupId,
) -> ApiResult<Option<DirectoryGroup>> {
    let row: Option<GroupRecord> = scim_resources::find(conn, env, id).await?;
    Ok(row.as_ref().map(GroupRecord::directory_group))
}

/// The groups of each of the given users (user id → groups, oldest first).
pub async fn groups_of_users(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    user_ids: &[DirectoryUserId],
) -> ApiResult<HashMap<DirectoryUserId, Vec<DirectoryGroup>>> {
    #[derive(FromRow)]
    struct MemberOf {
        user_id: DirectoryUserId,
        #[sqlx(flatten)]
        group: GroupRecord,
    }
    let rows: Vec<MemberOf> = sqlx::query_as(AssertSqlSafe(format!(
        "select m.user_id, {COLUMNS} from directory_group_members m
         join directory_groups g on g.id = m.group_id
         where m.environment_id = $1 and m.user_id = any($2) order by g.id"
    )))
    .bind(env)
    .bind(user_ids)
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<DirectoryUserId, Vec<DirectoryGroup>> = HashMap::new();
    for r in rows {
        out.entry(r.user_id)
            .or_default()
            .push(r.group.directory_group());
    }
    Ok(out)
}
