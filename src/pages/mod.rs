//! Hosted pages for browsers: Keystead's AuthKit-style login, started by
//! `GET /user_management/authorize` (spec operation `UserlandSsoController_authorize`) and
//! served under `/authkit/*`: sign in with a password, sign up, magic code, email verification,
//! TOTP, organization selection, forgot/reset password. The flow ends with a `303` to the
//! client's registered `redirect_uri?code=…&state=…`. The device verification page of RFC 8628
//! (`/device`, [`device`]) signs a person in through the same flow and ends with "Allow
//! device?" instead.
//!
//! Server-rendered HTML (askama), no scripts. Defences:
//! - the flow lives in the database; the browser holds only a random value in an encrypted,
//!   `HttpOnly`, `SameSite=Lax` cookie (`Secure` unless the public URL is `http://`);
//! - CSRF: every form carries a token derived from that cookie value, and tower-http's
//!   `CsrfLayer` rejects cross-origin POSTs (Fetch Metadata / `Origin`);
//! - redirects go only to the exact `redirect_uri` checked when the flow started, or to fixed
//!   `/authkit/*` paths;
//! - rate limits per client IP (all pages), per email and IP (passwords, codes) and per email
//!   (emails sent); a flow is dropped after 10 failed code attempts;
//! - `Content-Security-Policy` without scripts, `frame-ancestors 'none'`, `no-referrer`,
//!   `no-store`.
//!
//! Errors are rendered as HTML pages (forms re-render with the message; see [`PageError`]).

mod authorize;
mod device;
pub mod flows;
mod login;
mod steps;
mod views;

use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::PrivateCookieJar;
use axum_extra::extract::cookie::{Cookie, Key, SameSite};
use tower_http::csrf::CsrfLayer;

use crate::crypto::{ct_eq, sha256_hex};
use crate::error::ApiError;
use crate::http::rate_limit;
use crate::ids::EnvironmentId;
use crate::state::AppState;
use crate::store::authkit_flows::{self, Flow};
use views::{Chrome, Message};

/// Name of the flow cookie.
const FLOW_COOKIE: &str = "keystead_authkit";
/// How long a flow (and its cookie) lasts.
const FLOW_TTL: Duration = Duration::from_secs(3600);
/// Purpose label of the cookie key derived from the master key.
const COOKIE_KEY_PURPOSE: &str = "keystead hosted-login cookie key v1";

/// The hosted pages with their layers (per-IP rate limit, CSRF origin check, security headers).
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(authorize::router())
        .merge(device::router())
        .merge(login::router())
        .merge(steps::router())
        .route("/authkit/static/style.css", get(stylesheet))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit_public,
        ))
        .layer(csrf_layer(&state.settings.public_url))
        .layer(middleware::from_fn(security_headers))
}

/// tower-http's cross-origin POST protection; the public URL's origin is trusted too, for
/// proxies that rewrite `Host`.
fn csrf_layer(
    public_url: &str,
) -> CsrfLayer<impl tower_http::csrf::ResponseForProtectionError<axum::body::Body> + use<>> {
    let mut layer = CsrfLayer::new();
    if let Ok(url) = url::Url::parse(public_url) {
        let origin = url.origin().ascii_serialization();
        match layer.clone().add_trusted_origin(&origin) {
            Ok(l) => layer = l,
            Err(e) => tracing::warn!(error = ?e, "public URL not usable as a trusted origin"),
        }
    }
    layer.with_rejection_response(|_| {
        PageError::Forbidden(
            "This form was sent from another site, so it was refused. Go back to the \
             application and start again."
                .into(),
        )
        .into_response()
    })
}

impl FromRef<AppState> for Key {
    fn from_ref(state: &AppState) -> Self {
        Key::from(&state.vault.derive_key(COOKIE_KEY_PURPOSE))
    }
}

/// The browser behind a page request: its address, user agent and (decrypted) cookies.
pub struct Browser {
    /// Client IP (the peer, or `X-Forwarded-For` from a trusted proxy) and `User-Agent`.
    pub client: crate::http::Client,
    /// The private cookie jar.
    pub jar: PrivateCookieJar,
}

impl FromRequestParts<AppState> for Browser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let client = crate::http::Client::of(parts, state);
        let jar = PrivateCookieJar::from_headers(&parts.headers, Key::from_ref(state));
        Ok(Self { client, jar })
    }
}

impl Browser {
    /// The flow cookie's value, if the browser has a valid one.
    pub fn flow_token(&self) -> Option<String> {
        self.jar.get(FLOW_COOKIE).map(|c| c.value().to_string())
    }

