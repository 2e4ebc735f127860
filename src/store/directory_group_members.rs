//! Memberships of directory users in directory groups (table `directory_group_members`): the
//! SCIM `members` of a group, the membership writes that record `dsync.group.user_added` /
//! `dsync.group.user_removed`, and `DirectoryUserWithGroups` (spec tag `directory-users`), the
//! user with its groups that `GET /directory_users` returns.
//!
//! It sits over [`super::directory_users`] and [`super::directory_groups`], which do not import
//! each other's memberships.

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection};

use super::directories::ScimDirectory;
use super::directory_groups::{self as groups, DirectoryGroup, GroupRecord};
use super::directory_users::{self as users, DirectoryUser, UserRecord};
use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::ids::{DirectoryGroupId, DirectoryUserId, EnvironmentId};
use crate::store::events::{self, EventName, names};

/// `GET /directory_users/{id}` and list items: the user with its groups.
#[derive(Debug, Clone, Serialize)]
pub struct DirectoryUserWithGroups {
    /// The user.
    #[serde(flatten)]
    pub user: DirectoryUser,
    /// The groups the user is a member of, oldest first.
    pub groups: Vec<DirectoryGroup>,
}

/// A member as SCIM renders it: the user id and its display value.
#[derive(Debug, Clone, FromRow)]
pub struct Member {
    /// The group.
    pub group_id: DirectoryGroupId,
    /// The member user (`directory_user_…`).
    pub user_id: DirectoryUserId,
    /// The user's `displayName`, else `userName`.
    pub display: String,
}

/// The members of the given groups, in membership order.
pub async fn members(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    group_ids: &[DirectoryGroupId],
) -> ApiResult<Vec<Member>> {
    Ok(sqlx::query_as(
        "select m.group_id, m.user_id, coalesce(u.resource->>'displayName', u.user_name) as display
         from directory_group_members m join directory_users u on u.id = m.user_id
         where m.environment_id = $1 and m.group_id = any($2) order by m.created_at, m.user_id",
    )
    .bind(env)
    .bind(group_ids)
    .fetch_all(conn)
    .await?)
}

/// Adds and removes members of a group, recording `dsync.group.user_added` /
/// `dsync.group.user_removed` per change. `add` and `remove` are the member values the IdP sent:
/// users must belong to the group's directory (400 otherwise, a malformed id included); adding a
/// member twice or removing a non-member (or a malformed id) is a no-op.
pub async fn change_members(
    tx: &mut Tx,
    dir: &ScimDirectory,
    group: &GroupRecord,
    add: &[String],
    remove: &[String],
) -> ApiResult<()> {
    let env = &dir.environment_id;
    if add.is_empty() && remove.is_empty() {
        return Ok(());
    }
    let parse = |raw: &[String]| -> Vec<DirectoryUserId> {
        raw.iter()
            .filter_map(|id| DirectoryUserId::parse_lenient(id))
            .collect()
    };
    let (add_ids, remove_ids) = (parse(add), parse(remove));
    let wanted: Vec<DirectoryUserId> = add_ids.iter().chain(&remove_ids).cloned().collect();
    let found = users::by_id(users::find_many(&mut *tx, dir, &wanted).await?);
    if let Some(missing) = add.iter().find(|id| !found.contains_key(id.as_str())) {
        return Err(ApiError::invalid_field(
            "members",
            "invalid",
            format!("No user '{missing}' in this directory."),
        ));
    }
    let wg = group.directory_group();
    let steps: [(&[DirectoryUserId], &'static str, EventName); 2] = [
        (
            &add_ids,
            "insert into directory_group_members (environment_id, group_id, user_id)
             values ($1, $2, $3) on conflict do nothing",
            names::DSYNC_GROUP_USER_ADDED,
        ),
        (
            &remove_ids,
            "delete from directory_group_members
             where environment_id = $1 and group_id = $2 and user_id = $3",
            names::DSYNC_GROUP_USER_REMOVED,
        ),
    ];
    for (ids, statement, event) in steps {
        for id in ids {
            let changed = sqlx::query(statement)
                .bind(env)
                .bind(&group.id)
                .bind(id)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            if let (1, Some(user)) = (changed, found.get(id)) {
                let data = membership_event(user, &wg);
                events::record(tx, env, event, &data, Some(&dir.organization_id)).await?;
            }
        }
    }
    Ok(())
}

/// Attaches each user's groups.
pub async fn with_groups(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    users: Vec<UserRecord>,
) -> ApiResult<Vec<DirectoryUserWithGroups>> {
    let ids: Vec<DirectoryUserId> = users.iter().map(|u| u.id.clone()).collect();
    let mut groups = groups::groups_of_users(conn, env, &ids).await?;
    Ok(users
        .into_iter()
        .map(|u| DirectoryUserWithGroups {
            groups: groups.remove(&u.id).unwrap_or_default(),
            user: u.directory_user(),
        })
        .collect())
}

/// `{directory_id, user, group}`: the payload of `dsync.group.user_added` / `_removed`.
pub fn membership_event(user: &UserRecord, group: &DirectoryGroup) -> Value {
    json!({
        "directory_id": group.directory_id,
        "user": user.directory_user(),
        "group": group,
    })
}
