//! The SQL an environment's allowed URLs share — CORS origins ([`super::cors_origins`]) and
//! redirect URIs ([`super::redirect_uris`]): list a page, delete by id, check a value. Each
//! kind's file keeps its own insert (conflict answer, default URI) and extra queries.

use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};

use super::page::ListParams;
use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::ids::{EnvironmentId, TypedId};

/// A table of allowed URLs of an environment (`id`, `environment_id`, the URL column, …).
pub trait AllowedUrl: for<'r> FromRow<'r, PgRow> + Send + Unpin {
    /// The table.
    const TABLE: &'static str;
    /// The columns a row is read from.
    const COLUMNS: &'static str;
    /// The column holding the URL (matched exactly).
    const URL_COLUMN: &'static str;
    /// The entity named in a 404 (`"CORS origin"`).
    const ENTITY: &'static str;
    /// The row id (`CorsOriginId`, `RedirectUriId`).
    type Id: TypedId;
    /// The row with its `object` set (not a column).
    fn tagged(self) -> Self;
}

/// One page (`limit + 1` rows) of the environment's URLs.
pub async fn list<T: AllowedUrl>(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    params: &ListParams,
) -> ApiResult<Vec<T>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {} from {} where environment_id = ",
        T::COLUMNS,
        T::TABLE
    ));
    qb.push_bind(env.to_string());
    params.push_keyset(&mut qb, "id");
    let rows: Vec<T> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(T::tagged).collect())
}

/// Removes a URL by id; 404 when absent.
pub async fn delete<T: AllowedUrl>(tx: &mut Tx, env: &EnvironmentId, id: &T::Id) -> ApiResult<()> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "delete from {} where environment_id = $1 and id = $2",
        T::TABLE
    )))
    .bind(env)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found(T::ENTITY, id.as_ref()));
    }
    Ok(())
}

/// Whether `url` is registered (exactly) for the environment.
pub async fn is_allowed<T: AllowedUrl>(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    url: &str,
) -> ApiResult<bool> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select exists(select 1 from {} where environment_id = $1 and {} = $2)",
        T::TABLE,
        T::URL_COLUMN
    )))
    .bind(env)
    .bind(url)
    .fetch_one(conn)
    .await?)
}
