//! The grants of `POST /user_management/authenticate` beyond `password` and `refresh_token`
//! (WORKOS-API-NOTES §4.1): `urn:workos:oauth:grant-type:magic-auth:code` (signs the user up on
//! first use), the continuations of a pending sign-in (`…:email-verification:code`,
//! `…:mfa-totp`, `…:organization-selection`, each spending its `pending_authentication_token`)
//! and `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4–3.5 polling).
//!
//! Errors: 400 `{code}` `invalid_one_time_code`, `one_time_code_expired`,
//! `one_time_code_previously_used`, `one_time_code_too_many_attempts`,
//! `invalid_pending_authentication_token`; 400 `{error}` `organization_membership_not_found`,
//! `authorization_pending`, `slow_down`, `expired_token`, `access_denied`, `invalid_grant`,
//! `unsupported_grant_type`. Each failure of a method writes its `authentication.*_failed`.
//!
//! The Magic Auth check ([`redeem_magic_code`]) is shared with the hosted magic-code page. The
//! device code grant starts its session exactly as the `authorization_code` grant does
//! ([`super::authorization_code::start_session`]: `session.created`); the person's
//! `authentication.*` events were recorded when they signed in on the hosted pages, and the
//! spec names no event for approving or denying a device.

use serde::Deserialize;
use serde_json::Value;

use super::authenticate::{AuthenticateResponse, finish, respond};
use super::authorization_code::{Redeemed, Started, start_session};
use super::sign_in::{self, SignIn, attempt};
use super::users::normalize_email;
use super::{email_verification, invitations};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::from_value;
use crate::ids::{EnvironmentId, OrganizationId};
use crate::state::AppState;
use crate::store::device_authorizations::{self, Poll};
use crate::store::events::{self, names};
use crate::store::one_time_codes::CodeError;
use crate::store::pending_authentications::{self as pending, Stage};
use crate::store::users::{self, NewUser, UserChanges};
use crate::store::{auth_factors, magic_auths, organization_memberships};

/// `grant_type` of Magic Auth codes.
pub const MAGIC_AUTH: &str = "urn:workos:oauth:grant-type:magic-auth:code";
/// `grant_type` completing `email_verification_required`.
pub const EMAIL_VERIFICATION: &str = "urn:workos:oauth:grant-type:email-verification:code";
/// `grant_type` completing `mfa_challenge`.
pub const MFA_TOTP: &str = "urn:workos:oauth:grant-type:mfa-totp";
/// `grant_type` completing `organization_selection_required`.
pub const ORGANIZATION_SELECTION: &str = "urn:workos:oauth:grant-type:organization-selection";
/// `grant_type` of the device flow (RFC 8628 §3.4).
pub const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Runs the grant named `grant_type` (client already authenticated).
pub async fn dispatch(
    state: &AppState,
    env: &EnvironmentId,
    issuer: String,
    grant_type: &str,
    body: Value,
) -> ApiResult<AuthenticateResponse> {
    match grant_type {
        MAGIC_AUTH => magic_auth(state, env, issuer, from_value(body)?).await,
        EMAIL_VERIFICATION => email_verification(state, env, issuer, from_value(body)?).await,
        MFA_TOTP => mfa_totp(state, env, issuer, from_value(body)?).await,
        ORGANIZATION_SELECTION => {
            organization_selection(state, env, issuer, from_value(body)?).await
        }
        other => Err(ApiError::oauth(
            "unsupported_grant_type",
            format!("Unsupported grant_type '{other}'."),
        )),
    }
}

fn code_error(e: CodeError) -> ApiError {
    ApiError::bad_request(e.grant_code(), e.message())
}

/// The pending sign-in named by `token` at `stage`, and its user (locked in `tx` by
/// [`pending::find`]). Errors: 400 `invalid_pending_authentication_token`.
async fn pending_user(
    tx: &mut crate::db::Tx,
    env: &EnvironmentId,
    token: &str,
    stage: Stage,
) -> ApiResult<(pending::Pending, users::User)> {
    let p = pending::find(tx, env, token, stage)
        .await?
        .ok_or_else(invalid_pending)?;
    let user = users::find_by_raw_id(tx, env, &p.user_id)
        .await?
        .ok_or_else(invalid_pending)?;
    Ok((p, user))
}

