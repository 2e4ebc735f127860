//! Feature flags (spec tags `feature-flags`, `organizations.feature-flags`,
//! `user-management.users.feature-flags`; schema `Flag`): the flags of an environment, their
//! evaluation for a user and an organization, the snapshot the Node SDK's runtime client polls
//! (`GET /sdk/feature-flags`) and the environment's flag version, its ETag. Targets are written by
//! [`super::feature_flag_targets`].
//!
//! Evaluation is the Node SDK's evaluator (`src/feature-flags/evaluator.ts`): a disabled flag is
//! `false`; otherwise a target of the user decides, else a target of the organization, else
//! `default_value` ([`Evaluation::value`]). The paginated lists evaluate the same rule in SQL
//! ([`push_enabled_for`]). Changes record `flag.created`, `flag.updated` and `flag.deleted` in
//! their transaction; the trigger of migration 1500 bumps the version in it too.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};

use super::events::{self, EventName, names};
use super::page::ListParams;
use crate::db::Tx;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::{EnvironmentId, FeatureFlagId, OrganizationId, UserId};

/// A flag as the API returns it (`Flag`).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct FeatureFlag {
    /// Always `"feature_flag"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// `flag_…`
    pub id: FeatureFlagId,
    /// Unique (per environment) key, e.g. `advanced-analytics`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Description, or `null`.
    pub description: Option<String>,
    /// The flag's owner: always `null` (flags made through the API have none).
    #[sqlx(skip)]
    pub owner: Option<Value>,
    /// Labels.
    pub tags: Vec<String>,
    /// Whether the flag is on in the environment.
    pub enabled: bool,
    /// The value of a subject no target matches.
    pub default_value: bool,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// The `data` of the `flag.*` events: the flag and its environment.
#[derive(Debug, Clone, Serialize)]
pub struct FlagEvent {
    /// The flag.
    #[serde(flatten)]
    pub flag: FeatureFlag,
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
}

const COLUMNS: &str = "f.id, f.slug, f.name, f.description, f.tags, f.enabled, f.default_value, f.created_at, f.updated_at";

fn tag(mut f: FeatureFlag) -> FeatureFlag {
    f.object = "feature_flag";
    f
}

/// Records `event` with the flag as its payload.
pub async fn record(
    tx: &mut Tx,
    env: &EnvironmentId,
    event: EventName,
    flag: &FeatureFlag,
) -> ApiResult<()> {
    let data = FlagEvent {
        flag: flag.clone(),
        environment_id: env.clone(),
    };
    events::record(tx, env, event, &data, None).await
}

/// Input of [`insert`], already validated.
#[derive(Debug, Clone)]
pub struct NewFeatureFlag {
    /// Slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Labels.
    pub tags: Vec<String>,
    /// On from the start.
    pub enabled: bool,
    /// Value for subjects no target matches.
    pub default_value: bool,
}

/// Creates a flag and records `flag.created`. Errors: 409 `feature_flag_slug_conflict`.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    new: &NewFeatureFlag,
) -> ApiResult<FeatureFlag> {
    let flag: FeatureFlag = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into feature_flags as f
             (environment_id, id, slug, name, description, tags, enabled, default_value)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning {COLUMNS}"
    )))
    .bind(env)
    .bind(FeatureFlagId::new())
    .bind(&new.slug)
    .bind(&new.name)
    .bind(&new.description)
    .bind(&new.tags)
    .bind(new.enabled)
    .bind(new.default_value)
    .fetch_one(&mut **tx)
    .await
    .on_constraint("feature_flags_slug_key", || ApiError::Conflict {
        code: Some("feature_flag_slug_conflict"),
        message: format!("A feature flag with slug '{}' already exists.", new.slug),
    })?;
    let flag = tag(flag);
    record(tx, env, names::FLAG_CREATED, &flag).await?;
    Ok(flag)
}

/// One flag by slug.
pub async fn find_by_slug(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    slug: &str,
) -> ApiResult<Option<FeatureFlag>> {
    let row: Option<FeatureFlag> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from feature_flags f where f.environment_id = $1 and f.slug = $2"
    )))
    .bind(env)
    .bind(slug)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(tag))
}

