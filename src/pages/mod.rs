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
//! Errors are rendered as HTML pages (forms re-render with the message; see
//! [`error::PageError`]).

mod authorize;
pub mod browser;
mod defences;
mod device;
pub mod error;
mod flow_cookie;
pub mod flows;
mod form;
mod login;
mod steps;
mod views;

use axum::Router;
use axum::middleware;
use axum::routing::get;

use crate::http::rate_limit;
use crate::state::AppState;

/// The hosted pages with their layers (per-IP rate limit, CSRF origin check, security headers).
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(authorize::router())
        .merge(device::router())
        .merge(login::router())
        .merge(steps::router())
        .route("/authkit/static/style.css", get(views::stylesheet))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit_public,
        ))
        .layer(defences::csrf_layer(&state.settings.public_url))
        .layer(middleware::from_fn(defences::security_headers))
}
