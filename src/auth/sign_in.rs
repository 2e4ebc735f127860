//! Finishing a sign-in once its first factor succeeded (password, Magic Auth code, …): the steps
//! WorkOS puts between a correct credential and a session, each a 403 with a
//! `pending_authentication_token` (WORKOS-API-NOTES §4.4) that a continuation grant of
//! `POST /user_management/authenticate` spends:
//!
//! 0. `radar_challenge` when a pre-attempt hook (Radar) challenged the attempt: a code is
//!    emailed, and the `…:email-verification:code` grant (or the newer SDKs'
//!    `…:radar-email-challenge:code`) continues;
//! 1. `email_verification_required` when the environment's `email_verification_required`
//!    setting (default `KEYSTEAD_REQUIRE_EMAIL_VERIFICATION`) is on and the
//!    email is unverified (a code is sent; `…:email-verification:code` continues);
//! 2. `mfa_challenge` when the user has an authentication factor (`…:mfa-totp` continues), or
//!    `mfa_enrollment` when the environment's `mfa_enrollment` setting is `required` and the
//!    user has none (the client enrolls a TOTP factor with `POST
//!    /user_management/users/{id}/auth_factors`, then `…:mfa-totp` with its challenge);
//! 3. `organization_selection_required` when the user is an active member of more than one
//!    organization and none was chosen (`…:organization-selection` continues); with exactly one
//!    the session is scoped to it.
//!
//! Then the session is created and the [`super::hooks`] run (`after_success`). The hosted
//! login pages walk the same steps as pages of their own flow.

use serde_json::{Map, Value, json};

use super::hooks::{self, Outcome};
use crate::db::Tx;
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::http::rate_limit::Class;
use crate::ids::{EnvironmentId, OrganizationId};
use crate::state::AppState;
use crate::store::environment_settings::{self, MfaEnrollment};
use crate::store::pending_authentications::{self as pending, NewPending, Stage};
use crate::store::sessions::{self, NewSession, Session};
use crate::store::users::User;
use crate::store::{auth_factors, email_verifications, organization_memberships, users};

/// A sign-in whose first factor succeeded.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// The user.
    pub user: User,
    /// Session vocabulary auth method of the first factor (`password`, `magic_code`, …).
    pub auth_method: String,
    /// End user's IP address.
    pub ip_address: Option<String>,
    /// End user's user agent.
    pub user_agent: Option<String>,
    /// Whether an MFA challenge was already passed.
    pub mfa_verified: bool,
    /// The organization the session must be scoped to (chosen, or bound by an invitation).
    pub organization_id: Option<OrganizationId>,
    /// A pre-attempt hook (Radar) challenged the attempt: stop at 403 `radar_challenge` until
    /// an emailed code is entered.
    pub radar_challenge: bool,
}

/// Where [`complete`] got to.
#[derive(Debug)]
pub enum Step {
    /// Signed in: the session and its first refresh token.
    SignedIn {
        /// The user, with `last_sign_in_at` updated.
        user: Box<User>,
        /// The new session.
        session: Box<Session>,
        /// The refresh token (shown once).
        refresh_token: String,
    },
    /// A further step is needed: the 403 to answer once the transaction is committed.
    Pending(ApiError),
}

fn pending_error(code: &'static str, message: &str, extra: Value) -> ApiError {
    ApiError::Forbidden {
        code,
        message: message.to_string(),
        extra: match extra {
            Value::Object(m) => m,
            _ => Map::new(),
        },
    }
}

/// A step finished with a one-time code emailed to the user (email verification, or a Radar
/// challenge): issues the code, records the pending authentication and answers the 403 `code`
/// with `{pending_authentication_token, email, email_verification_id, user}` (a Radar challenge
/// also names the code as `radar_challenge_id`).
async fn email_code_step(
    state: &AppState,
    tx: &mut Tx,
    env: &EnvironmentId,
    s: &SignIn,
    base: &NewPending<'_>,
    code: &'static str,
    message: &str,
) -> ApiResult<Step> {
    let v = email_verifications::insert(tx, &state.vault, env, &s.user.id, &s.user.email).await?;
    let token = pending::create(
        tx,
        env,
        NewPending {
            email_verification_id: Some(&v.id),
            ..base.clone()
        },
    )
    .await?;
    let mut extra = json!({
        "pending_authentication_token": token,
        "email": s.user.email,
        "email_verification_id": v.id,
        "user": s.user,
    });
    if code == "radar_challenge" {
        extra["radar_challenge_id"] = json!(v.id);
    }
    Ok(Step::Pending(pending_error(code, message, extra)))
}

