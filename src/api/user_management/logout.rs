//! `GET /user_management/sessions/logout` (operation `UserlandSessionsController_logout`, spec tag
//! `user-management.authentication`): the public URL a browser is sent to (the SDKs'
//! `get_logout_url`). It revokes the session named by `session_id` (the access token's `sid`)
//! and redirects (302) to `return_to`, which must be one of the environment's redirect URIs, or
//! to the environment's default redirect URI; with neither it answers 200 with no body.
//!
//! The answer also clears AuthKit's production-mode cookies for the session's client (the
//! HttpOnly refresh cookie and its entry in `workos-has-session`, see
//! [`crate::http::session_cookie`]) when the request carries them: authkit-js's `signOut()`
//! navigates (or `no-cors` fetches with credentials) to this URL on Keystead's host.
//!
//! Errors: 422 `{message}` for a missing or unknown `session_id` or an unregistered `return_to`
//! (nothing is revoked then).

use axum::Router;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::{ApiError, ApiResult};
use crate::http::{QueryMap, session_cookie};
use crate::ids::SessionId;
use crate::state::AppState;
use crate::store::{environments, redirect_uris, sessions};

/// Public route (no API key).
pub fn public_router() -> Router<AppState> {
    Router::new().route("/user_management/sessions/logout", get(logout))
}

fn unprocessable(message: String) -> ApiError {
    ApiError::Unprocessable {
        code: "invalid_request_parameters",
        message,
        errors: Vec::new(),
    }
}

/// `GET /user_management/sessions/logout?session_id=…&return_to=…`.
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: QueryMap,
) -> ApiResult<Response> {
    let session_id = q
        .get("session_id")
        .ok_or_else(|| unprocessable("session_id is required.".into()))?;
    let mut conn = state.db.acquire().await?;
    let found = match SessionId::parse_lenient(session_id) {
        Some(id) => sessions::find_anywhere(&mut conn, &id).await?,
        None => None,
    };
    let (env, session) =
        found.ok_or_else(|| unprocessable(format!("Session '{session_id}' does not exist.")))?;
    let target = match q.get("return_to") {
        Some(uri) if redirect_uris::is_allowed(&mut conn, &env, uri).await? => {
            Some(uri.to_string())
        }
        Some(uri) => {
            return Err(unprocessable(format!(
                "return_to '{uri}' is not one of the environment's redirect URIs."
            )));
        }
        None => redirect_uris::default_uri(&mut conn, &env).await?,
    };
    let client_id = environments::client_id(&mut conn, &env).await?;
    drop(conn);
    let mut tx = state.db.begin().await?;
    sessions::revoke(&mut tx, &env, &session.id).await?;
    tx.commit().await?;
    let mut res = match target.and_then(|t| HeaderValue::from_str(&t).ok()) {
        Some(location) => (StatusCode::FOUND, [(LOCATION, location)]).into_response(),
        None => StatusCode::OK.into_response(),
    };
    if let Some(client_id) = client_id {
        let client = (
            client_id.as_str(),
            session_cookie::lifetime(&state, &env).await?,
        );
        session_cookie::clear(&state.settings, &headers, res.headers_mut(), client);
    }
    Ok(res)
}
