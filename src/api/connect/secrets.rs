//! Client secrets of Connect applications, spec tag `application.client-secrets`:
//! `ApplicationCredentialsController_list` (`GET /connect/applications/{id}/client_secrets`, a
//! bare array, oldest first), `_create` (`POST …/client_secrets` `{}` → 201
//! `NewConnectApplicationSecret`, the `secret` shown this once) and `_delete` (`DELETE
//! /connect/client_secrets/{id}` → 204). `{id}` of the application is its id or client id. An
//! application holds at most [`SECRETS_MAX`] secrets.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::Value;

use super::lookup::{find, unknown};
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath};
use crate::ids::ConnectClientSecretId;
use crate::state::AppState;
use crate::store::connect_applications;
use crate::store::connect_client_secrets::{self, ClientSecret, NewClientSecret};

/// Most secrets of one application (rotation needs two).
pub const SECRETS_MAX: i64 = 10;

/// Routes of the client secrets.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/connect/applications/{id}/client_secrets",
            get(list_secrets).post(create_secret),
        )
        .route("/connect/client_secrets/{id}", delete(delete_secret))
}

/// `GET /connect/applications/{id}/client_secrets` → 200 `[secret…]`. Errors: 404.
async fn list_secrets(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ClientSecret>>> {
    let env = &ctx.environment_id;
    let app = find(&state, env, &id).await?;
    let mut conn = state.db.acquire().await?;
    Ok(Json(
        connect_client_secrets::list(&mut conn, env, &app.id).await?,
    ))
}

/// `POST /connect/applications/{id}/client_secrets` `{}` → 201 with `secret`. Errors: 404; 422
/// `too_many_client_secrets` past [`SECRETS_MAX`].
async fn create_secret(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(id): Path<String>,
    AppJson(_body): AppJson<Value>,
) -> ApiResult<(StatusCode, Json<NewClientSecret>)> {
    let env = &ctx.environment_id;
    let app = find(&state, env, &id).await?;
    let mut tx = state.db.begin().await?;
    // Locks the application, so concurrent creations count one after the other.
    connect_applications::lock(&mut tx, env, &app.id)
        .await?
        .ok_or_else(|| unknown(&id))?;
    if connect_client_secrets::count(&mut tx, env, &app.id).await? >= SECRETS_MAX {
        return Err(ApiError::Unprocessable {
            code: "too_many_client_secrets",
            message: format!("An application has at most {SECRETS_MAX} client secrets."),
            errors: Vec::new(),
        });
    }
    let created = connect_client_secrets::insert(&mut tx, env, &app.id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `DELETE /connect/client_secrets/{id}` → 204. Errors: 404.
async fn delete_secret(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<ConnectClientSecretId>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    if !connect_client_secrets::delete(&mut tx, &ctx.environment_id, &id).await? {
        return Err(ApiError::not_found_id::<ConnectClientSecretId>(id));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