/// Runs the remaining steps inside `tx`: records what a pending step needs, or creates the
/// session (`session.created`). The caller records its own `authentication.*` event, commits,
/// then answers with [`Step`].
///
/// Errors: 400 `organization_membership_not_found` (OAuth dialect) when `organization_id` names
/// an organization the user is not an active member of.
pub async fn complete(
    state: &AppState,
    tx: &mut Tx,
    env: &EnvironmentId,
    s: SignIn,
) -> ApiResult<Step> {
    let base = NewPending {
        stage: Stage::EmailVerification,
        user_id: &s.user.id,
        auth_method: &s.auth_method,
        mfa_verified: s.mfa_verified,
        organization_id: s.organization_id.as_ref(),
        email_verification_id: None,
        ip_address: s.ip_address.as_deref(),
        user_agent: s.user_agent.as_deref(),
    };
    let settings = environment_settings::get(tx, env, &state.settings).await?;
    if s.radar_challenge {
        return email_code_step(
            state,
            tx,
            env,
            &s,
            &base,
            "radar_challenge",
            "Radar requires a one-time code sent to the user's email to finish authenticating.",
        )
        .await;
    }
    if settings.email_verification_required && !s.user.email_verified {
        return email_code_step(
            state,
            tx,
            env,
            &s,
            &base,
            "email_verification_required",
            "Email ownership must be verified before authentication.",
        )
        .await;
    }
    if !s.mfa_verified {
        let factors = auth_factors::all_for_user(tx, env, &s.user.id).await?;
        let enroll = factors.is_empty() && settings.mfa_enrollment == MfaEnrollment::Required;
        if enroll || !factors.is_empty() {
            let token = pending::create(
                tx,
                env,
                NewPending {
                    stage: Stage::MfaChallenge,
                    ..base.clone()
                },
            )
            .await?;
            return Ok(Step::Pending(if enroll {
                pending_error(
                    "mfa_enrollment",
                    "The user must enroll an MFA factor to finish authenticating.",
                    json!({"pending_authentication_token": token, "user": s.user}),
                )
            } else {
                pending_error(
                    "mfa_challenge",
                    "The user must complete an MFA challenge to finish authenticating.",
                    json!({
                        "pending_authentication_token": token,
                        "user": s.user,
                        "authentication_factors": factors,
                    }),
                )
            }));
        }
    }
    let organization_id = match s.organization_id.clone() {
        Some(org) => {
            let member = organization_memberships::active_roles(tx, env, &s.user.id, &org)
                .await?
                .is_some();
            if !member {
                return Err(ApiError::oauth(
                    "organization_membership_not_found",
                    format!("The user is not a member of organization '{org}'."),
                ));
            }
            Some(org)
        }
        None => {
            let orgs = organization_memberships::active_organizations(tx, env, &s.user.id).await?;
            match orgs.as_slice() {
                [] => None,
                [(only, _)] => Some(only.clone()),
                many => {
                    let token = pending::create(
                        tx,
                        env,
                        NewPending {
                            stage: Stage::OrganizationSelection,
                            mfa_verified: true,
                            ..base.clone()
                        },
                    )
                    .await?;
                    let organizations: Vec<Value> = many
                        .iter()
                        .map(|(id, name)| json!({ "id": id, "name": name }))
                        .collect();
                    return Ok(Step::Pending(pending_error(
                        "organization_selection_required",
                        "The user must choose an organization to finish authenticating.",
                        json!({
                            "pending_authentication_token": token,
                            "user": s.user,
                            "organizations": organizations,
                        }),
                    )));
                }
            }
        }
    };
    let user = users::touch_sign_in(tx, env, &s.user.id).await?;
    let (session, refresh_token) = sessions::create(
        tx,
        env,
        NewSession {
            user_id: &user.id,
            organization_id: organization_id.as_ref(),
            auth_method: &s.auth_method,
            ip_address: s.ip_address.as_deref(),
            user_agent: s.user_agent.as_deref(),
            ttl: settings.session_ttl(),
            public_client_id: None,
        },
    )
    .await?;
    let outcome = Outcome {
        environment_id: env,
        user: &user,
        session: &session,
    };
    hooks::after_success(state, tx, &outcome).await?;
    Ok(Step::SignedIn {
        user: Box::new(user),
        session: Box::new(session),
        refresh_token,
    })
}

/// An `authentication.*` event payload (`AuthAttempt`): `type`, `status`, `ip_address`,
/// `user_agent`, `user_id`, `email`, plus `error{code, message}` for failures.
pub fn attempt(
    kind: &str,
    user_id: Option<&str>,
    email: Option<&str>,
    ip_address: Option<&str>,
    user_agent: Option<&str>,
    error: Option<(&str, &str)>,
) -> Value {
    let mut data = json!({
        "type": kind,
        "status": if error.is_some() { "failed" } else { "succeeded" },
        "ip_address": ip_address,
        "user_agent": user_agent,
        "user_id": user_id,
        "email": email,
    });
    if let Some((code, message)) = error {
        data["error"] = json!({ "code": code, "message": message });
    }
    data
}

/// The `sends` rate limit (Magic Auth, verification, password reset and email change emails),
/// per email address. Errors: 429 `daily_quota_exceeded`, the code the spec names for the 429
/// of each of these send operations (with the usual `Retry-After` and `X-RateLimit-*`
/// headers).
pub async fn limit_sends(
    state: &AppState,
    env: &EnvironmentId,
    email: &EmailAddress,
) -> ApiResult<()> {
    match limit_email(state, Class::Sends, env, email).await {
        Err(ApiError::RateLimited {
            limit,
            reset_secs,
            retry_after_secs,
            ..
        }) => Err(ApiError::RateLimited {
            code: "daily_quota_exceeded",
            limit,
            reset_secs,
            retry_after_secs,
        }),
        other => other,
    }
}

/// The `authenticate_email` rate limit for one-time-code grants keyed by email.
pub async fn limit_attempts(
    state: &AppState,
    env: &EnvironmentId,
    email: &EmailAddress,
) -> ApiResult<()> {
    limit_email(state, Class::AuthenticateEmail, env, email).await
}

/// Counts one request of `class` for `email` in `env`. Errors: 429 `rate_limit_exceeded`.
async fn limit_email(
    state: &AppState,
    class: Class,
    env: &EnvironmentId,
    email: &EmailAddress,
) -> ApiResult<()> {
    let decision = state.limiter.check(class, &format!("{env}:{email}")).await;
    if decision.allowed {
        Ok(())
    } else {
        Err(decision.error())
    }
}
