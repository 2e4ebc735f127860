//! Directory users (spec tag `directory-users`; schemas `DirectoryUser`,
//! `DirectoryUserWithGroups`) and their `dsync.user.*` events.
//!
//! A row keeps the SCIM resource the IdP wrote (RFC 7643 §4.1, canonical attribute names); the
//! WorkOS object is derived from it by [`UserRecord::directory_user`]. Deactivation
//! (`active: false`) keeps the row with state `inactive`; SCIM DELETE removes it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::{AssertSqlSafe, FromRow, PgConnection, Postgres, QueryBuilder};

use super::directories::ScimDirectory;
use super::page::{ListParams, push_id_filter};
use super::scim_filter::Column;
use super::scim_resources::{self, ScimTable};
use crate::db::Tx;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::OrganizationId;
use crate::ids::{DirectoryGroupId, DirectoryId, DirectoryUserId, EnvironmentId, IdFilter};
use crate::protocols::scim::filter::AttrPath;
use crate::protocols::scim::schema::ENTERPRISE;
use crate::store::events::{self, EventName, names};

/// One entry of `DirectoryUser.emails`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Email {
    /// Whether this is the primary address.
    pub primary: bool,
    /// `work`, `home`, … when the IdP sent one.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The address.
    pub value: Option<String>,
}

