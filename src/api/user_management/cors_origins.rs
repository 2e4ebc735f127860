//! CORS origins: `POST /user_management/cors_origins` (operation
//! `CorsOriginsController_createCorsOrigin`, spec tag `user-management.cors-origins`), plus `GET`
//! (list) and `DELETE …/{id}` (Keystead extensions). [`crate::http::cors`] enforces them on the
//! public endpoints browsers call with a client id.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::http::cors::normalize_origin;
use crate::http::{AppJson, Env, IdPath, List, ListParams, Order, QueryMap};
use crate::ids::CorsOriginId;
use crate::state::AppState;
use crate::store::cors_origins::{self, CorsOrigin};

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/user_management/cors_origins",
            get(list_cors_origins).post(create_cors_origin),
        )
        .route(
            "/user_management/cors_origins/{id}",
            delete(delete_cors_origin),
        )
}

/// Body of `POST /user_management/cors_origins`.
#[derive(Debug, Deserialize)]
pub struct CreateCorsOrigin {
    /// `scheme://host[:port]`.
    pub origin: String,
}

/// `POST /user_management/cors_origins` → 201 CorsOriginResponse (the origin normalised).
/// Errors: 422 `{message, errors[{property, constraints}]}`; 409 `duplicate_cors_origin`.
async fn create_cors_origin(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateCorsOrigin>,
) -> ApiResult<(StatusCode, Json<CorsOrigin>)> {
    crate::limits::max_chars("origin", Some(&body.origin), crate::limits::URL_MAX)?;
    let origin = normalize_origin(&body.origin).ok_or_else(|| ApiError::Unprocessable {
        code: "invalid_request_parameters",
        message: format!("'{}' is not an origin (scheme://host[:port]).", body.origin),
        errors: vec![json!({
            "property": "origin",
            "constraints": {"isOrigin": "origin must be an http(s) origin without a path"},
        })],
    })?;
    let mut tx = state.db.begin().await?;
    let created = cors_origins::insert(&mut tx, &ctx.environment_id, &origin).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /user_management/cors_origins` (extension).
async fn list_cors_origins(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
) -> ApiResult<Json<List<CorsOrigin>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let mut conn = state.db.acquire().await?;
    let rows = cors_origins::list(&mut conn, &ctx.environment_id, &params).await?;
    Ok(Json(params.page(rows, |r| &r.id)))
}

/// `DELETE /user_management/cors_origins/{id}` (extension) → 204. Errors: 404.
async fn delete_cors_origin(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<CorsOriginId>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    cors_origins::delete(&mut tx, &ctx.environment_id, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
