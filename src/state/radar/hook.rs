//! Radar's [`SignInHook`], registered with the state, so Keystead's own sign-ins consult Radar
//! when the environment's `settings.radar.enabled` is on: password (the grant and the hosted
//! page), Magic Auth (the grant and the hosted page) and SSO attempts are assessed as
//! `sign-in` attempts (`Password`, `Email_OTP`, `SSO`) before their credential is checked.
//!
//! - `block` → [`Verdict::Forbid`]: 403 `{code: "sign_in_blocked", message}` (neither the spec
//!   nor the SDKs name a code for a Radar block; the SDKs surface any 403's `code`), an error
//!   page, or an SSO redirect with `error=sign_in_blocked`;
//! - `challenge` → [`Verdict::Challenge`]: the sign-in stops at 403 `radar_challenge` (the
//!   spec's code, parsed by the Python SDK) with a `pending_authentication_token` and an
//!   emailed code (`crate::auth::sign_in::complete`); the hosted pages ask for the code.
//!
//! Email-verification and TOTP steps are continuations, not new attempts: they are not assessed.
//! After a successful sign-in ([`SignInHook::after_success`]) the email's latest unsuccessful
//! attempt in the window is marked successful and remembered (device, position), which is how
//! Keystead's sign-ins record their outcome.

use sqlx::PgPool;

use super::controls::Action;
use super::{Radar, Request};
use crate::db::Tx;
use crate::error::ApiResult;
use crate::state::extensions::{Attempt, BoxFuture, Outcome, SignInHook, Verdict};
use crate::store::radar_attempts;

/// The 403 `code` of a sign-in Radar blocked.
pub const BLOCKED: &str = "sign_in_blocked";
/// The 403 `code` of a sign-in Radar challenged.
pub const CHALLENGED: &str = "radar_challenge";

impl SignInHook for Radar {
    fn before_attempt<'a>(
        &'a self,
        db: &'a PgPool,
        attempt: &'a Attempt<'a>,
    ) -> BoxFuture<'a, ApiResult<Verdict>> {
        Box::pin(async move {
            let auth_method = match attempt.kind {
                "password" => "Password",
                "magic_auth" => "Email_OTP",
                "sso" => "SSO",
                _ => return Ok(Verdict::Allow),
            };
            let Some(email) = attempt.email.filter(|e| !e.is_empty()) else {
                return Ok(Verdict::Allow);
            };
            let env = attempt.environment_id;
            let request = Request {
                email,
                ip_address: attempt.ip_address.and_then(|ip| ip.trim().parse().ok()),
                user_agent: attempt.user_agent.map(str::trim).filter(|u| !u.is_empty()),
                device: None,
                device_fingerprint: None,
                action: Action::SignIn,
                auth_method,
            };
            let Some(assessed) = self.assess(db, env, &request, true).await? else {
                return Ok(Verdict::Allow);
            };
            let d = assessed.decision;
            Ok(match d.verdict {
                "block" => Verdict::Forbid {
                    code: BLOCKED,
                    message: d.reason,
                },
                "challenge" => Verdict::Challenge {
                    code: CHALLENGED,
                    message: d.reason,
                },
                _ => Verdict::Allow,
            })
        })
    }

    fn after_success<'a>(
        &'a self,
        tx: &'a mut Tx,
        outcome: &'a Outcome<'a>,
    ) -> BoxFuture<'a, ApiResult<()>> {
        Box::pin(async move {
            let env = outcome.environment_id;
            let email = outcome.user.email.as_str().to_lowercase();
            if let Some(m) = radar_attempts::mark_latest_succeeded(tx, env, &email).await? {
                self.forget_failure(env, &m).await;
            }
            Ok(())
        })
    }
}