fn invalid_pending() -> ApiError {
    ApiError::bad_request(
        "invalid_pending_authentication_token",
        "The pending authentication token is invalid, used or expired.",
    )
}

#[derive(Debug, Deserialize)]
struct MagicAuthGrant {
    code: String,
    email: String,
    #[serde(default)]
    invitation_token: Option<String>,
    #[serde(default)]
    ip_address: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
}

/// Magic Auth: checks the code sent to `email` ([`redeem_magic_code`]), then continues the
/// sign-in. Records `authentication.magic_auth_succeeded` / `_failed`.
async fn magic_auth(
    state: &AppState,
    env: &EnvironmentId,
    issuer: String,
    grant: MagicAuthGrant,
) -> ApiResult<AuthenticateResponse> {
    let email = normalize_email(&grant.email).map_err(|_| code_error(CodeError::Incorrect))?;
    sign_in::limit_attempts(state, env, &email).await?;
    let (ip, ua) = (grant.ip_address.as_deref(), grant.user_agent.as_deref());
    let mut tx = state.db.begin().await?;
    let token = grant.invitation_token.as_deref();
    let signed =
        match redeem_magic_code(state, &mut tx, env, &email, &grant.code, token, (ip, ua)).await? {
            Ok(s) => s,
            Err(e) => {
                tx.commit().await?;
                return Err(code_error(e));
            }
        };
    let user = signed.user;
    let step = sign_in::complete(
        state,
        &mut tx,
        env,
        SignIn {
            user: user.clone(),
            auth_method: "magic_code".into(),
            ip_address: grant.ip_address.clone(),
            user_agent: grant.user_agent.clone(),
            mfa_verified: false,
            organization_id: signed.organization_id,
        },
    )
    .await?;
    let data = attempt("magic_auth", Some(&user.id), Some(&email), ip, ua, None);
    events::record(
        &mut tx,
        env,
        names::AUTHENTICATION_MAGIC_AUTH_SUCCEEDED,
        &data,
        None,
    )
    .await?;
    tx.commit().await?;
    finish(state, env, issuer, step).await
}

/// The user a Magic Auth code signed in.
#[derive(Debug)]
pub struct MagicAuthUser {
    /// The user: created on first use (with the id the code named), email verified.
    pub user: users::User,
    /// The organization an accepted invitation binds the sign-in to.
    pub organization_id: Option<String>,
}

/// The first factor of the Magic Auth grant, shared with the hosted magic-code page: checks
/// `code` against the codes sent to the normalised `email` (single use, expiry, attempts); on
/// success creates the user (`user.created`) or marks its email verified (`user.updated`) and
/// accepts the invitation (`invitation_token`, or the one the code was sent with). A failure
/// records `authentication.magic_auth_failed` (with the end user's `(ip_address, user_agent)`)
/// in `tx`, which the caller commits; on success the
/// caller records `authentication.magic_auth_succeeded` once it has continued the sign-in.
pub async fn redeem_magic_code(
    state: &AppState,
    tx: &mut crate::db::Tx,
    env: &EnvironmentId,
    email: &str,
    code: &str,
    invitation_token: Option<&str>,
    (ip, ua): (Option<&str>, Option<&str>),
) -> ApiResult<Result<MagicAuthUser, CodeError>> {
    let existing = users::find_by_email(tx, env, email).await?;
    let redeemed = match magic_auths::redeem(tx, env, email, code).await? {
        Ok(r) => r,
        Err(e) => {
            let user_id = existing.as_ref().map(|u| u.id.as_str());
            let error = Some((e.grant_code(), e.message()));
            let data = attempt("magic_auth", user_id, Some(email), ip, ua, error);
            let name = names::AUTHENTICATION_MAGIC_AUTH_FAILED;
            events::record(tx, env, name, &data, None).await?;
            return Ok(Err(e));
        }
    };
    let user = match existing {
        Some(u) if u.email_verified => u,
        Some(u) => {
            let changes = UserChanges {
                email_verified: Some(true),
                ..Default::default()
            };
            users::update(tx, env, &u.id, changes).await?
        }
        None => {
            let new = NewUser {
                email: email.to_string(),
                email_verified: true,
                ..Default::default()
            };
            users::insert_with_id(tx, env, &redeemed.user_id, new).await?
        }
    };
    let organization_id = match (invitation_token, redeemed.invitation_id.as_deref()) {
        (Some(token), _) => invitations::accept_for_sign_in(state, tx, env, token, &user).await?,
        (None, Some(id)) => {
            invitations::accept_by_id_for_sign_in(state, tx, env, id, &user).await?
        }
        (None, None) => None,
    };
    Ok(Ok(MagicAuthUser {
        user,
        organization_id,
    }))
}