    /// A rate-limit key for this browser in `env`.
    pub fn ip_key(&self, env: &EnvironmentId) -> String {
        format!(
            "{env}:{}",
            self.client.ip_address.as_deref().unwrap_or("unknown")
        )
    }
}

/// The flow cookie carrying `token`: a session cookie (the flow itself expires after
/// [`FLOW_TTL`] in the database).
fn flow_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build((FLOW_COOKIE, token))
        .path("/")
        .http_only(true)
        .secure(!state.settings.public_url.starts_with("http://"))
        .same_site(SameSite::Lax)
        .build()
}

/// The removal of the flow cookie.
fn expired_flow_cookie() -> Cookie<'static> {
    Cookie::build((FLOW_COOKIE, "")).path("/").build()
}

/// The CSRF token of the forms of a flow: derived from the cookie value, never stored.
fn csrf_token(flow_token: &str) -> String {
    sha256_hex(&format!("keystead-csrf:{flow_token}"))
}

/// The browser's flow and its CSRF token. Errors: [`PageError::FlowExpired`].
async fn current_flow(state: &AppState, browser: &Browser) -> Result<(Flow, String), PageError> {
    let token = browser.flow_token().ok_or(PageError::FlowExpired)?;
    let mut conn = state.db.acquire().await.map_err(ApiError::from)?;
    let flow = authkit_flows::find_by_token(&mut conn, &token)
        .await?
        .ok_or(PageError::FlowExpired)?;
    tracing::Span::current().record("environment_id", flow.environment_id.as_str());
    Ok((flow, csrf_token(&token)))
}

/// Like [`current_flow`], for a POST: also checks the form's CSRF token.
async fn posted_flow(
    state: &AppState,
    browser: &Browser,
    form_token: &str,
) -> Result<(Flow, String), PageError> {
    let (flow, csrf) = current_flow(state, browser).await?;
    if !ct_eq(csrf.as_bytes(), form_token.as_bytes()) {
        return Err(PageError::Forbidden(
            "This form has expired. Go back and try again.".into(),
        ));
    }
    Ok((flow, csrf))
}

/// The body of a form POST; anything unreadable (wrong content type, bad encoding) is a 400 page.
fn read_form<T>(
    form: Result<axum::Form<T>, axum::extract::rejection::FormRejection>,
) -> Result<T, PageError> {
    form.map(|axum::Form(f)| f)
        .map_err(|_| PageError::BadRequest("The form could not be read.".into()))
}

/// `303 See Other` to a page of the flow.
fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// An error that ends a page request with an HTML page (forms show their own errors inline).
#[derive(Debug)]
pub enum PageError {
    /// The flow cookie is missing, unknown or expired (400).
    FlowExpired,
    /// A malformed request (400).
    BadRequest(String),
    /// Refused (403): CSRF, or not allowed.
    Forbidden(String),
    /// Anything else; internal errors render a generic 500 page.
    Api(ApiError),
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        Self::Api(e.into())
    }
}

impl From<anyhow::Error> for PageError {
    fn from(e: anyhow::Error) -> Self {
        Self::Api(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, heading, message) = match self {
            Self::FlowExpired => (
                StatusCode::BAD_REQUEST,
                "Sign-in expired",
                "This sign-in page has expired or was opened in another browser. Go back to the \
                 application and sign in again."
                    .to_string(),
            ),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "Something is wrong", m),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, "Request refused", m),
            Self::Api(ApiError::RateLimited {
                retry_after_secs, ..
            }) => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                format!(
                    "Too many attempts. Wait {} seconds and try again.",
                    retry_after_secs.max(1)
                ),
            ),
            Self::Api(e) => {
                let status = e.status();
                if status.is_server_error() {
                    if let ApiError::Internal(inner) = &e {
                        tracing::error!(error = ?inner, "internal error on a hosted page");
                    }
                    (
                        status,
                        "Something went wrong",
                        "Something went wrong on our side. Try again in a moment.".to_string(),
                    )
                } else {
                    let body = e.body();
                    let message = body["message"]
                        .as_str()
                        .or_else(|| body["error_description"].as_str())
                        .unwrap_or("The request could not be completed.")
                        .to_string();
                    (status, "Something is wrong", message)
                }
            }
        };
        let page = Message::new(Chrome::new("Keystead", heading), message);
        views::render(status, &page)
    }
}

/// Security headers on every page: no scripts, no framing, no referrer, no caching.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (name, value) in [
        (
            "content-security-policy",
            "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; \
             frame-ancestors 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}

/// `GET /authkit/static/style.css`.
async fn stylesheet() -> Response {
    let mut res = include_str!("../../templates/pages/style.css").into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    res
}
