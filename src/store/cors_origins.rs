//! CORS origins of an environment (spec tag `user-management.cors-origins`; schema
//! `CorsOriginResponse`): the browser origins allowed to call the public endpoints that take a
//! `client_id` (`POST /user_management/authenticate`, `POST /user_management/authorize/device`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};

use super::allowed_urls::{self, AllowedUrl};
use super::page::ListParams;
use crate::db::Tx;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::{CorsOriginId, EnvironmentId};

/// A CORS origin as the API returns it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct CorsOrigin {
    /// Always `"cors_origin"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// `cors_origin_…`
    pub id: CorsOriginId,
    /// `scheme://host[:port]`
    pub origin: String,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, origin, created_at, updated_at";

impl AllowedUrl for CorsOrigin {
    const TABLE: &'static str = "cors_origins";
    const COLUMNS: &'static str = COLUMNS;
    const URL_COLUMN: &'static str = "origin";
    const ENTITY: &'static str = "CORS origin";
    type Id = CorsOriginId;
    fn tagged(mut self) -> Self {
        self.object = "cors_origin";
        self
    }
}

/// Adds an origin (already normalised). Errors: 409 `duplicate_cors_origin`.
pub async fn insert(tx: &mut Tx, env: &EnvironmentId, origin: &str) -> ApiResult<CorsOrigin> {
    let row: CorsOrigin = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into cors_origins (id, environment_id, origin) values ($1, $2, $3) returning {COLUMNS}"
    )))
    .bind(CorsOriginId::new())
    .bind(env)
    .bind(origin)
    .fetch_one(&mut **tx)
    .await
    .on_constraint("cors_origins_origin_key", || ApiError::Conflict {
        code: Some("duplicate_cors_origin"),
        message: format!("CORS origin '{origin}' already exists."),
    })?;
    Ok(row.tagged())
}

/// One page (`limit + 1` rows) of the environment's origins.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    params: &ListParams,
) -> ApiResult<Vec<CorsOrigin>> {
    allowed_urls::list(conn, env, params).await
}

/// Removes an origin; 404 when absent.
pub async fn delete(tx: &mut Tx, env: &EnvironmentId, id: &CorsOriginId) -> ApiResult<()> {
    allowed_urls::delete::<CorsOrigin>(tx, env, id).await
}

/// Whether `origin` is registered for the environment.
pub async fn is_allowed(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    origin: &str,
) -> ApiResult<bool> {
    allowed_urls::is_allowed::<CorsOrigin>(conn, env, origin).await
}

/// Whether any environment registered `origin`. Only for CORS preflights, which carry no
/// `client_id`; the request that follows is checked against its own environment.
pub async fn registered_anywhere(conn: &mut PgConnection, origin: &str) -> ApiResult<bool> {
    Ok(
        sqlx::query_scalar("select exists(select 1 from cors_origins where origin = $1)")
            .bind(origin)
            .fetch_one(conn)
            .await?,
    )
}
