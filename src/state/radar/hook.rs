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
//! A block or challenge of an existing user's sign-in records `authentication.radar_risk_detected`
//! (`control`: the Radar control, e.g. `brute_force_attack`).
//!
//! The password and Magic Auth grants' Radar fields: `signals_id` is the attempt's device id
//! (device lists, recognised devices); `radar_auth_attempt_id` names an attempt the application
//! assessed itself (`POST /radar/attempts`): a sign-in attempt of the same email in the window,
//! neither successful nor taken over before, is taken over once, its verdict standing for this
//! sign-in (no second attempt is counted, and the sign-in's success marks it successful). Any
//! other id is ignored and the sign-in is assessed on its own, so a replayed id cannot bypass
//! the counters.
//!
//! Email-verification and TOTP steps are continuations, not new attempts: they are not assessed.
//! After a successful sign-in ([`SignInHook::after_success`]) the email's latest unsuccessful
//! attempt in the window is marked successful and remembered (device, position), which is how
//! Keystead's sign-ins record their outcome.

use serde::Serialize;
use sqlx::PgPool;

use super::controls::Action;
use super::{Radar, Request};
use crate::db::Tx;
use crate::email::EmailAddress;
use crate::error::ApiResult;
use crate::ids::RadarAttemptId;
use crate::state::extensions::{Attempt, BoxFuture, Outcome, SignInHook, Verdict};
use crate::store::events::{self, names};
use crate::store::radar_attempts::{self, StoredVerdict};
use crate::store::users;

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
            let linked = match attempt
                .radar
                .attempt_id
                .and_then(RadarAttemptId::parse_lenient)
            {
                Some(id) => {
                    let normalised = email.trim().to_lowercase();
                    let mut conn = db.acquire().await?;
                    radar_attempts::link(&mut conn, env, &id, &normalised).await?
                }
                None => None,
            };
            let verdict = match linked {
                Some(stored) => stored,
                None => {
                    let request = Request {
                        email,
                        ip_address: attempt.ip_address.and_then(|ip| ip.trim().parse().ok()),
                        user_agent: attempt.user_agent.map(str::trim).filter(|u| !u.is_empty()),
                        device: attempt
                            .radar
                            .signals_id
                            .map(str::trim)
                            .filter(|d| !d.is_empty()),
                        device_fingerprint: None,
                        action: Action::SignIn,
                        auth_method,
                    };
                    let Some(assessed) = self.assess(db, env, &request, true).await? else {
                        return Ok(Verdict::Allow);
                    };
                    let d = assessed.decision;
                    StoredVerdict {
                        verdict: d.verdict.to_string(),
                        control: d.control.map(str::to_string),
                        blocklist_type: d.blocklist_type.map(str::to_string),
                        reason: Some(d.reason),
                    }
                }
            };
            let message = verdict.reason.clone().unwrap_or_default();
            let answer = match verdict.verdict.as_str() {
                "block" => Verdict::Forbid {
                    code: BLOCKED,
                    message,
                },
                "challenge" => Verdict::Challenge {
                    code: CHALLENGED,
                    message,
                },
                _ => return Ok(Verdict::Allow),
            };
            risk_detected(db, attempt, email, &verdict).await?;
            Ok(answer)
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

/// `authentication.radar_risk_detected` (spec `AuthenticationRadarRiskDetected`): the data of
/// a Keystead sign-in Radar blocked or challenged.
#[derive(Debug, Serialize)]
struct RiskDetected<'a> {
    /// The attempt's kind: `password`, `magic_auth` or `sso`.
    auth_method: &'a str,
    /// Always `login` (Keystead screens sign-ins).
    action: &'static str,
    /// The Radar control behind the verdict (`brute_force_attack`, `restriction`, …).
    control: Option<&'a str>,
    /// The list of a `restriction`.
    blocklist_type: Option<&'a str>,
    ip_address: Option<&'a str>,
    user_agent: Option<&'a str>,
    user_id: &'a str,
    email: &'a str,
}

/// Records `authentication.radar_risk_detected` for a blocked or challenged sign-in of an
/// existing user, in its own transaction (the spec's event names the user: an attempt on an
/// unknown email records none).
async fn risk_detected(
    db: &PgPool,
    attempt: &Attempt<'_>,
    email: &str,
    v: &StoredVerdict,
) -> ApiResult<()> {
    let env = attempt.environment_id;
    let mut tx = db.begin().await?;
    let Some(user) = users::find_by_email(&mut tx, env, &EmailAddress::new(email)).await? else {
        return Ok(());
    };
    let data = RiskDetected {
        auth_method: attempt.kind,
        action: "login",
        control: v.control.as_deref(),
        blocklist_type: v.blocklist_type.as_deref(),
        ip_address: attempt.ip_address,
        user_agent: attempt.user_agent,
        user_id: user.id.as_str(),
        email: user.email.as_str(),
    };
    let name = names::AUTHENTICATION_RADAR_RISK_DETECTED;
    events::record(&mut tx, env, name, &data, None).await?;
    tx.commit().await?;
    Ok(())
}
