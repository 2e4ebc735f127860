//! Operational routes, public and never rate limited: `GET /health` (liveness), `GET /ready`
//! (database reachable) and `GET /metrics` (Prometheus text; bearer-protected when
//! `KEYSTEAD_METRICS_TOKEN` is set). Keystead extensions, not in the WorkOS spec.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::crypto::ct_eq;
use crate::error::ApiError;
use crate::http::auth::bearer;
use crate::state::AppState;
use crate::telemetry;

/// Operational routes.
pub fn ops_router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
}

/// 200 `{"status": "ok", "version": …}` once the server accepts API calls.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// 200 `{"status": "ready"}` when the database answers within 2 s, else 503.
async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let ping = sqlx::query_scalar::<_, i32>("select 1").fetch_one(&state.db);
    match tokio::time::timeout(Duration::from_secs(2), ping).await {
        Ok(Ok(_)) => Ok(Json(json!({ "status": "ready" }))),
        _ => Err(ApiError::Unavailable),
    }
}

/// Prometheus exposition: request counts and latencies by route, pool usage, rate-limit
/// rejections, idempotency replays, background queue depth.
async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(expected) = &state.settings.metrics_token {
        let given = bearer(&headers).unwrap_or_default();
        if !ct_eq(given.as_bytes(), expected.as_bytes()) {
            return Err(ApiError::Unauthorized(
                "A valid metrics token is required.".into(),
            ));
        }
    }
    metrics::gauge!("keystead_db_pool_connections").set(f64::from(state.db.size()));
    metrics::gauge!("keystead_db_pool_idle_connections").set(state.db.num_idle() as f64);
    let body = telemetry::metrics_handle().render();
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        body,
    ))
}
