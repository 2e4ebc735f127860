//! The audit-log retention purge's SQL: which organizations have events, and deleting one
//! organization's expired events in bounded batches.
//!
//! Each [`purge_organization`] statement deletes at most `limit` rows found through the
//! `(environment_id, organization_id, occurred_at)` index, in its own short transaction, and
//! skips rows another purge holds (`for update skip locked`), so a pass never holds long locks
//! and several replicas may purge at once.

use sqlx::PgPool;

use crate::error::ApiResult;
use crate::ids::{EnvironmentId, OrganizationId};
use crate::store::audit_logs::DEFAULT_RETENTION_DAYS;

/// An organization and its retention in days.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Retention {
    /// The environment.
    pub environment_id: EnvironmentId,
    /// The organization.
    pub organization_id: OrganizationId,
    /// 30 or 365.
    pub days: i32,
}

/// Every organization with at least one event older than the shortest retention (30 days),
/// with its retention.
pub async fn candidates(pool: &PgPool) -> ApiResult<Vec<Retention>> {
    Ok(sqlx::query_as(
        "select o.environment_id, o.id as organization_id,
                coalesce(r.retention_period_in_days, $1) as days
         from organizations o
         left join audit_log_retention r
           on r.environment_id = o.environment_id and r.organization_id = o.id
         where exists (select 1 from audit_log_events e
                       where e.environment_id = o.environment_id and e.organization_id = o.id
                         and e.occurred_at < now() - interval '30 days')",
    )
    .bind(DEFAULT_RETENTION_DAYS)
    .fetch_all(pool)
    .await?)
}

/// Deletes up to `limit` of the organization's events that occurred more than `days` days ago,
/// oldest first; returns how many were deleted.
pub async fn purge_organization(pool: &PgPool, org: &Retention, limit: i64) -> ApiResult<u64> {
    let done = sqlx::query(
        "delete from audit_log_events e
         using (select environment_id, id from audit_log_events
                where environment_id = $1 and organization_id = $2
                  and occurred_at < now() - make_interval(days => $3)
                order by occurred_at
                limit $4
                for update skip locked) expired
         where e.environment_id = expired.environment_id and e.id = expired.id",
    )
    .bind(&org.environment_id)
    .bind(&org.organization_id)
    .bind(org.days)
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
