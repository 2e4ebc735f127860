//! What directory users and groups share as SCIM resources (RFC 7644 §3.4.1 get, §3.4.2 list
//! with filter, sort and paging, §3.6 delete): one generic implementation over [`ScimTable`].
//!
//! Every query is scoped to the directory's environment and the directory itself.

use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, FromRow, PgConnection, Postgres, QueryBuilder};

use super::directories::ScimDirectory;
use super::scim_filter::{Column, Cond, sort_expr};
use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::ids::{EnvironmentId, TypedId};
use crate::protocols::scim::filter::AttrPath;
use crate::store::events::{self, EventName};

/// A table of SCIM resources of a directory (`directory_users`, `directory_groups`).
pub trait ScimTable: for<'r> FromRow<'r, PgRow> + Send + Unpin {
    /// The table.
    const TABLE: &'static str;
    /// Its alias in every query; [`Self::COLUMNS`] and the column expressions use it.
    const ALIAS: &'static str;
    /// The selected columns.
    const COLUMNS: &'static str;
    /// The entity named by a 404.
    const ENTITY: &'static str;
    /// The event recorded when a row is deleted (`dsync.user.deleted`, …).
    const DELETED_EVENT: EventName;
    /// The WorkOS object events carry.
    type Object: Serialize;
    /// The row id (`DirectoryUserId`, `DirectoryGroupId`).
    type Id: TypedId;

    /// Where a SCIM attribute is stored, for filters and `sortBy`; `None`: not in SQL.
    fn column(path: &AttrPath) -> Option<Column>;
    /// The row's WorkOS object.
    fn object(&self) -> Self::Object;
    /// The resource id.
    fn id(&self) -> &Self::Id;
    /// The resource version (ETag).
    fn version(&self) -> i32;
}

/// A `sortBy`/`sortOrder` pair resolved to SQL (RFC 7644 §3.4.2.3).
#[derive(Debug, Clone)]
pub struct Sort {
    expr: String,
    descending: bool,
}

/// The sort of `T` by `path`; `None` when the attribute cannot be sorted on.
pub fn sort_by<T: ScimTable>(path: &AttrPath, descending: bool) -> Option<Sort> {
    let expr = sort_expr(path, T::column(path)?)?;
    Some(Sort { expr, descending })
}

fn scoped<T: ScimTable>(select: &str, dir: &ScimDirectory) -> QueryBuilder<Postgres> {
    let a = T::ALIAS;
    let mut qb = QueryBuilder::new(format!(
        "select {select} from {} {a} where {a}.environment_id = ",
        T::TABLE
    ));
    qb.push_bind(dir.environment_id.clone())
        .push(format!(" and {a}.directory_id = "))
        .push_bind(dir.id.clone());
    qb
}

/// The rows of a directory matching `cond`, in `sort` order (else oldest first), `page` being
/// `(offset, limit)`.
pub async fn select<T: ScimTable>(
    conn: &mut PgConnection,
    dir: &ScimDirectory,
    cond: &Cond,
    sort: Option<&Sort>,
    page: Option<(i64, i64)>,
) -> ApiResult<Vec<T>> {
    let a = T::ALIAS;
    let mut qb = scoped::<T>(T::COLUMNS, dir);
    qb.push(" and ");
    cond.push(&mut qb);
    match sort {
        Some(s) => {
            let order = if s.descending { "desc" } else { "asc" };
            qb.push(format!(" order by {} {order}, {a}.id {order}", s.expr))
        }
        None => qb.push(format!(" order by {a}.id")),
    };
    if let Some((offset, limit)) = page {
        qb.push(" offset ")
            .push_bind(offset)
            .push(" limit ")
            .push_bind(limit);
    }
    Ok(qb.build_query_as().fetch_all(conn).await?)
}

/// The number of rows of a directory matching `cond`.
pub async fn count<T: ScimTable>(
    conn: &mut PgConnection,
    dir: &ScimDirectory,
    cond: &Cond,
) -> ApiResult<i64> {
    let mut qb = scoped::<T>("count(*)", dir);
    qb.push(" and ");
    cond.push(&mut qb);
    Ok(qb.build_query_scalar::<i64>().fetch_one(conn).await?)
}

/// One row of a directory by id; `lock` takes a row lock (`for update`) in a transaction.
pub async fn find_in<T: ScimTable>(
    conn: &mut PgConnection,
    dir: &ScimDirectory,
    id: &T::Id,
    lock: bool,
) -> ApiResult<Option<T>> {
    let mut qb = scoped::<T>(T::COLUMNS, dir);
    qb.push(format!(" and {}.id = ", T::ALIAS))
        .push_bind(id.clone());
    if lock {
        qb.push(" for update");
    }
    Ok(qb.build_query_as().fetch_optional(conn).await?)
}

/// One row of the environment by id (the WorkOS read API, any directory).
pub async fn find<T: ScimTable>(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &T::Id,
) -> ApiResult<Option<T>> {
    let a = T::ALIAS;
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "select {} from {} {a} where {a}.environment_id = $1 and {a}.id = $2",
        T::COLUMNS,
        T::TABLE
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Deletes a row (its memberships go with it); records [`ScimTable::DELETED_EVENT`] in the same
/// transaction. 404 when absent.
pub async fn delete<T: ScimTable>(tx: &mut Tx, dir: &ScimDirectory, id: &T::Id) -> ApiResult<T> {
    let a = T::ALIAS;
    let row: T = sqlx::query_as(AssertSqlSafe(format!(
        "delete from {} as {a} where environment_id = $1 and directory_id = $2 and id = $3
         returning {}",
        T::TABLE,
        T::COLUMNS
    )))
    .bind(&dir.environment_id)
    .bind(&dir.id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| ApiError::not_found(T::ENTITY, id.as_ref()))?;
    events::record(
        tx,
        &dir.environment_id,
        T::DELETED_EVENT,
        &row.object(),
        Some(&dir.organization_id),
    )
    .await?;
    Ok(row)
}