/// One flag by slug, locked for the rest of the transaction.
pub async fn lock_by_slug(
    tx: &mut Tx,
    env: &EnvironmentId,
    slug: &str,
) -> ApiResult<Option<FeatureFlag>> {
    let row: Option<FeatureFlag> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from feature_flags f where f.environment_id = $1 and f.slug = $2 for update"
    )))
    .bind(env)
    .bind(slug)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(tag))
}

/// Turns the flag on or off; records `flag.updated` when that changed it. `None` for an unknown
/// slug.
pub async fn set_enabled(
    tx: &mut Tx,
    env: &EnvironmentId,
    slug: &str,
    enabled: bool,
) -> ApiResult<Option<FeatureFlag>> {
    let Some(current) = lock_by_slug(tx, env, slug).await? else {
        return Ok(None);
    };
    if current.enabled == enabled {
        return Ok(Some(current));
    }
    let flag: FeatureFlag = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update feature_flags f set enabled = $3 where f.environment_id = $1 and f.id = $2
         returning {COLUMNS}"
    )))
    .bind(env)
    .bind(&current.id)
    .bind(enabled)
    .fetch_one(&mut **tx)
    .await?;
    let flag = tag(flag);
    record(tx, env, names::FLAG_UPDATED, &flag).await?;
    Ok(Some(flag))
}

/// Deletes the flag (its targets go with it) and records `flag.deleted`. `None` for an unknown
/// slug.
pub async fn delete(
    tx: &mut Tx,
    env: &EnvironmentId,
    slug: &str,
) -> ApiResult<Option<FeatureFlag>> {
    let row: Option<FeatureFlag> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "delete from feature_flags f where f.environment_id = $1 and f.slug = $2 returning {COLUMNS}"
    )))
    .bind(env)
    .bind(slug)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(flag) = row.map(tag) else {
        return Ok(None);
    };
    record(tx, env, names::FLAG_DELETED, &flag).await?;
    Ok(Some(flag))
}

/// Whose targets decide a paginated list's evaluation.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// Every flag, unevaluated (`GET /feature-flags`).
    All,
    /// The flags on for an organization: its targets, else `default_value`.
    Organization(&'a OrganizationId),
    /// The flags on for a user: their targets, else their active memberships' organizations'
    /// targets (any one on), else `default_value`.
    User(&'a UserId),
}

/// Appends ` and <flag f is on for subject>` — the evaluator of [`Evaluation::value`] in SQL.
fn push_enabled_for(qb: &mut QueryBuilder<Postgres>, subject: Subject<'_>) {
    const TARGET: &str = "select t.enabled from feature_flag_targets t
         where t.environment_id = f.environment_id and t.flag_id = f.id";
    match subject {
        Subject::All => {}
        Subject::Organization(org) => {
            qb.push(format_args!(
                " and f.enabled and coalesce(({TARGET} and t.organization_id = "
            ))
            .push_bind(org.clone())
            .push("), f.default_value)");
        }
        Subject::User(user) => {
            qb.push(format_args!(
                " and f.enabled and coalesce(({TARGET} and t.user_id = "
            ))
            .push_bind(user.clone())
            .push(
                "), (select bool_or(t.enabled) from feature_flag_targets t
                     join organization_memberships m
                       on m.environment_id = t.environment_id
                      and m.organization_id = t.organization_id
                    where t.environment_id = f.environment_id and t.flag_id = f.id
                      and m.status = 'active' and m.user_id = ",
            )
            .push_bind(user.clone())
            .push("), f.default_value)");
        }
    }
}

/// One page of the environment's flags (every flag, or those on for `subject`); `limit + 1`
/// rows for the envelope.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    subject: Subject<'_>,
    params: &ListParams,
) -> ApiResult<Vec<FeatureFlag>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {COLUMNS} from feature_flags f where f.environment_id = "
    ));
    qb.push_bind(env.clone());
    push_enabled_for(&mut qb, subject);
    params.push_keyset(&mut qb, "f.id");
    let rows: Vec<FeatureFlag> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(tag).collect())
}

