//! The seams around every sign-in attempt, so a new area plugs in by adding a file:
//!
//! - [`SignInHook::before_attempt`] runs before a credential is checked (password, Magic Auth
//!   code, email verification code, TOTP code) and, for an SSO callback, once the IdP's answer
//!   is verified but before a profile or code is issued (`kind: "sso"`,
//!   [`super::sso::finish`]); it may block the attempt (400 or, Radar's block, 403) or
//!   challenge it (Radar: the sign-in then stops at a 403 `radar_challenge` with a
//!   `pending_authentication_token` until an emailed code is entered; see
//!   [`super::sign_in::complete`]).
//! - [`SignInHook::after_success`] runs inside the sign-in's transaction once the session is
//!   created (the `password`, Magic Auth and continuation grants through
//!   [`super::sign_in::complete`]; the `authorization_code` and device code grants, which
//!   redeem what the hosted pages and SSO callbacks signed in, through
//!   [`super::session::start_session`]), e.g. IdP role mapping or consent.
//!
//! Plugging in: write `src/auth/hooks/<area>.rs` (or a file in the area's own folder) with a
//! type implementing [`SignInHook`] (override only the method you need), and register it at
//! start-up with [`super::Extensions::add_hook`]. Radar's hook (`crate::state::radar`) is
//! registered with the state; it allows everything while an environment has Radar off.

pub use crate::state::extensions::{Attempt, BoxFuture, Outcome, RadarHints, SignInHook, Verdict};

use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Asks every registered hook about `attempt`, in registration order; the first block wins.
pub async fn screen(state: &AppState, attempt: &Attempt<'_>) -> ApiResult<Verdict> {
    for hook in state.auth.hooks() {
        let verdict = hook.before_attempt(&state.db, attempt).await?;
        if verdict != Verdict::Allow {
            return Ok(verdict);
        }
    }
    Ok(Verdict::Allow)
}

/// What [`before_attempt`] lets through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screening {
    /// Check the credential and sign in.
    Allowed,
    /// Check the credential, then require an email code ([`Verdict::Challenge`]).
    Challenged {
        /// The 403's `code`.
        code: &'static str,
        /// Its message.
        message: String,
    },
}

impl Screening {
    /// Whether a challenge must be passed.
    pub fn challenged(&self) -> bool {
        matches!(self, Self::Challenged { .. })
    }
}

/// [`screen`] for the API and the hosted pages: a block becomes 400 `{code, message}`, a
/// forbid 403 `{code, message}`; a challenge is returned for the sign-in to apply.
pub async fn before_attempt(state: &AppState, attempt: &Attempt<'_>) -> ApiResult<Screening> {
    match screen(state, attempt).await? {
        Verdict::Allow => Ok(Screening::Allowed),
        Verdict::Block { code, message } => Err(ApiError::bad_request(code, message)),
        Verdict::Forbid { code, message } => Err(ApiError::Forbidden {
            code,
            message,
            extra: serde_json::Map::new(),
        }),
        Verdict::Challenge { code, message } => Ok(Screening::Challenged { code, message }),
    }
}

/// Runs every registered hook's [`SignInHook::after_success`] in `tx`.
pub async fn after_success(state: &AppState, tx: &mut Tx, outcome: &Outcome<'_>) -> ApiResult<()> {
    for hook in state.auth.hooks() {
        hook.after_success(tx, outcome).await?;
    }
    Ok(())
}
