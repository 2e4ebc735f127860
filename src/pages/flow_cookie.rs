//! The flow cookie: the browser's handle on its hosted-login flow (the flow itself lives in
//! the database), and the CSRF token of the flow's forms, derived from the cookie's value.

use std::time::Duration;

use axum_extra::extract::cookie::{Cookie, SameSite};

use super::browser::Browser;
use super::error::PageError;
use crate::crypto::{ct_eq, sha256_hex};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::authkit_flows::{self, Flow};

/// Name of the flow cookie.
const FLOW_COOKIE: &str = "keystead_authkit";
/// How long a flow (and its cookie) lasts.
pub(super) const FLOW_TTL: Duration = Duration::from_secs(3600);

/// A session cookie of the hosted pages under `path`: `HttpOnly`, `SameSite=Lax`, and `Secure`
/// unless the public URL is `http://`.
pub(super) fn page_cookie(
    state: &AppState,
    name: &'static str,
    value: String,
    path: &'static str,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .secure(!state.settings.public_url.starts_with("http://"))
        .same_site(SameSite::Lax)
        .build()
}

/// The flow cookie carrying `token`: a session cookie (the flow itself expires after
/// [`FLOW_TTL`] in the database).
pub(super) fn flow_cookie(state: &AppState, token: String) -> Cookie<'static> {
    page_cookie(state, FLOW_COOKIE, token, "/")
}

/// The removal of the flow cookie.
pub(super) fn expired_flow_cookie() -> Cookie<'static> {
    Cookie::build((FLOW_COOKIE, "")).path("/").build()
}

/// The flow cookie's value, if the browser has a valid one.
fn flow_token(browser: &Browser) -> Option<String> {
    browser.jar.get(FLOW_COOKIE).map(|c| c.value().to_string())
}

/// The CSRF token of the forms of a flow: derived from the cookie value, never stored.
fn csrf_token(flow_token: &str) -> String {
    sha256_hex(&format!("keystead-csrf:{flow_token}"))
}

/// The browser's flow and its CSRF token. Errors: [`PageError::FlowExpired`].
pub(super) async fn current_flow(
    state: &AppState,
    browser: &Browser,
) -> Result<(Flow, String), PageError> {
    let token = flow_token(browser).ok_or(PageError::FlowExpired)?;
    let mut conn = state.db.acquire().await.map_err(ApiError::from)?;
    let flow = authkit_flows::find_by_token(&mut conn, &token)
        .await?
        .ok_or(PageError::FlowExpired)?;
    tracing::Span::current().record("environment_id", flow.environment_id.as_str());
    Ok((flow, csrf_token(&token)))
}

/// Like [`current_flow`], for a POST: also checks the form's CSRF token.
pub(super) async fn posted_flow(
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
