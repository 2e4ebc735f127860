//! The SSO login flow, shared by `GET /sso/authorize` ([`crate::api`]),
//! `GET /user_management/authorize` ([`crate::pages`]) and the IdP callbacks ([`crate::idp`]):
//!
//! - [`select`]: which active connection a login goes through.
//! - [`flow`]: starting a login ([`start`]: SAML AuthnRequest or OIDC/OAuth authorization
//!   request), finishing it with a profile and a one-time code ([`finish`]), or failing it
//!   ([`fail`]), with the `authentication.sso_*` events.

pub mod flow;
pub mod select;

pub use flow::{CODE_TTL, Completion, SpUrls, StartParams, fail, finish, sp_urls, start};
pub use select::{Selector, select_connection};
