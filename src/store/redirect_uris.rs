//! Redirect URIs of an environment (spec tag `user-management.redirect-uris`; schema
//! `RedirectUri`): the only places Keystead redirects browsers to (logout `return_to`, the
//! hosted login's `redirect_uri`). Matching is exact. The first URI added is the default.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};

use super::allowed_urls::{self, AllowedUrl};
use super::page::ListParams;
use crate::db::Tx;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::{EnvironmentId, RedirectUriId};

/// A redirect URI as the API returns it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct RedirectUri {
    /// Always `"redirect_uri"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// `ruri_…`
    pub id: RedirectUriId,
    /// The URI.
    pub uri: String,
    /// Whether redirects without an explicit target go here.
    #[sqlx(rename = "is_default")]
    pub default: bool,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, uri, is_default, created_at, updated_at";

impl AllowedUrl for RedirectUri {
    const TABLE: &'static str = "redirect_uris";
    const COLUMNS: &'static str = COLUMNS;
    const URL_COLUMN: &'static str = "uri";
    const ENTITY: &'static str = "Redirect URI";
    type Id = RedirectUriId;
    fn tagged(mut self) -> Self {
        self.object = "redirect_uri";
        self
    }
}

/// Adds a URI (already validated). It becomes the default when asked to or when it is the
/// environment's first. Errors: 400 for a URI already registered.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    uri: &str,
    default: bool,
) -> ApiResult<RedirectUri> {
    let has_default: bool = sqlx::query_scalar(
        "select exists(select 1 from redirect_uris where environment_id = $1 and is_default)",
    )
    .bind(env)
    .fetch_one(&mut **tx)
    .await?;
    let default = default || !has_default;
    if default {
        sqlx::query(
            "update redirect_uris set is_default = false where environment_id = $1 and is_default",
        )
        .bind(env)
        .execute(&mut **tx)
        .await?;
    }
    let row: RedirectUri = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into redirect_uris (id, environment_id, uri, is_default) values ($1, $2, $3, $4) returning {COLUMNS}"
    )))
    .bind(RedirectUriId::new())
    .bind(env)
    .bind(uri)
    .bind(default)
    .fetch_one(&mut **tx)
    .await
    // The spec's own example answers a duplicate with 422 and this message.
    .on_constraint("redirect_uris_uri_key", || ApiError::Unprocessable {
        code: "invalid_request_parameters",
        message: format!("Redirect URI '{uri}' already exists."),
        errors: Vec::new(),
    })?;
    Ok(row.tagged())
}

/// One page (`limit + 1` rows) of the environment's redirect URIs.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    params: &ListParams,
) -> ApiResult<Vec<RedirectUri>> {
    allowed_urls::list(conn, env, params).await
}

/// Removes a URI; 404 when absent.
pub async fn delete(tx: &mut Tx, env: &EnvironmentId, id: &RedirectUriId) -> ApiResult<()> {
    allowed_urls::delete::<RedirectUri>(tx, env, id).await
}

/// Whether `uri` is registered (exactly) for the environment.
pub async fn is_allowed(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    uri: &str,
) -> ApiResult<bool> {
    allowed_urls::is_allowed::<RedirectUri>(conn, env, uri).await
}

/// The environment's default redirect URI, if any.
pub async fn default_uri(
    conn: &mut PgConnection,
    env: &EnvironmentId,
) -> ApiResult<Option<String>> {
    Ok(
        sqlx::query_scalar(
            "select uri from redirect_uris where environment_id = $1 and is_default",
        )
        .bind(env)
        .fetch_optional(conn)
        .await?,
    )
}
