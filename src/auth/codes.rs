//! One-time codes in a sign-in: Magic Auth (sending a code, redeeming it as the first factor of
//! the `urn:workos:oauth:grant-type:magic-auth:code` grant and of the hosted magic-code page,
//! and the grant's whole sign-in) and email verification codes (the confirm endpoint, the
//! `…:email-verification:code` continuation and the hosted verification page).
//!
//! Errors: 400 `{code}` `invalid_one_time_code`, `one_time_code_expired`,
//! `one_time_code_previously_used`, `one_time_code_too_many_attempts` ([`code_error`]).

use super::hooks::{self, Attempt, RadarHints};
use super::invitations;
use super::sign_in::{self, SignIn, Step, attempt};
use crate::db::Tx;
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::ids::{EnvironmentId, OrganizationId, UserId};
use crate::state::AppState;
use crate::store::email_verifications;
use crate::store::events::{self, names};
use crate::store::magic_auths::{self, MagicAuth};
use crate::store::one_time_codes::CodeError;
use crate::store::users::{self, NewUser, User, UserChanges};

/// The grant dialect's 400 for a code that was not accepted.
pub fn code_error(e: CodeError) -> ApiError {
    ApiError::bad_request(e.grant_code(), e.message())
}

/// Creates a code for the normalised `email` in `tx`, naming its user (or the id a new user
/// will get), records `magic_auth.created` and queues the email. Shared by
/// `POST /user_management/magic_auth` and the hosted magic-code page; the caller limits sends
/// and commits.
pub async fn send_magic_auth(
    state: &AppState,
    tx: &mut Tx,
    env: &EnvironmentId,
    email: &EmailAddress,
    invitation_id: Option<&str>,
) -> ApiResult<MagicAuth> {
    let user_id = match users::find_by_email(tx, env, email).await? {
        Some(user) => user.id,
        None => magic_auths::reserved_user_id(tx, env, email)
            .await?
            .unwrap_or_else(UserId::new),
    };
    magic_auths::insert(tx, &state.vault, env, email, &user_id, invitation_id).await
}

/// The user a Magic Auth code signed in.
#[derive(Debug)]
pub struct MagicAuthUser {
    /// The user: created on first use (with the id the code named), email verified.
    pub user: User,
    /// The organization an accepted invitation binds the sign-in to.
    pub organization_id: Option<OrganizationId>,
    /// A hook (Radar) challenged the attempt: the sign-in must stop for an emailed code.
    pub radar_challenge: bool,
}

/// The first factor of the Magic Auth grant, shared with the hosted magic-code page: runs the
/// pre-attempt hooks, then checks `code` against the codes sent to the normalised `email`
/// (single use, expiry, attempts); on success creates the user (`user.created`) or marks its
/// email verified (`user.updated`) and accepts the invitation (`invitation_token`, or the one
/// the code was sent with). A failure records `authentication.magic_auth_failed` (with the end
/// user's `(ip_address, user_agent)`) in `tx`, which the caller commits; on success the caller
/// records `authentication.magic_auth_succeeded` once it has continued the sign-in.
pub async fn redeem_magic_code(
    state: &AppState,
    tx: &mut Tx,
    env: &EnvironmentId,
    email: &EmailAddress,
    code: &str,
    invitation_token: Option<&str>,
    (ip, ua, radar): (Option<&str>, Option<&str>, RadarHints<'_>),
) -> ApiResult<Result<MagicAuthUser, CodeError>> {
    let screened = Attempt {
        environment_id: env,
        kind: "magic_auth",
        email: Some(email.as_str()),
        user_id: None,
        ip_address: ip,
        user_agent: ua,
        radar,
    };
    let screening = hooks::before_attempt(state, &screened).await?;
    users::lock_email(tx, env, email).await?;
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
                email: email.clone(),
                email_verified: true,
                ..Default::default()
            };
            users::insert_with_id(tx, env, &redeemed.user_id, new).await?
        }
    };
    let organization_id = match (invitation_token, &redeemed.invitation_id) {
        (Some(token), _) => invitations::accept_for_sign_in(state, tx, env, token, &user).await?,
        (None, Some(id)) => {
            invitations::accept_by_id_for_sign_in(state, tx, env, id, &user).await?
        }
        (None, None) => None,
    };
    Ok(Ok(MagicAuthUser {
        radar_challenge: screening.challenged(),
        user,
        organization_id,
    }))
}

