//! `GET`/`PUT /organizations/{id}/audit_logs_retention` (`AuditLogsRetentionJson`: 30 or 365
//! days, 365 until set) and `GET /organizations/{id}/audit_log_configuration`
//! (`AuditLogConfiguration`: retention, `state: active`, and `log_stream`, the organization's
//! stream from [`super::streams`], or `null`). Another environment's organization is a 404.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath};
use crate::ids::{EnvironmentId, OrganizationId};
use crate::state::AppState;
use crate::store::audit_logs;
use crate::store::organizations;

/// `AuditLogsRetentionJson`.
#[derive(Debug, Serialize)]
pub struct Retention {
    /// 30 or 365.
    pub retention_period_in_days: i32,
}

/// `AuditLogConfiguration`.
#[derive(Debug, Serialize)]
pub struct Configuration {
    /// The organization.
    pub organization_id: OrganizationId,
    /// 30 or 365.
    pub retention_period_in_days: i32,
    /// Always `active`: ingestion is on for every organization.
    pub state: &'static str,
    /// The organization's log stream (`{id, type, state, last_synced_at, created_at}`), or
    /// `null`.
    pub log_stream: Option<Value>,
}

async fn require_org(
    conn: &mut sqlx::PgConnection,
    env: &EnvironmentId,
    id: &OrganizationId,
) -> ApiResult<()> {
    organizations::find(conn, env, id)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found("Organization", id))
}

/// `GET /organizations/{id}/audit_logs_retention`. Errors: 404 unknown organization.
pub async fn get_retention(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationId>,
) -> ApiResult<Json<Retention>> {
    let mut conn = state.db.acquire().await?;
    require_org(&mut conn, &ctx.environment_id, &id).await?;
    let days = audit_logs::retention(&mut conn, &ctx.environment_id, &id).await?;
    Ok(Json(Retention {
        retention_period_in_days: days,
    }))
}

/// `PUT /organizations/{id}/audit_logs_retention` `{retention_period_in_days}`. Errors: 404
/// unknown organization, 422 for anything but 30 or 365.
pub async fn update_retention(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationId>,
    AppJson(body): AppJson<Map<String, Value>>,
) -> ApiResult<Json<Retention>> {
    let days = match body.get("retention_period_in_days") {
        None | Some(Value::Null) => Err("required"),
        Some(v) => match v.as_i64() {
            Some(d @ (30 | 365)) => Ok(d as i32),
            _ => Err("invalid"),
        },
    };
    let env = &ctx.environment_id;
    let mut tx = state.db.begin().await?;
    require_org(&mut tx, env, &id).await?;
    let days = days.map_err(|code| {
        ApiError::invalid_field(
            "retention_period_in_days",
            code,
            "retention_period_in_days must be 30 or 365.",
        )
    })?;
    let days = audit_logs::set_retention(&mut tx, env, &id, days).await?;
    tx.commit().await?;
    Ok(Json(Retention {
        retention_period_in_days: days,
    }))
}

/// `GET /organizations/{id}/audit_log_configuration`. Errors: 404 unknown organization.
pub async fn get_configuration(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationId>,
) -> ApiResult<Json<Configuration>> {
    let mut conn = state.db.acquire().await?;
    require_org(&mut conn, &ctx.environment_id, &id).await?;
    let days = audit_logs::retention(&mut conn, &ctx.environment_id, &id).await?;
    let log_stream = super::streams::log_stream(&mut conn, &ctx.environment_id, &id).await?;
    Ok(Json(Configuration {
        organization_id: id,
        retention_period_in_days: days,
        state: "active",
        log_stream,
    }))
}
