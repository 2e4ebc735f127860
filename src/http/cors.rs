//! CORS for the public endpoints a browser may call with a client id in the body: `POST
//! /user_management/authenticate` and `POST /user_management/authorize/device`. The allowed
//! origins are the environment's (`POST /user_management/cors_origins`).
//!
//! A request carrying an `Origin` header other than Keystead's own must come from an origin of
//! the environment named by its `client_id`, else it is refused with 403 `access_denied`;
//! allowed responses carry `Access-Control-Allow-Origin` and `Access-Control-Allow-Credentials:
//! true` (authkit-js's production mode calls with `credentials: "include"`, see
//! [`super::session_cookie`]). Preflights (`OPTIONS`) carry no client id, so they are answered,
//! with the same two headers, for origins some environment registered.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, CONTENT_TYPE, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{cors_origins, environments};

/// The public paths this module guards.
pub const PATHS: [&str; 2] = [
    "/user_management/authenticate",
    "/user_management/authorize/device",
];

/// Normalises an origin: lowercase `scheme://host[:port]`, no path, no trailing slash. `None`
/// for anything that is not an http(s) origin.
pub fn normalize_origin(origin: &str) -> Option<String> {
    let url = url::Url::parse(origin.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    if !(url.path().is_empty() || url.path() == "/")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return None;
    }
    match url.origin() {
        url::Origin::Tuple(..) => Some(url.origin().ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

fn forbidden(origin: &str) -> ApiError {
    ApiError::OAuth {
        status: StatusCode::FORBIDDEN,
        error: "access_denied",
        description: format!("Origin '{origin}' is not an allowed CORS origin for this client."),
    }
}

/// The request's `client_id`; one holding a NUL names no client (the handler refuses it).
fn client_id(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    client_id_field(headers, body).filter(|c| !super::extract::has_nul(c))
}

fn client_id_field(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form {
        url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "client_id")
            .map(|(_, v)| v.into_owned())
    } else {
        serde_json::from_slice::<Value>(body)
            .ok()?
            .get("client_id")?
            .as_str()
            .map(String::from)
    }
}

async fn allowed(
    state: &AppState,
    client_id: Option<&str>,
    origin: &str,
) -> ApiResult<Option<bool>> {
    let Some(client_id) = client_id else {
        return Ok(None);
    };
    let mut conn = state.db.acquire().await?;
    let Some(env) = environments::find_by_client_id(&mut conn, client_id).await? else {
        return Ok(None);
    };
    Ok(Some(
        cors_origins::is_allowed(&mut conn, &env.id, origin).await?,
    ))
}

/// Middleware over the public routes: checks the `Origin` of requests to [`PATHS`] against the
/// environment of their `client_id`. Requests without `Origin`, from Keystead's own origin, or
/// naming an unknown client (which the handler refuses) pass unchanged.
pub async fn enforce(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let origin = req.headers().get(ORIGIN).and_then(|v| v.to_str().ok());
    let Some(origin) = origin.map(|o| normalize_origin(o).unwrap_or_else(|| o.to_string())) else {
        return next.run(req).await;
    };
    if req.method() == Method::OPTIONS
        || !PATHS.contains(&req.uri().path())
        || normalize_origin(&state.settings.public_url).as_deref() == Some(origin.as_str())
    {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, state.settings.max_body_bytes).await else {
        return ApiError::PayloadTooLarge.into_response();
    };
    let verdict = match allowed(
        &state,
        client_id(&parts.headers, &bytes).as_deref(),
        &origin,
    )
    .await
    {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    if verdict == Some(false) {
        return forbidden(&origin).into_response();
    }
    let mut res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if verdict == Some(true)
        && let Ok(value) = HeaderValue::from_str(&origin)
    {
        res.headers_mut().insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
        res.headers_mut().insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        res.headers_mut()
            .insert(VARY, HeaderValue::from_static("Origin"));
    }
    res
}

/// `OPTIONS` on [`PATHS`]: 204 with the CORS headers when some environment registered the
/// origin, 403 otherwise; 204 without CORS headers when there is no `Origin`.
pub async fn preflight(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let Some(raw) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let origin = normalize_origin(raw).ok_or_else(|| forbidden(raw))?;
    let mut conn = state.db.acquire().await?;
    if !cors_origins::registered_anywhere(&mut conn, &origin).await? {
        return Err(forbidden(&origin));
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&origin) {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
        h.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    h.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    h.insert(VARY, HeaderValue::from_static("Origin"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::normalize_origin;

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            normalize_origin("HTTPS://App.Example.com/").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            normalize_origin("http://localhost:3000").as_deref(),
            Some("http://localhost:3000")
        );
        assert_eq!(
            normalize_origin("https://example.com:443").as_deref(),
            Some("https://example.com")
        );
        for bad in [
            "example.com",
            "https://example.com/path",
            "javascript:alert(1)",
            "null",
        ] {
            assert!(normalize_origin(bad).is_none(), "{bad}");
        }
    }
}
