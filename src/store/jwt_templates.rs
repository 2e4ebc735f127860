//! The environment's JWT template (spec tag `user-management.jwt-template`; schema `JwtTemplate`):
//! custom claims merged into every access token. Rendering lives in
//! [`crate::api::user_management::jwt_template`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};

use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::EnvironmentId;

/// The template as the API returns it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct JwtTemplate {
    /// Always `"jwt_template"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// The template text: a JSON object whose values may use `{{ user.* }}`,
    /// `{{ organization.* }}` and `{{ organization_membership.* }}` placeholders.
    pub content: String,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

fn tag(mut t: JwtTemplate) -> JwtTemplate {
    t.object = "jwt_template";
    t
}

/// The environment's template, if one was set.
pub async fn find(conn: &mut PgConnection, env: &EnvironmentId) -> ApiResult<Option<JwtTemplate>> {
    let row: Option<JwtTemplate> = sqlx::query_as(
        "select content, created_at, updated_at from jwt_templates where environment_id = $1",
    )
    .bind(env)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(tag))
}

/// Sets the template (already validated).
pub async fn upsert(tx: &mut Tx, env: &EnvironmentId, content: &str) -> ApiResult<JwtTemplate> {
    let row: JwtTemplate = sqlx::query_as(
        "insert into jwt_templates (environment_id, content) values ($1, $2)
         on conflict (environment_id) do update set content = excluded.content
         returning content, created_at, updated_at",
    )
    .bind(env)
    .bind(content)
    .fetch_one(&mut **tx)
    .await?;
    Ok(tag(row))
}
