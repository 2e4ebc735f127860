//! The seams around every sign-in attempt, so a new area plugs in by adding a file:
//!
//! - [`SignInHook::before_attempt`] runs before a credential is checked (password, Magic Auth
//!   code, email verification code, TOTP code, SSO callback) and may block the attempt
//!   (Radar's block/challenge).
//! - [`SignInHook::after_success`] runs inside the sign-in's transaction once the session is
//!   created (the `password`, Magic Auth and continuation grants through
//!   [`super::sign_in::complete`]; the `authorization_code` and device code grants, which
//!   redeem what the hosted pages and SSO callbacks signed in, through
//!   [`super::session::start_session`]), e.g. IdP role mapping or consent.
//!
//! Plugging in: write `src/auth/hooks/<area>.rs` (or a file in the area's own folder) with a
//! type implementing [`SignInHook`] (override only the method you need), and register it at
//! start-up with [`super::Extensions::add_hook`]. With no hook registered (today), every
//! attempt is allowed and nothing runs after success.

use std::future::Future;
use std::pin::Pin;

use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::ids::EnvironmentId;
use crate::state::AppState;
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
        _state: &'a AppState,
        _attempt: &'a Attempt<'a>,
    ) -> BoxFuture<'a, ApiResult<Verdict>> {
        Box::pin(async { Ok(Verdict::Allow) })
    }

    /// Runs in the sign-in's transaction once its session exists; an error rolls it back.
    fn after_success<'a>(
        &'a self,
        _state: &'a AppState,
        _tx: &'a mut Tx,
        _outcome: &'a Outcome<'a>,
    ) -> BoxFuture<'a, ApiResult<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// Asks every registered hook about `attempt`, in registration order; the first block wins.
pub async fn screen(state: &AppState, attempt: &Attempt<'_>) -> ApiResult<Verdict> {
    for hook in state.auth.hooks() {
        let verdict = hook.before_attempt(state, attempt).await?;
        if verdict != Verdict::Allow {
            return Ok(verdict);
        }
    }
    Ok(Verdict::Allow)
}

/// [`screen`] for the API and the hosted pages: a block becomes 400 `{code, message}`.
pub async fn before_attempt(state: &AppState, attempt: &Attempt<'_>) -> ApiResult<()> {
    match screen(state, attempt).await? {
        Verdict::Allow => Ok(()),
        Verdict::Block { code, message } => Err(ApiError::bad_request(code, message)),
    }
}

/// Runs every registered hook's [`SignInHook::after_success`] in `tx`.
pub async fn after_success(state: &AppState, tx: &mut Tx, outcome: &Outcome<'_>) -> ApiResult<()> {
    for hook in state.auth.hooks() {
        hook.after_success(state, tx, outcome).await?;
    }
    Ok(())
}
