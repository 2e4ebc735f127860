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
//! - [`sso`]: the SSO login flow's connection selection.
//!
//! A new area plugs in by adding a file: a [`hooks::SignInHook`] (Radar, IdP role mapping,
//! consent) or a [`claims::ClaimsContributor`] (roles/permissions, feature flags, `auth_time`),
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

use std::sync::{Arc, RwLock};

use claims::ClaimsContributor;
use hooks::SignInHook;

use crate::error::{ApiError, ApiResult};

/// The registered sign-in hooks and access-token claims contributors (on the app state as
/// `auth`). The default has no hook and the contributors that produce today's claims.
pub struct Extensions {
    hooks: RwLock<Vec<Arc<dyn SignInHook>>>,
    contributors: RwLock<Vec<Arc<dyn ClaimsContributor>>>,
}

impl std::fmt::Debug for Extensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extensions")
            .field("hooks", &self.hooks().len())
            .field("contributors", &self.claims_contributors().len())
            .finish()
    }
}

impl Default for Extensions {
    fn default() -> Self {
        let contributors: Vec<Arc<dyn ClaimsContributor>> = vec![
            Arc::new(claims::StandardClaims),
            Arc::new(claims::RolesClaim),
            Arc::new(claims::jwt_template::TemplateClaims),
        ];
        Self {
            hooks: RwLock::new(Vec::new()),
            contributors: RwLock::new(contributors),
        }
    }
}

fn snapshot<T: Clone>(lock: &RwLock<Vec<T>>) -> Vec<T> {
    match lock.read() {
        Ok(v) => v.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

fn push<T>(lock: &RwLock<Vec<T>>, item: T) {
    match lock.write() {
        Ok(mut v) => v.push(item),
        Err(poisoned) => poisoned.into_inner().push(item),
    }
}

impl Extensions {
    /// Registers a sign-in hook (after those already registered).
    pub fn add_hook(&self, hook: Arc<dyn SignInHook>) {
        push(&self.hooks, hook);
    }

    /// Registers a claims contributor (after the defaults and those already registered).
    pub fn add_claims_contributor(&self, contributor: Arc<dyn ClaimsContributor>) {
        push(&self.contributors, contributor);
    }

    /// The registered hooks, in order.
    pub fn hooks(&self) -> Vec<Arc<dyn SignInHook>> {
        snapshot(&self.hooks)
    }

    /// The registered claims contributors, in order.
    pub fn claims_contributors(&self) -> Vec<Arc<dyn ClaimsContributor>> {
        snapshot(&self.contributors)
    }
}

/// Validates an email address as sign-in and sign-up take it (one `@`, a dotted domain, no
/// spaces) and lowercases it; shared by the User Management API and the hosted pages.
/// Errors: 400 `invalid_email`.
pub fn normalize_email(email: &str) -> ApiResult<String> {
    let e = email.trim().to_lowercase();
    let valid = match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !e.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if valid && e.len() <= 254 {
        Ok(e)
    } else {
        Err(ApiError::bad_request(
            "invalid_email",
            format!("'{email}' is not a valid email address."),
        ))
    }
}