#[derive(Debug, Deserialize)]
struct EmailVerificationGrant {
    code: String,
    pending_authentication_token: String,
    #[serde(default)]
    ip_address: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
}

/// Completes `email_verification_required`: checks the code sent for the pending sign-in, marks
/// the email verified (`user.updated`) and continues. Records
/// `authentication.email_verification_succeeded` / `_failed`.
async fn email_verification(
    state: &AppState,
    env: &EnvironmentId,
    issuer: String,
    grant: EmailVerificationGrant,
) -> ApiResult<AuthenticateResponse> {
    let mut tx = state.db.begin().await?;
    let (p, user) = pending_user(
        &mut tx,
        env,
        &grant.pending_authentication_token,
        Stage::EmailVerification,
    )
    .await?;
    let ip = grant.ip_address.clone().or(p.ip_address.clone());
    let ua = grant.user_agent.clone().or(p.user_agent.clone());
    let client = (ip.as_deref(), ua.as_deref());
    let user = match email_verification::redeem_code(
        &mut tx,
        env,
        &user,
        &grant.code,
        client,
        CodeError::grant_code,
    )
    .await?
    {
        Ok(user) => user,
        Err(e) => {
            tx.commit().await?;
            return Err(code_error(e));
        }
    };
    pending::consume(&mut tx, env, &p.id).await?;
    let data = attempt(
        "email_verification",
        Some(&user.id),
        Some(&user.email),
        ip.as_deref(),
        ua.as_deref(),
        None,
    );
    let step = sign_in::complete(
        state,
        &mut tx,
        env,
        SignIn {
            user,
            auth_method: p.auth_method,
            ip_address: ip,
            user_agent: ua,
            mfa_verified: p.mfa_verified,
            organization_id: p.organization_id,
        },
    )
    .await?;
    events::record(
        &mut tx,
        env,
        names::AUTHENTICATION_EMAIL_VERIFICATION_SUCCEEDED,
        &data,
        None,
    )
    .await?;
    tx.commit().await?;
    finish(state, env, issuer, step).await
}

#[derive(Debug, Deserialize)]
struct MfaTotpGrant {
    code: String,
    pending_authentication_token: String,
    authentication_challenge_id: String,
    #[serde(default)]
    ip_address: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
}

/// Completes `mfa_challenge`: the challenge must be of one of the pending user's factors and the
/// TOTP code right (each code once). Records `authentication.mfa_succeeded` / `_failed`.
async fn mfa_totp(
    state: &AppState,
    env: &EnvironmentId,
    issuer: String,
    grant: MfaTotpGrant,
) -> ApiResult<AuthenticateResponse> {
    let mut tx = state.db.begin().await?;
    let (p, user) = pending_user(
        &mut tx,
        env,
        &grant.pending_authentication_token,
        Stage::MfaChallenge,
    )
    .await?;
    let ip = grant.ip_address.clone().or(p.ip_address.clone());
    let ua = grant.user_agent.clone().or(p.user_agent.clone());
    let verification = match auth_factors::verify(
        &mut tx,
        &state.vault,
        env,
        &grant.authentication_challenge_id,
        &grant.code,
    )
    .await
    {
        Ok(v) => v,
        Err(ApiError::NotFound { .. }) => return Err(code_error(CodeError::Incorrect)),
        Err(e) => return Err(e),
    };
    if verification.factor.user_id.as_deref() != Some(user.id.as_str()) {
        // Another user's challenge: roll back whatever the check wrote.
        return Err(code_error(CodeError::Incorrect));
    }
    if let Err(e) = verification.result {
        let data = attempt(
            "mfa",
            Some(&user.id),
            Some(&user.email),
            ip.as_deref(),
            ua.as_deref(),
            Some((e.grant_code(), e.message())),
        );
        events::record(&mut tx, env, names::AUTHENTICATION_MFA_FAILED, &data, None).await?;
        tx.commit().await?;
        return Err(code_error(e));
    }
    pending::consume(&mut tx, env, &p.id).await?;
    let data = attempt(
        "mfa",
        Some(&user.id),
        Some(&user.email),
        ip.as_deref(),
        ua.as_deref(),
        None,
    );
    let step = sign_in::complete(
        state,
        &mut tx,
        env,
        SignIn {
            user,
            auth_method: p.auth_method,
            ip_address: ip,
            user_agent: ua,
            mfa_verified: true,
            organization_id: p.organization_id,
        },
    )
    .await?;
    events::record(
        &mut tx,
        env,
        names::AUTHENTICATION_MFA_SUCCEEDED,
        &data,
        None,
    )
    .await?;
    tx.commit().await?;
    finish(state, env, issuer, step).await
}

