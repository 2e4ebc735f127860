//! `GET` / `PUT /user_management/jwt_template` (operations `JwtTemplatesController_*`, spec tag
//! `user-management.jwt-template`). The template's syntax, its rendering and its merge into every
//! access token live in [`crate::auth::claims::jwt_template`]; a template is stored only when it
//! renders.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::auth::claims::jwt_template::render;
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env};
use crate::state::AppState;
use crate::store::jwt_templates::{self, JwtTemplate};

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/user_management/jwt_template",
        get(get_template).put(put_template),
    )
}

/// Body of `PUT /user_management/jwt_template`.
#[derive(Debug, Deserialize)]
pub struct UpdateJwtTemplate {
    /// The template text.
    pub content: String,
}

/// `GET /user_management/jwt_template`. Errors: 404 when none was set.
async fn get_template(
    State(state): State<AppState>,
    Env(ctx): Env,
) -> ApiResult<Json<JwtTemplate>> {
    let mut conn = state.db.acquire().await?;
    jwt_templates::find(&mut conn, &ctx.environment_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("JWT template", "jwt_template"))
}

/// `PUT /user_management/jwt_template`. Errors: 422 `invalid_request_parameters` for a template
/// that does not render to a JSON object or sets a reserved claim.
async fn put_template(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<UpdateJwtTemplate>,
) -> ApiResult<Json<JwtTemplate>> {
    if body.content.len() > 16 * 1024 {
        return Err(invalid("The template must be at most 16 KiB."));
    }
    let sample = json!({
        "user": {"id": "user_x", "email": "x@example.com", "metadata": {}},
        "organization": {"id": "org_x", "name": "x", "metadata": {}, "domains": []},
        "organization_membership": {"role": "member", "roles": ["member"]},
    });
    render(&body.content, &sample).map_err(|e| invalid(&e))?;
    render(&body.content, &json!({})).map_err(|e| invalid(&e))?;
    let mut tx = state.db.begin().await?;
    let template = jwt_templates::upsert(&mut tx, &ctx.environment_id, &body.content).await?;
    tx.commit().await?;
    Ok(Json(template))
}

fn invalid(message: &str) -> ApiError {
    ApiError::Unprocessable {
        code: "invalid_request_parameters",
        message: format!("Invalid JWT template: {message}"),
        errors: vec![json!({ "code": "invalid", "field": "content" })],
    }
}
