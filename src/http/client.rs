//! [`Client`]: the browser behind a request (IP address and user agent), for the
//! `authentication.*` events, authorization codes and sessions of the sign-in entry points
//! (the hosted pages' `Browser`, `GET /sso/authorize`, the IdP callbacks).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::rate_limit;
use crate::state::AppState;

/// The browser behind a login request: its IP address (the peer, or `X-Forwarded-For` from a
/// proxy in `KEYSTEAD_TRUSTED_PROXIES`) and user agent, for the `authentication.sso_*` events,
/// the authorization code and the session.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// Client IP address.
    pub ip_address: Option<String>,
    /// `User-Agent` (at most 512 characters).
    pub user_agent: Option<String>,
}

impl Client {
    /// Reads the client of a request (shared with the hosted pages' `Browser`).
    pub fn of(parts: &Parts, state: &AppState) -> Self {
        let ip_address = rate_limit::client_ip_of(
            &parts.extensions,
            &parts.headers,
            &state.settings.trusted_proxies,
        )
        .map(|ip| ip.to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(512).collect());
        Self {
            ip_address,
            user_agent,
        }
    }

    /// `(ip_address, user_agent)`, as the grants' shared checks take them.
    pub fn pair(&self) -> (Option<&str>, Option<&str>) {
        (self.ip_address.as_deref(), self.user_agent.as_deref())
    }
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts, state))
    }
}
