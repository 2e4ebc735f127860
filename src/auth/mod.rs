//! The sign-in domain, shared by every entry point that signs a person in: the REST grants of
//! `POST /user_management/authenticate` ([`crate::api`]), the hosted login pages
//! ([`crate::pages`]) and the SSO callbacks identity providers call ([`crate::idp`]). Those
//! entry points never import each other; they call this module, which sits over
//! [`crate::store`].
//!
//! - [`password`]: the password check (dummy-hash timing, imported-hash upgrade), the
//!   `password` sign-in and password reset redemption.
//! - [`codes`]: one-time codes: Magic Auth (send, redeem, sign in) and email verification.
//! - [`invitations`]: accepting an invitation while signing in.
//! - [`sign_in`]: the steps between a correct first factor and a session (email verification,
//!   MFA, organization selection: WORKOS-API-NOTES §4.4), the `authentication.*` payload and
//!   the sign-in rate limits.
//! - [`continuation`]: spending a `pending_authentication_token` ([`continuation::finish`],
//!   the one "consume pending → complete → record event" sequence of the continuation grants).
//! - [`session`]: redeeming what the hosted pages and SSO signed in (authorization codes with
//!   PKCE, RFC 7636; approved device codes, RFC 8628) into a session.
//! - [`tokens`]: access-token issuance (RS256 JWT) and refresh-token rotation.
//! - [`claims`]: the access-token claims builder, a list of contributors.
//! - [`hooks`]: the pre-attempt and post-success hooks.
//! - [`users`]: the user an email names, found or created (SSO, invitation acceptance).
//! - [`sso`]: the SSO login flow (connection selection, start, finish with a profile and a
//!   code, failure), run by `/sso/authorize`, `/user_management/authorize` and the IdP callbacks.
//!
//! A new area plugs in by adding a file: a [`hooks::SignInHook`] (Radar, IdP role mapping,
//! consent) or a [`claims::ClaimsContributor`] (permissions, feature flags, entitlements),
//! registered on [`Extensions`] (`state.auth`).

pub mod claims;
pub mod codes;
pub mod continuation;
pub mod hooks;
pub mod invitations;
pub mod password;
pub mod session;
pub mod sign_in;
pub mod sso;
pub mod tokens;
pub mod users;

pub use crate::state::extensions::Extensions;