#[derive(Debug, Deserialize)]
struct OrganizationSelectionGrant {
    pending_authentication_token: String,
    organization_id: String,
    #[serde(default)]
    ip_address: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
}

/// Completes `organization_selection_required` with an organization the user is an active member
/// of; the session is scoped to it.
async fn organization_selection(
    state: &AppState,
    env: &EnvironmentId,
    issuer: String,
    grant: OrganizationSelectionGrant,
) -> ApiResult<AuthenticateResponse> {
    let mut tx = state.db.begin().await?;
    let (p, user) = pending_user(
        &mut tx,
        env,
        &grant.pending_authentication_token,
        Stage::OrganizationSelection,
    )
    .await?;
    let member = match grant.organization_id.parse::<OrganizationId>() {
        Ok(org) => organization_memberships::active_roles(&mut tx, env, &user.id, &org)
            .await?
            .is_some(),
        Err(_) => false,
    };
    if !member {
        return Err(ApiError::oauth(
            "organization_membership_not_found",
            format!(
                "The user is not a member of organization '{}'.",
                grant.organization_id
            ),
        ));
    }
    pending::consume(&mut tx, env, &p.id).await?;
    let step = sign_in::complete(
        state,
        &mut tx,
        env,
        SignIn {
            user,
            auth_method: p.auth_method,
            ip_address: grant.ip_address.or(p.ip_address),
            user_agent: grant.user_agent.or(p.user_agent),
            mfa_verified: true,
            organization_id: Some(grant.organization_id),
        },
    )
    .await?;
    tx.commit().await?;
    finish(state, env, issuer, step).await
}

#[derive(Debug, Deserialize)]
struct DeviceCodeGrant {
    device_code: String,
    #[serde(default)]
    ip_address: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
}

/// The device code grant (RFC 8628 §3.4): no client secret. While nobody decided: 400
/// `authorization_pending`, or `slow_down` when polled faster than the interval; then
/// `access_denied`, `expired_token`, or the tokens once (a second exchange is `invalid_grant`).
pub async fn device_code(
    state: &AppState,
    env: &EnvironmentId,
    issuer: String,
    body: Value,
) -> ApiResult<AuthenticateResponse> {
    let grant: DeviceCodeGrant = from_value(body)?;
    let mut tx = state.db.begin().await?;
    let poll = device_authorizations::poll(&mut tx, env, &grant.device_code).await?;
    let (user_id, organization_id, auth_method) = match poll {
        Poll::Approved {
            user_id,
            organization_id,
            auth_method,
        } => (user_id, organization_id, auth_method),
        other => {
            tx.commit().await?;
            let (error, description) = match other {
                Poll::Pending => (
                    "authorization_pending",
                    "The user has not yet approved the device.",
                ),
                Poll::SlowDown => (
                    "slow_down",
                    "Polling too fast; wait the interval, now 5 seconds longer.",
                ),
                Poll::Expired => ("expired_token", "The device code has expired."),
                Poll::Denied => ("access_denied", "The user denied the device."),
                _ => (
                    "invalid_grant",
                    "The device code is invalid or was already used.",
                ),
            };
            return Err(ApiError::oauth(error, description));
        }
    };
    let started = start_session(
        state,
        &mut tx,
        env,
        Redeemed {
            user_id: &user_id,
            organization_id: organization_id.as_deref(),
            auth_method: &auth_method,
            ip_address: grant.ip_address.as_deref(),
            user_agent: grant.user_agent.as_deref(),
        },
    )
    .await?;
    tx.commit().await?;
    let Started {
        user,
        session,
        refresh_token,
    } = started;
    respond(state, env, issuer, user, &session, refresh_token).await
}