/// What the Magic Auth grant sends.
#[derive(Debug, Clone, Default)]
pub struct MagicAuthSignIn {
    /// The normalised email the code was sent to.
    pub email: EmailAddress,
    /// The code.
    pub code: String,
    /// An invitation to accept while signing in.
    pub invitation_token: Option<String>,
    /// End user's IP address.
    pub ip_address: Option<String>,
    /// End user's user agent.
    pub user_agent: Option<String>,
    /// `radar_auth_attempt_id`.
    pub radar_auth_attempt_id: Option<String>,
    /// `signals_id`.
    pub signals_id: Option<String>,
}

/// The Magic Auth grant: rate limit, [`redeem_magic_code`], then [`sign_in::complete`] and
/// `authentication.magic_auth_succeeded` (a failure's `_failed` is committed too).
pub async fn magic_auth_sign_in(
    state: &AppState,
    env: &EnvironmentId,
    m: MagicAuthSignIn,
) -> ApiResult<Step> {
    let email = m.email;
    sign_in::limit_attempts(state, env, &email).await?;
    let (ip, ua) = (m.ip_address.as_deref(), m.user_agent.as_deref());
    let hints = RadarHints {
        attempt_id: m.radar_auth_attempt_id.as_deref(),
        signals_id: m.signals_id.as_deref(),
    };
    let mut tx = state.db.begin().await?;
    let token = m.invitation_token.as_deref();
    let signed =
        match redeem_magic_code(state, &mut tx, env, &email, &m.code, token, (ip, ua, hints))
            .await?
        {
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
            ip_address: m.ip_address.clone(),
            user_agent: m.user_agent.clone(),
            mfa_verified: false,
            organization_id: signed.organization_id,
            radar_challenge: signed.radar_challenge,
        },
    )
    .await?;
    let data = attempt("magic_auth", Some(&user.id), Some(&email), ip, ua, None);
    let name = names::AUTHENTICATION_MAGIC_AUTH_SUCCEEDED;
    events::record(&mut tx, env, name, &data, None).await?;
    tx.commit().await?;
    Ok(step)
}

/// Checks an email verification `code` of `user` in `tx` (single use, expiry, attempts), shared
/// by the confirm endpoint, the email verification grant and the hosted verification page. On
/// success marks the email verified (`user.updated`) and returns the updated user; the caller
/// records `authentication.email_verification_succeeded`. A failure records
/// `authentication.email_verification_failed` with `error.code` = `error_code(e)` (with the
/// end user's `(ip_address, user_agent)`), which the caller commits. The sign-in paths run the
/// pre-attempt hooks before calling this (the confirm endpoint is not a sign-in).
pub async fn redeem_email_verification(
    tx: &mut Tx,
    env: &EnvironmentId,
    user: &User,
    code: &str,
    (ip, ua): (Option<&str>, Option<&str>),
    error_code: fn(CodeError) -> &'static str,
) -> ApiResult<Result<User, CodeError>> {
    if let Err(e) = email_verifications::redeem(tx, env, &user.id, &user.email, code).await? {
        let error = Some((error_code(e), e.message()));
        let data = attempt(
            "email_verification",
            Some(&user.id),
            Some(&user.email),
            ip,
            ua,
            error,
        );
        let name = names::AUTHENTICATION_EMAIL_VERIFICATION_FAILED;
        events::record(tx, env, name, &data, None).await?;
        return Ok(Err(e));
    }
    let changes = UserChanges {
        email_verified: Some(true),
        ..Default::default()
    };
    Ok(Ok(users::update(tx, env, &user.id, changes).await?))
}
