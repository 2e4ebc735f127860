//! Targets of feature flags (spec tag `feature-flags.targets`): an organization or a user of the
//! environment for whom a flag is on (`POST /feature-flags/{slug}/targets/{resourceId}`) until the
//! target is removed (`DELETE …`). Each change records `flag.rule_updated` with the flag as its
//! payload in its transaction (the flag's version trigger runs in it too); adding a target that
//! exists, or removing one that does not, changes nothing and records nothing.

use super::events::names;
use super::feature_flags::{self, FeatureFlag};
use sqlx::PgConnection;

use crate::db::Tx;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::{EnvironmentId, OrganizationId, UserId};

/// What a target names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An organization, `org_…`.
    Organization(OrganizationId),
    /// A user, `user_…`.
    User(UserId),
}

impl Target {
    /// An `org_…` or `user_…` id; `None` for anything else (including other kinds of id that
    /// start alike, such as `org_domain_…`).
    pub fn parse(raw: &str) -> Option<Self> {
        if let Ok(org) = raw.parse::<OrganizationId>() {
            return Some(Self::Organization(org));
        }
        raw.parse::<UserId>().ok().map(Self::User)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Organization(id) => id.as_str(),
            Self::User(id) => id.as_str(),
        }
    }

    /// The 404 of an unknown target (`Organization not found: …` or `User not found: …`).
    pub fn not_found(&self) -> ApiError {
        match self {
            Self::Organization(id) => ApiError::not_found("Organization", id.as_str()),
            Self::User(id) => ApiError::not_found("User", id.as_str()),
        }
    }
}

/// Whether the organization or user exists in the environment.
pub async fn exists(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    target: &Target,
) -> ApiResult<bool> {
    let sql = match target {
        Target::Organization(_) => {
            "select exists (select 1 from organizations where environment_id = $1 and id = $2)"
        }
        Target::User(_) => {
            "select exists (select 1 from users where environment_id = $1 and id = $2)"
        }
    };
    let found: bool = sqlx::query_scalar(sql)
        .bind(env)
        .bind(target.as_str())
        .fetch_one(conn)
        .await?;
    Ok(found)
}

/// The flag of `slug`, locked, or its 404.
async fn flag(tx: &mut Tx, env: &EnvironmentId, slug: &str) -> ApiResult<FeatureFlag> {
    feature_flags::lock_by_slug(tx, env, slug)
        .await?
        .ok_or_else(|| ApiError::not_found("Feature flag", slug))
}

/// Turns the flag on for `target` and records `flag.rule_updated` (nothing when it already was).
///
/// Errors: 404 for an unknown flag, or an organization or user that is not the environment's.
pub async fn add(tx: &mut Tx, env: &EnvironmentId, slug: &str, target: &Target) -> ApiResult<()> {
    let flag = flag(tx, env, slug).await?;
    let (org, user) = match target {
        Target::Organization(id) => (Some(id), None),
        Target::User(id) => (None, Some(id)),
    };
    let inserted = sqlx::query(
        "insert into feature_flag_targets (environment_id, flag_id, organization_id, user_id, enabled)
         values ($1, $2, $3, $4, true)
         on conflict do nothing",
    )
    .bind(env)
    .bind(&flag.id)
    .bind(org)
    .bind(user)
    .execute(&mut **tx)
    .await
    .on_constraint("feature_flag_targets_organization_fkey", || {
        target.not_found()
    })
    .on_constraint("feature_flag_targets_user_fkey", || target.not_found())?;
    if inserted.rows_affected() == 1 {
        feature_flags::record(tx, env, names::FLAG_RULE_UPDATED, &flag).await?;
    }
    Ok(())
}

/// Removes `target` from the flag and records `flag.rule_updated` (nothing when it was not one).
///
/// Errors: 404 for an unknown flag, or an organization or user that is not the environment's.
pub async fn remove(
    tx: &mut Tx,
    env: &EnvironmentId,
    slug: &str,
    target: &Target,
) -> ApiResult<()> {
    let flag = flag(tx, env, slug).await?;
    if !exists(tx, env, target).await? {
        return Err(target.not_found());
    }
    let column = match target {
        Target::Organization(_) => "organization_id",
        Target::User(_) => "user_id",
    };
    let deleted = sqlx::query(sqlx::AssertSqlSafe(format!(
        "delete from feature_flag_targets
          where environment_id = $1 and flag_id = $2 and {column} = $3"
    )))
    .bind(env)
    .bind(&flag.id)
    .bind(target.as_str())
    .execute(&mut **tx)
    .await?;
    if deleted.rows_affected() > 0 {
        feature_flags::record(tx, env, names::FLAG_RULE_UPDATED, &flag).await?;
    }
    Ok(())
}
