//! `POST /user_management/authorize/device` (operation `UserlandSsoController_deviceAuthorization`,
//! spec tag `user-management.authentication`): the Device Authorization Request of RFC 8628
//! §3.1–3.2. Public: the body names the client (`client_id`); a browser caller must come from
//! one of the environment's CORS origins ([`crate::http::cors`]).
//!
//! The person opens `verification_uri` (`{public_url}/device`, served by the hosted login) and
//! enters the user code; the device polls the `urn:ietf:params:oauth:grant-type:device_code`
//! grant meanwhile ([`super::grants::device_code`]).
//!
//! Errors: 400 `{error: invalid_client}` for an unknown client; 422 without `client_id`.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::http::OAuthJson;
use crate::http::cors;
use crate::state::AppState;
use crate::store::{device_authorizations, environments};

/// Public route (the client id is in the body), with its CORS preflight.
pub fn public_router() -> Router<AppState> {
    Router::new().route(
        "/user_management/authorize/device",
        post(authorize_device).options(cors::preflight),
    )
}

/// Body of `POST /user_management/authorize/device`.
#[derive(Debug, Deserialize)]
pub struct DeviceAuthorizationRequest {
    /// The environment's client id.
    pub client_id: String,
}

/// `DeviceAuthorizationResponse` (RFC 8628 §3.2).
#[derive(Debug, Serialize)]
pub struct DeviceAuthorizationResponse {
    /// What the device polls with.
    pub device_code: String,
    /// What the person types, `XXXX-XXXX`.
    pub user_code: String,
    /// Where the person goes.
    pub verification_uri: String,
    /// The same with the user code filled in.
    pub verification_uri_complete: String,
    /// Seconds until the codes expire.
    pub expires_in: i32,
    /// Seconds the device waits between polls.
    pub interval: i32,
}

/// `POST /user_management/authorize/device` → 200 DeviceAuthorizationResponse.
async fn authorize_device(
    State(state): State<AppState>,
    OAuthJson(body): OAuthJson<DeviceAuthorizationRequest>,
) -> ApiResult<Json<DeviceAuthorizationResponse>> {
    let env = environments::find_by_client_id(&mut *state.db.acquire().await?, &body.client_id)
        .await?
        .ok_or_else(|| ApiError::oauth("invalid_client", "Unknown client."))?;
    let mut tx = state.db.begin().await?;
    let created = device_authorizations::insert(&mut tx, &env.id).await?;
    tx.commit().await?;
    let verification_uri = format!("{}/device", state.settings.public_url);
    Ok(Json(DeviceAuthorizationResponse {
        verification_uri_complete: format!("{verification_uri}?user_code={}", created.user_code),
        verification_uri,
        device_code: created.device_code,
        user_code: created.user_code,
        expires_in: created.expires_in,
        interval: created.interval,
    }))
}
