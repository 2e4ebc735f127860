//! The browser behind a page request ([`Browser`]): its address and user agent, and its
//! cookies, decrypted with a key derived from the master key.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum_extra::extract::PrivateCookieJar;
use axum_extra::extract::cookie::Key;

use crate::ids::EnvironmentId;
use crate::state::AppState;

/// Purpose label of the cookie key derived from the master key.
const COOKIE_KEY_PURPOSE: &str = "keystead hosted-login cookie key v1";

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
    /// A rate-limit key for this browser in `env`.
    pub fn ip_key(&self, env: &EnvironmentId) -> String {
        format!(
            "{env}:{}",
            self.client.ip_address.as_deref().unwrap_or("unknown")
        )
    }
}