/// A directory user as events carry it (`DirectoryUser`).
#[derive(Debug, Clone, Serialize)]
pub struct DirectoryUser {
    /// Always `"directory_user"`.
    pub object: &'static str,
    /// `directory_user_…`
    pub id: DirectoryUserId,
    /// The directory.
    pub directory_id: DirectoryId,
    /// The directory's organization.
    pub organization_id: OrganizationId,
    /// The IdP's id for the user (SCIM `externalId`, else the SCIM `id`).
    pub idp_id: String,
    /// The primary email, `null` when the IdP sent none.
    pub email: Option<String>,
    /// SCIM `name.givenName`.
    pub first_name: Option<String>,
    /// SCIM `name.familyName`.
    pub last_name: Option<String>,
    /// SCIM `name.formatted`, else `displayName`, else given + family name.
    pub name: Option<String>,
    /// SCIM `emails`.
    pub emails: Vec<Email>,
    /// SCIM `title`.
    pub job_title: Option<String>,
    /// SCIM `userName`.
    pub username: Option<String>,
    /// `active` or `inactive` (SCIM `active`).
    pub state: &'static str,
    /// The SCIM resource as the IdP wrote it.
    pub raw_attributes: Value,
    /// Normalised attributes: `department`, `division`, `cost_center`, `employee_number`,
    /// `organization`, `manager_id`, `job_title` when present.
    pub custom_attributes: Value,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// A stored user: the SCIM resource plus bookkeeping.
#[derive(Debug, Clone, FromRow)]
pub struct UserRecord {
    /// `directory_user_…` (also the SCIM `id`).
    pub id: DirectoryUserId,
    /// The directory.
    pub directory_id: DirectoryId,
    /// The directory's organization.
    pub organization_id: OrganizationId,
    /// SCIM `userName`.
    pub user_name: String,
    /// SCIM `externalId`.
    pub external_id: Option<String>,
    /// SCIM `active`.
    pub active: bool,
    /// The SCIM resource without `id`, `meta` and `password`.
    pub resource: Value,
    /// Incremented on every change (the SCIM `meta.version` / ETag).
    pub version: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl ScimTable for UserRecord {
    const TABLE: &'static str = "directory_users";
    const ALIAS: &'static str = "u";
    const COLUMNS: &'static str = COLUMNS;
    const ENTITY: &'static str = "Directory User";
    const DELETED_EVENT: EventName = names::DSYNC_USER_DELETED;
    type Object = DirectoryUser;
    type Id = DirectoryUserId;

    /// The SCIM attributes with a column or an SQL expression (RFC 7644 §3.4.2.2 filters).
    fn column(p: &AttrPath) -> Option<Column> {
        let text =
            |expr, nullable, empty_is_null| Some(Column::text(expr, nullable, empty_is_null));
        if p.urn.is_some() {
            return None;
        }
        match (p.attr.as_str(), p.sub.as_deref()) {
            ("id", None) => text("u.id", false, false),
            ("userName", None) => text("u.user_name", false, false),
            ("externalId", None) => text("u.external_id", true, true),
            ("displayName", None) => text(
                "(case when jsonb_typeof(u.resource -> 'displayName') = 'string' \
                 then u.resource ->> 'displayName' end)",
                true,
                false,
            ),
            ("active", None) => Some(Column::JsonBool("u.resource -> 'active'")),
            ("emails", _) => Some(Column::JsonMulti("u.resource -> 'emails'")),
            ("meta", Some("lastModified")) => Some(Column::Instant("u.updated_at")),
            ("meta", Some("created")) => Some(Column::Instant("u.created_at")),
            _ => None,
        }
    }

    fn object(&self) -> DirectoryUser {
        self.directory_user()
    }

    fn id(&self) -> &DirectoryUserId {
        &self.id
    }

    fn version(&self) -> i32 {
        self.version
    }
}

const COLUMNS: &str = "u.id, u.directory_id, u.organization_id, u.user_name, u.external_id, \
                       u.active, u.resource, u.version, u.created_at, u.updated_at";

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

impl UserRecord {
    /// The WorkOS `DirectoryUser` this resource maps to.
    pub fn directory_user(&self) -> DirectoryUser {
        let r = &self.resource;
        let emails: Vec<Email> = r
            .get("emails")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|e| Email {
                        primary: e.get("primary").and_then(Value::as_bool).unwrap_or(false),
                        kind: text(e, &["type"]).map(String::from),
                        value: text(e, &["value"]).map(String::from),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let email = emails
            .iter()
            .find(|e| e.primary && e.value.is_some())
            .or_else(|| {
                emails
                    .iter()
                    .find(|e| e.kind.as_deref() == Some("work") && e.value.is_some())
            })
            .or_else(|| emails.iter().find(|e| e.value.is_some()))
            .and_then(|e| e.value.clone())
            .or_else(|| Some(self.user_name.clone()).filter(|u| u.contains('@')));
        let first_name = text(r, &["name", "givenName"]).map(String::from);
        let last_name = text(r, &["name", "familyName"]).map(String::from);
        let name = text(r, &["name", "formatted"])
            .or_else(|| text(r, &["displayName"]))
            .map(String::from)
            .or_else(|| {
                let joined = [first_name.as_deref(), last_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                Some(joined).filter(|s| !s.is_empty())
            });
        let job_title = text(r, &["title"]).map(String::from);
        let mut custom = Map::new();
        let ext = r.get(ENTERPRISE).cloned().unwrap_or(Value::Null);
        for (key, source) in [
            ("department", "department"),
            ("division", "division"),
            ("cost_center", "costCenter"),
            ("employee_number", "employeeNumber"),
            ("organization", "organization"),
        ] {
            if let Some(v) = text(&ext, &[source]) {
                custom.insert(key.into(), v.into());
            }
        }
        if let Some(m) = text(&ext, &["manager", "value"]) {
            custom.insert("manager_id".into(), m.into());
        }
        if let Some(t) = &job_title {
            custom.insert("job_title".into(), t.clone().into());
        }
        DirectoryUser {
            object: "directory_user",
            id: self.id.clone(),
            directory_id: self.directory_id.clone(),
            organization_id: self.organization_id.clone(),
            idp_id: self
                .external_id
                .clone()
                .unwrap_or_else(|| self.id.to_string()),
            email,
            first_name,
            last_name,
            name,
            emails,
            job_title,
            username: Some(self.user_name.clone()),
            state: if self.active { "active" } else { "inactive" },
            raw_attributes: r.clone(),
            custom_attributes: Value::Object(custom),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// The top-level fields of `new` that differ from `old`, with their old values
/// (`previous_attributes` of `*.updated` events).
pub fn previous_attributes(old: &impl Serialize, new: &impl Serialize) -> Map<String, Value> {
    let (Ok(Value::Object(old)), Ok(Value::Object(new))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return Map::new();
    };
    old.into_iter()
        .filter(|(k, v)| k != "updated_at" && new.get(k) != Some(v))
        .collect()
}

/// Records a `dsync.*.updated` event for `after` with the `previous_attributes` that changed
/// since `before`; records nothing when nothing changed.
pub async fn record_updated(
    tx: &mut Tx,
    dir: &ScimDirectory,
    name: EventName,
    before: &impl Serialize,
    after: &impl Serialize,
) -> ApiResult<()> {
    let previous = previous_attributes(before, after);
    if previous.is_empty() {
        return Ok(());
    }
    let mut data = serde_json::to_value(after).map_err(anyhow::Error::from)?;
    data["previous_attributes"] = Value::Object(previous);
    events::record(
        tx,
        &dir.environment_id,
        name,
        &data,
        Some(&dir.organization_id),
    )
    .await
}

fn user_name_taken(user_name: &str) -> ApiError {
    ApiError::Conflict {
        code: Some("uniqueness"),
        message: format!("A user with userName '{user_name}' already exists in this directory."),
    }
}

/// The SCIM attributes the indexed columns mirror: (`userName`, `externalId`, `active`).
fn indexed(resource: &Value) -> (String, Option<String>, bool) {
    (
        text(resource, &["userName"])
            .unwrap_or_default()
            .to_string(),
        text(resource, &["externalId"]).map(String::from),
        resource
            .get("active")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    )
}

/// Creates a user from a validated SCIM resource; records `dsync.user.created`.
/// Errors: 409 `uniqueness` when the userName is taken in the directory.
pub async fn insert(tx: &mut Tx, dir: &ScimDirectory, resource: Value) -> ApiResult<UserRecord> {
    let (user_name, external_id, active) = indexed(&resource);
    let row: UserRecord = sqlx::query_as(AssertSqlSafe(format!(
        "insert into directory_users as u (id, environment_id, directory_id, organization_id, user_name,
           external_id, active, resource)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning {COLUMNS}"
    )))
    .bind(DirectoryUserId::new())
    .bind(&dir.environment_id)
    .bind(&dir.id)
    .bind(&dir.organization_id)
    .bind(&user_name)
    .bind(&external_id)
    .bind(active)
    .bind(&resource)
    .fetch_one(&mut **tx)
    .await
    .on_constraint("directory_users_user_name_key", || {
        user_name_taken(&user_name)
    })?;
    events::record(
        tx,
        &dir.environment_id,
        names::DSYNC_USER_CREATED,
        &row.directory_user(),
        Some(&dir.organization_id),
    )
    .await?;
    Ok(row)
}

/// Replaces a user's resource; records `dsync.user.updated` with `previous_attributes` when the
/// WorkOS object changed. Errors: 409 `uniqueness`.
pub async fn update(
    tx: &mut Tx,
    dir: &ScimDirectory,
    old: &UserRecord,
    resource: Value,
) -> ApiResult<UserRecord> {
    let (user_name, external_id, active) = indexed(&resource);
    let row: UserRecord = sqlx::query_as(AssertSqlSafe(format!(
        "update directory_users as u set user_name = $4, external_id = $5, active = $6, resource = $7,
           version = version + 1
         where environment_id = $1 and directory_id = $2 and id = $3 returning {COLUMNS}"
    )))
    .bind(&dir.environment_id)
    .bind(&dir.id)
    .bind(&old.id)
    .bind(&user_name)
    .bind(&external_id)
    .bind(active)
    .bind(&resource)
    .fetch_one(&mut **tx)
    .await
    .on_constraint("directory_users_user_name_key", || {
        user_name_taken(&user_name)
    })?;
    record_updated(
        tx,
        dir,
        names::DSYNC_USER_UPDATED,
        &old.directory_user(),
        &row.directory_user(),
    )
    .await?;
    Ok(row)
}

/// The users of a directory with the given ids (unknown ids are skipped).
pub async fn find_many(
    conn: &mut PgConnection,
    dir: &ScimDirectory,
    ids: &[DirectoryUserId],
) -> ApiResult<Vec<UserRecord>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from directory_users u
         where u.environment_id = $1 and u.directory_id = $2 and u.id = any($3) order by u.id"
    )))
    .bind(&dir.environment_id)
    .bind(&dir.id)
    .bind(ids)
    .fetch_all(conn)
    .await?)
}

/// Filters of `GET /directory_users`.
#[derive(Debug, Default)]
pub struct UserFilter {
    /// Only users of this directory.
    pub directory: Option<IdFilter<DirectoryId>>,
    /// Only members of this group.
    pub group: Option<IdFilter<DirectoryGroupId>>,
}

/// One page of users of the environment; `limit + 1` rows for the envelope.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    filter: &UserFilter,
    params: &ListParams,
) -> ApiResult<Vec<UserRecord>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {COLUMNS} from directory_users u where u.environment_id = "
    ));
    qb.push_bind(env.to_string());
    push_id_filter(&mut qb, "u.directory_id", filter.directory.as_ref());
    if let Some(g) = &filter.group {
        qb.push(" and u.id in (select m.user_id from directory_group_members m where m.environment_id = ")
            .push_bind(env.to_string());
        push_id_filter(&mut qb, "m.group_id", Some(g));
        qb.push(")");
    }
    params.push_keyset(&mut qb, "u.id");
    Ok(qb.build_query_as().fetch_all(conn).await?)
}

/// One user of the environment by id.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &DirectoryUserId,
) -> ApiResult<Option<UserRecord>> {
    scim_resources::find(conn, env, id).await
}

/// Groups users by id (helper for callers holding many records).
pub fn by_id(users: Vec<UserRecord>) -> HashMap<DirectoryUserId, UserRecord> {
    users.into_iter().map(|u| (u.id.clone(), u)).collect()
}
