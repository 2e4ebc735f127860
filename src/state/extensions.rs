//! The extension points of sign-in, owned by the app state so that an area plugs in by adding a
//! file and one registration: [`SignInHook`] (before a credential is checked, and after a
//! successful sign-in: Radar, IdP role mapping, consent) and [`ClaimsContributor`] (access-token
//! claims: permissions, feature flags, entitlements), both kept in [`Extensions`]
//! (`state.auth`). The sign-in domain (`crate::auth::hooks`, `crate::auth::claims`) runs them;
//! these types live here, below it, because the state that holds them must not import it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::{Map, Value};
use sqlx::{PgConnection, PgPool};

use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::EnvironmentId;
use crate::store::sessions::Session;
use crate::store::users::User;

/// A boxed future, so hooks and contributors can be stored as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What is being attempted, before any credential is checked.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The environment.
    pub environment_id: &'a EnvironmentId,
    /// The `authentication.*` event type: `password`, `magic_auth`, `email_verification`,
    /// `mfa` or `sso`.
    pub kind: &'a str,
    /// The email the attempt names, when known.
    pub email: Option<&'a str>,
    /// The user the attempt is for, when known.
    pub user_id: Option<&'a str>,
    /// End user's IP address.
    pub ip_address: Option<&'a str>,
    /// End user's user agent.
    pub user_agent: Option<&'a str>,
    /// What the newer SDKs send for Radar with the attempt.
    pub radar: RadarHints<'a>,
}

/// The Radar fields of `POST /user_management/authenticate` (password and Magic Auth grants).
#[derive(Debug, Clone, Copy, Default)]
pub struct RadarHints<'a> {
    /// `radar_auth_attempt_id`: an attempt the application assessed for this sign-in
    /// (`POST /radar/attempts`); the sign-in takes over its verdict instead of a new one.
    pub attempt_id: Option<&'a str>,
    /// `signals_id`: the end user's device id from WorkOS's signals script.
    pub signals_id: Option<&'a str>,
}

/// A hook's answer to an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go on and check the credential.
    Allow,
    /// Refuse the attempt: the API answers 400 `{code, message}`, the hosted pages show the
    /// message, an SSO login redirects with `error=code`.
    Block {
        /// Machine-readable reason.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// Refuse the attempt with 403 `{code, message}` (Radar's `block`); the hosted pages show
    /// the message, an SSO login redirects with `error=code`.
    Forbid {
        /// Machine-readable reason.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// Check the credential, then require an email code before the sign-in completes (Radar's
    /// `challenge`): the API answers 403 `code` with a `pending_authentication_token` that the
    /// email-verification grant redeems; the hosted pages ask for the code. An SSO login, which
    /// the identity provider authenticated, goes on.
    Challenge {
        /// Machine-readable reason (the 403's `code`).
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
}

/// A finished sign-in: the user and the session just created.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// The environment.
    pub environment_id: &'a EnvironmentId,
    /// The signed-in user.
    pub user: &'a User,
    /// The new session.
    pub session: &'a Session,
}

/// A hook around sign-in attempts. Both methods default to doing nothing.
pub trait SignInHook: Send + Sync {
    /// Runs before the credential of `attempt` is checked; [`Verdict::Block`] refuses it.
    fn before_attempt<'a>(
        &'a self,
        _db: &'a PgPool,
        _attempt: &'a Attempt<'a>,
    ) -> BoxFuture<'a, ApiResult<Verdict>> {
        Box::pin(async { Ok(Verdict::Allow) })
    }

    /// Runs in the sign-in's transaction once its session exists; an error rolls it back.
    fn after_success<'a>(
        &'a self,
        _tx: &'a mut Tx,
        _outcome: &'a Outcome<'a>,
    ) -> BoxFuture<'a, ApiResult<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// What the claims of one access token are built from.
#[derive(Debug, Clone, Copy)]
pub struct ClaimsContext<'a> {
    /// Issuer: `<public url>/user_management/<client id>`.
    pub issuer: &'a str,
    /// The environment.
    pub environment_id: &'a EnvironmentId,
    /// The signed-in user.
    pub user: &'a User,
    /// The session the token is for.
    pub session: &'a Session,
    /// The user's active roles in the session's organization (scoped sessions only).
    pub roles: Option<&'a [String]>,
    /// Lifetime of the token.
    pub ttl: Duration,
}

/// One contributor of access-token claims.
pub trait ClaimsContributor: Send + Sync {
    /// Adds this contributor's claims to `claims` (reading what it needs through `conn`).
    fn contribute<'a>(
        &'a self,
        ctx: &'a ClaimsContext<'a>,
        conn: &'a mut PgConnection,
        claims: &'a mut Map<String, Value>,
    ) -> BoxFuture<'a, ApiResult<()>>;
}

/// The registered sign-in hooks and access-token claims contributors (on the app state as
/// `auth`). The default registers nothing: no hook runs, and the access token carries only the
/// built-in claims of `crate::auth::claims`.
#[derive(Default)]
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

    /// Registers a claims contributor (after the built-in ones and those already registered).
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