/// Why an evaluation came out as it did (the OpenFeature reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The flag is off: `false`.
    Disabled,
    /// A target of the user or the organization decided.
    TargetingMatch,
    /// No target matched: `default_value`.
    Default,
}

impl Reason {
    /// The OpenFeature spelling: `DISABLED`, `TARGETING_MATCH`, `DEFAULT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "DISABLED",
            Self::TargetingMatch => "TARGETING_MATCH",
            Self::Default => "DEFAULT",
        }
    }
}

/// A flag and the targets that concern one user and one organization.
#[derive(Debug, Clone, FromRow)]
pub struct Evaluation {
    /// The flag's slug.
    pub slug: String,
    /// Whether the flag is on.
    pub enabled: bool,
    /// The value of the user's target, when the user has one.
    pub user_value: Option<bool>,
    /// The value of the organization's target, when it has one.
    pub organization_value: Option<bool>,
    /// The value when no target matches.
    pub default_value: bool,
}

impl Evaluation {
    /// The Node SDK's evaluator: disabled → `false`; else the user's target; else the
    /// organization's; else `default_value`.
    pub fn value(&self) -> (bool, Reason) {
        if !self.enabled {
            return (false, Reason::Disabled);
        }
        match (self.user_value, self.organization_value) {
            (Some(v), _) | (None, Some(v)) => (v, Reason::TargetingMatch),
            (None, None) => (self.default_value, Reason::Default),
        }
    }
}

/// The environment's flags (or the one with `slug`), in creation order, each with the targets of
/// `user` and `organization`: one query. Ids the caller could not parse are passed as `None`.
pub async fn evaluations(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    user: Option<&UserId>,
    organization: Option<&OrganizationId>,
    slug: Option<&str>,
) -> ApiResult<Vec<Evaluation>> {
    let rows: Vec<Evaluation> = sqlx::query_as(
        "select f.slug, f.enabled, f.default_value,
                (select t.enabled from feature_flag_targets t
                  where t.environment_id = f.environment_id and t.flag_id = f.id
                    and t.user_id = $2) as user_value,
                (select t.enabled from feature_flag_targets t
                  where t.environment_id = f.environment_id and t.flag_id = f.id
                    and t.organization_id = $3) as organization_value
           from feature_flags f
          where f.environment_id = $1 and ($4::text is null or f.slug = $4)
          order by f.id",
    )
    .bind(env)
    .bind(user)
    .bind(organization)
    .bind(slug)
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// The slugs of the flags on for `user` in `organization` (or without one), in creation order:
/// the access token's `feature_flags` claim.
pub async fn enabled_slugs(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    user: &UserId,
    organization: Option<&OrganizationId>,
) -> ApiResult<Vec<String>> {
    let rows = evaluations(conn, env, Some(user), organization, None).await?;
    Ok(rows
        .into_iter()
        .filter(|e| e.value().0)
        .map(|e| e.slug)
        .collect())
}

/// The environment's flag version (0 before its first flag): bumped by every change to its flags
/// or targets. One indexed read.
pub async fn version(conn: &mut PgConnection, env: &EnvironmentId) -> ApiResult<i64> {
    let v: Option<i64> =
        sqlx::query_scalar("select version from feature_flag_versions where environment_id = $1")
            .bind(env)
            .fetch_optional(conn)
            .await?;
    Ok(v.unwrap_or(0))
}

/// One target of a flag in a [`Snapshot`].
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotTarget {
    /// `user_…` or `org_…`.
    pub id: String,
    /// The value the target is served.
    pub enabled: bool,
}

/// One flag of a [`Snapshot`].
#[derive(Debug, Clone)]
pub struct SnapshotFlag {
    /// `flag_…`
    pub id: FeatureFlagId,
    /// Slug.
    pub slug: String,
    /// Whether the flag is on.
    pub enabled: bool,
    /// Value when no target matches.
    pub default_value: bool,
    /// User targets, oldest first.
    pub users: Vec<SnapshotTarget>,
    /// Organization targets, oldest first.
    pub organizations: Vec<SnapshotTarget>,
}

/// Every flag of the environment with its targets, and the version they are at.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The environment's flag version ([`version`]) this snapshot is.
    pub version: i64,
    /// The flags, in creation order.
    pub flags: Vec<SnapshotFlag>,
}

