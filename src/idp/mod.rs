//! The endpoints identity providers and browsers call during an SSO login (no API key):
//!
//! - [`saml`]: `GET /sso/saml/metadata/{connection_id}` (SP metadata) and
//!   `POST /sso/saml/acs/{connection_id}` (Assertion Consumer Service, HTTP-POST binding).
//! - [`oidc`]: `GET /sso/oidc/callback/{connection_id}` (the OIDC/OAuth redirect URI).
//!
//! They parse what the IdP sent, run the engines of [`crate::protocols`] and finish or fail the
//! login through the sign-in domain ([`crate::auth::sso`]).

pub mod oidc;
pub mod saml;

use axum::Router;

use crate::state::AppState;

/// Routes identity providers and browsers call during a login (no API key).
pub fn router() -> Router<AppState> {
    Router::new().merge(saml::router()).merge(oidc::router())
}
