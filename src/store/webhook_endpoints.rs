//! Webhook endpoints (spec tag `webhooks`; schema `WebhookEndpointJson`).
//!
//! The `whsec_…` signing secret is returned on every read (the spec requires it), so it is stored
//! encrypted with the vault rather than hashed. Disabling an endpoint skips its pending
//! deliveries; new events are only queued for enabled endpoints (see `0310_webhooks.sql`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AssertSqlSafe, FromRow, PgConnection, Postgres, QueryBuilder};

use super::page::ListParams;
use crate::crypto::vault::Vault;
use crate::db::Tx;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::{EnvironmentId, WebhookEndpointId};

/// A webhook endpoint as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookEndpoint {
    /// Always `"webhook_endpoint"`.
    pub object: &'static str,
    /// `we_…`
    pub id: WebhookEndpointId,
    /// Where events are POSTed.
    pub endpoint_url: String,
    /// The `whsec_…` signing secret.
    pub secret: String,
    /// `enabled` or `disabled`.
    pub status: String,
    /// Subscribed event names.
    pub events: Vec<String>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, FromRow)]
struct Row {
    id: WebhookEndpointId,
    endpoint_url: String,
    secret_enc: Vec<u8>,
    status: String,
    events: Vec<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, endpoint_url, secret_enc, status, events, created_at, updated_at";

impl Row {
    fn open(self, vault: &Vault) -> ApiResult<WebhookEndpoint> {
        let secret =
            String::from_utf8(vault.open(&self.secret_enc)?).map_err(anyhow::Error::from)?;
        Ok(WebhookEndpoint {
            object: "webhook_endpoint",
            id: self.id,
            endpoint_url: self.endpoint_url,
            secret,
            status: self.status,
            events: self.events,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn duplicate() -> ApiError {
    ApiError::Conflict {
        code: Some("duplicate_endpoint"),
        message: "A Webhook Endpoint with the same endpoint URL already exists.".into(),
    }
}

/// Creates an enabled endpoint with a fresh `whsec_…` secret.
/// Errors: 409 `duplicate_endpoint` for a URL the environment already has.
pub async fn insert(
    tx: &mut Tx,
    vault: &Vault,
    env: &EnvironmentId,
    endpoint_url: &str,
    events: &[String],
) -> ApiResult<WebhookEndpoint> {
    let secret = format!("whsec_{}", crate::crypto::random_alphanumeric(32));
    let row: Row = sqlx::query_as(AssertSqlSafe(format!(
        "insert into webhook_endpoints (id, environment_id, endpoint_url, secret_enc, events)
         values ($1, $2, $3, $4, $5) returning {COLUMNS}"
    )))
    .bind(WebhookEndpointId::new())
    .bind(env)
    .bind(endpoint_url)
    .bind(vault.seal(secret.as_bytes())?)
    .bind(events)
    .fetch_one(&mut **tx)
    .await
    .on_constraint("webhook_endpoints_url_key", duplicate)?;
    row.open(vault)
}

/// One page of endpoints; `limit + 1` rows for the envelope.
pub async fn list(
    conn: &mut PgConnection,
    vault: &Vault,
    env: &EnvironmentId,
    params: &ListParams,
) -> ApiResult<Vec<WebhookEndpoint>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {COLUMNS} from webhook_endpoints where environment_id = "
    ));
    qb.push_bind(env.to_string());
    params.push_keyset(&mut qb, "id");
    let rows: Vec<Row> = qb.build_query_as().fetch_all(conn).await?;
    rows.into_iter().map(|r| r.open(vault)).collect()
}

/// One endpoint by id.
pub async fn find(
    conn: &mut PgConnection,
    vault: &Vault,
    env: &EnvironmentId,
    id: &WebhookEndpointId,
) -> ApiResult<Option<WebhookEndpoint>> {
    let row: Option<Row> = sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from webhook_endpoints where environment_id = $1 and id = $2"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.open(vault)).transpose()
}

/// A partial update (each `None` leaves the field unchanged).
#[derive(Debug, Default)]
pub struct EndpointUpdate {
    /// New URL.
    pub endpoint_url: Option<String>,
    /// New status.
    pub status: Option<String>,
    /// New subscription.
    pub events: Option<Vec<String>>,
}

/// Updates an endpoint; disabling it marks its pending deliveries `skipped`. `None` when absent.
/// Errors: 409 `duplicate_endpoint`.
pub async fn update(
    tx: &mut Tx,
    vault: &Vault,
    env: &EnvironmentId,
    id: &WebhookEndpointId,
    up: &EndpointUpdate,
) -> ApiResult<Option<WebhookEndpoint>> {
    let row: Option<Row> = sqlx::query_as(AssertSqlSafe(format!(
        "update webhook_endpoints set endpoint_url = coalesce($3, endpoint_url),
           status = coalesce($4, status), events = coalesce($5, events)
         where environment_id = $1 and id = $2 returning {COLUMNS}"
    )))
    .bind(env)
    .bind(id)
    .bind(&up.endpoint_url)
    .bind(&up.status)
    .bind(&up.events)
    .fetch_optional(&mut **tx)
    .await
    .on_constraint("webhook_endpoints_url_key", duplicate)?;
    if row.as_ref().is_some_and(|r| r.status == "disabled") {
        sqlx::query(
            "update webhook_deliveries set status = 'skipped'
             where environment_id = $1 and endpoint_id = $2 and status = 'pending'",
        )
        .bind(env)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    row.map(|r| r.open(vault)).transpose()
}

/// Deletes an endpoint with its deliveries; false when absent.
pub async fn delete(tx: &mut Tx, env: &EnvironmentId, id: &WebhookEndpointId) -> ApiResult<bool> {
    let done = sqlx::query("delete from webhook_endpoints where environment_id = $1 and id = $2")
        .bind(env)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}