#[derive(FromRow)]
struct SnapshotRow {
    version: i64,
    id: Option<FeatureFlagId>,
    slug: Option<String>,
    enabled: Option<bool>,
    default_value: Option<bool>,
    user_ids: Option<Vec<String>>,
    user_values: Option<Vec<bool>>,
    organization_ids: Option<Vec<String>>,
    organization_values: Option<Vec<bool>>,
}

fn targets(ids: Option<Vec<String>>, values: Option<Vec<bool>>) -> Vec<SnapshotTarget> {
    ids.unwrap_or_default()
        .into_iter()
        .zip(values.unwrap_or_default())
        .map(|(id, enabled)| SnapshotTarget { id, enabled })
        .collect()
}

/// The environment's flags with all their targets and the version, read in one statement (one
/// snapshot, so the version is exactly that of the flags).
pub async fn snapshot(conn: &mut PgConnection, env: &EnvironmentId) -> ApiResult<Snapshot> {
    let rows: Vec<SnapshotRow> = sqlx::query_as(
        "select coalesce((select version from feature_flag_versions where environment_id = $1), 0)
                    as version,
                s.id, s.slug, s.enabled, s.default_value, s.user_ids, s.user_values,
                s.organization_ids, s.organization_values
           from (select 1) one
           left join lateral (
               select f.id, f.slug, f.enabled, f.default_value,
                      array_agg(t.user_id order by t.created_at, t.user_id)
                          filter (where t.user_id is not null) as user_ids,
                      array_agg(t.enabled order by t.created_at, t.user_id)
                          filter (where t.user_id is not null) as user_values,
                      array_agg(t.organization_id order by t.created_at, t.organization_id)
                          filter (where t.organization_id is not null) as organization_ids,
                      array_agg(t.enabled order by t.created_at, t.organization_id)
                          filter (where t.organization_id is not null) as organization_values
                 from feature_flags f
                 left join feature_flag_targets t
                   on t.environment_id = f.environment_id and t.flag_id = f.id
                where f.environment_id = $1
                group by f.environment_id, f.id
           ) s on true
          order by s.id",
    )
    .bind(env)
    .fetch_all(conn)
    .await?;
    let version = rows.first().map_or(0, |r| r.version);
    let flags = rows
        .into_iter()
        .filter_map(|r| {
            Some(SnapshotFlag {
                id: r.id?,
                slug: r.slug?,
                enabled: r.enabled?,
                default_value: r.default_value?,
                users: targets(r.user_ids, r.user_values),
                organizations: targets(r.organization_ids, r.organization_values),
            })
        })
        .collect();
    Ok(Snapshot { version, flags })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(enabled: bool, user: Option<bool>, org: Option<bool>, default: bool) -> (bool, Reason) {
        Evaluation {
            slug: "f".into(),
            enabled,
            user_value: user,
            organization_value: org,
            default_value: default,
        }
        .value()
    }

    #[test]
    fn the_evaluator_follows_the_node_sdk() {
        use Reason::*;
        // Disabled wins over everything.
        assert_eq!(eval(false, Some(true), Some(true), true), (false, Disabled));
        // A user target wins over the organization's.
        assert_eq!(
            eval(true, Some(false), Some(true), true),
            (false, TargetingMatch)
        );
        assert_eq!(
            eval(true, Some(true), Some(false), false),
            (true, TargetingMatch)
        );
        // Then the organization's target.
        assert_eq!(eval(true, None, Some(true), false), (true, TargetingMatch));
        assert_eq!(eval(true, None, Some(false), true), (false, TargetingMatch));
        // Then the default.
        assert_eq!(eval(true, None, None, true), (true, Default));
        assert_eq!(eval(true, None, None, false), (false, Default));
    }
}
