//! Passwords in a sign-in: the credential check shared by the `password` grant of
//! `POST /user_management/authenticate` and the hosted sign-in page ([`check_password`]), the
//! grant's whole sign-in ([`sign_in`]), and spending a password reset token (the confirm
//! endpoint and the hosted reset page, [`redeem_reset_token`]).
//!
//! Password sign-ins are limited per email (failures count) and per end-user `ip_address`
//! (`KEYSTEAD_RATE_LIMITS` classes `authenticate_email`, `authenticate_ip`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::hooks::{self, Attempt, RadarHints};
use super::invitations;
use super::sign_in::{self, SignIn, Step};
use crate::db::Tx;
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::http::rate_limit::Class;
use crate::ids::{EnvironmentId, UserId};
use crate::password;
use crate::state::AppState;
use crate::store::events::{self, names};
use crate::store::one_time_codes::CodeError;
use crate::store::users::{self, User, UserChanges};
use crate::store::{password_resets, sessions};

/// A correct password: its user, and the argon2id re-hash to store when the stored hash is an
/// imported one.
#[derive(Debug)]
pub struct PasswordChecked {
    /// The user.
    pub user_id: UserId,
    /// The new hash to store in the sign-in's transaction, if any.
    pub rehash: Option<String>,
    /// A hook (Radar) challenged the attempt: the sign-in must stop for an emailed code.
    pub radar_challenge: bool,
}

/// The credential check of the `password` grant, shared with the hosted sign-in page: runs the
/// pre-attempt hooks and, at the same time, checks `email` (normalised) and `password` against
/// the stored hash, so Radar's round trip overlaps the hashing. A refused attempt answers the
/// hook's error whatever the password (its hashing is skipped when still queued). An unknown
/// email or a user without a password is verified against a dummy hash (same cost, same
/// answer). A failure records `authentication.password_failed` (with the end user's
/// `(ip_address, user_agent)`) in its own transaction and returns `None`; the caller records
/// `authentication.password_succeeded`. Errors: 400 from a hook that blocks the attempt.
pub async fn check_password(
    state: &AppState,
    env: &EnvironmentId,
    email: &EmailAddress,
    password: String,
    (ip, ua): (Option<&str>, Option<&str>),
    radar: RadarHints<'_>,
) -> ApiResult<Option<PasswordChecked>> {
    let attempt = Attempt {
        environment_id: env,
        kind: "password",
        email: Some(email.as_str()),
        user_id: None,
        ip_address: ip,
        user_agent: ua,
        radar,
    };
    // The hooks (Radar) and the credential check run at once; a refused attempt answers its
    // error whatever the password, and skips the hashing if it has not started yet.
    let refused = Arc::new(AtomicBool::new(false));
    let screen = async {
        let screening = hooks::before_attempt(state, &attempt).await;
        if screening.is_err() {
            refused.store(true, Ordering::Release);
        }
        screening
    };
    let credential = async {
        let found =
            users::credentials_by_email(&mut *state.db.acquire().await?, env, email).await?;
        let (user_id, stored) = match found {
            Some((id, hash)) => (Some(id), hash),
            None => (None, None),
        };
        let valid = state
            .passwords
            .verify_unless(password.clone(), stored.clone(), refused.clone())
            .await?;
        ApiResult::Ok((user_id, stored, valid))
    };
    let (screening, checked) = tokio::join!(screen, credential);
    let screening = screening?;
    let (user_id, stored, valid) = checked?;
    let valid = valid.unwrap_or(false) && user_id.is_some();
    let (Some(user_id), true) = (user_id.clone(), valid) else {
        let error = Some(("invalid_credentials", "Invalid credentials."));
        let data = sign_in::attempt("password", user_id.as_deref(), Some(email), ip, ua, error);
        let mut tx = state.db.begin().await?;
        let name = names::AUTHENTICATION_PASSWORD_FAILED;
        events::record(&mut tx, env, name, &data, None).await?;
        tx.commit().await?;
        return Ok(None);
    };
    // Imported hashes are upgraded to argon2id on the first successful sign-in.
    let rehash = match stored.as_deref() {
        Some(s) if password::needs_rehash(s) => Some(state.passwords.hash(password).await?),
        _ => None,
    };
    Ok(Some(PasswordChecked {
        user_id,
        rehash,
        radar_challenge: screening.challenged(),
    }))
}

/// What the `password` grant sends.
#[derive(Debug, Clone, Default)]
pub struct PasswordSignIn {
    /// Email as typed, normalised.
    pub email: EmailAddress,
    /// The password.
    pub password: String,
    /// End user's IP address.
    pub ip_address: Option<String>,
    /// End user's user agent.
    pub user_agent: Option<String>,
    /// An invitation to accept while signing in.
    pub invitation_token: Option<String>,
    /// `radar_auth_attempt_id`.
    pub radar_auth_attempt_id: Option<String>,
    /// `signals_id`.
    pub signals_id: Option<String>,
}

fn invalid_credentials() -> ApiError {
    ApiError::bad_request("invalid_credentials", "Invalid credentials.")
}

/// The `password` grant: rate limits, [`check_password`], the re-hash, the invitation, then
/// [`sign_in::complete`] and `authentication.password_succeeded`, committed.
///
/// Errors: 400 `invalid_credentials` for a wrong email or password (same path and cost for
/// both), 429, and the invitation's and [`sign_in::complete`]'s errors.
pub async fn sign_in(state: &AppState, env: &EnvironmentId, p: PasswordSignIn) -> ApiResult<Step> {
    let email = p.email;
    // Counted before the password is checked, so failures count too (throttles guessing).
    sign_in::limit_attempts(state, env, &email).await?;
    if let Some(ip) = p.ip_address.as_deref() {
        let by_ip = state
            .limiter
            .check(Class::AuthenticateIp, &format!("{env}:{ip}"))
            .await;
        if !by_ip.allowed {
            return Err(by_ip.error());
        }
    }
    let client = (p.ip_address.as_deref(), p.user_agent.as_deref());
    let hints = RadarHints {
        attempt_id: p.radar_auth_attempt_id.as_deref(),
        signals_id: p.signals_id.as_deref(),
    };
    let Some(PasswordChecked {
        user_id,
        rehash,
        radar_challenge,
    }) = check_password(state, env, &email, p.password, client, hints).await?
    else {
        return Err(invalid_credentials());
    };
    let mut tx = state.db.begin().await?;
    if let Some(hash) = rehash {
        users::set_password_hash(&mut tx, env, &user_id, &hash).await?;
    }
    let user = users::find(&mut tx, env, &user_id)
        .await?
        .ok_or_else(invalid_credentials)?;
    let organization_id = match p.invitation_token.as_deref() {
        Some(token) => invitations::accept_for_sign_in(state, &mut tx, env, token, &user).await?,
        None => None,
    };
    let step = sign_in::complete(
        state,
        &mut tx,
        env,
        SignIn {
            user,
            auth_method: "password".into(),
            ip_address: p.ip_address.clone(),
            user_agent: p.user_agent.clone(),
            mfa_verified: false,
            organization_id,
            radar_challenge,
        },
    )
    .await?;
    let data = sign_in::attempt(
        "password",
        Some(user_id.as_str()),
        Some(&email),
        client.0,
        client.1,
        None,
    );
    let name = names::AUTHENTICATION_PASSWORD_SUCCEEDED;
    events::record(&mut tx, env, name, &data, None).await?;
    tx.commit().await?;
    Ok(step)
}

/// Spends a reset `token` in `tx` and sets the password to `password_hash` (argon2id), shared
/// by `POST /user_management/password_reset/confirm` and the hosted reset page: records
/// `password_reset.succeeded`, marks the email verified (`user.updated`) and revokes every
/// session of the user (`session.revoked` each). On `Err` nothing was written.
pub async fn redeem_reset_token(
    state: &AppState,
    tx: &mut Tx,
    env: &EnvironmentId,
    token: &str,
    password_hash: String,
) -> ApiResult<Result<User, CodeError>> {
    let public_url = &state.settings.public_url;
    let reset = match password_resets::redeem(tx, &state.vault, public_url, env, token).await? {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let changes = UserChanges {
        password_hash: Some(password_hash),
        email_verified: Some(true),
        ..Default::default()
    };
    let user = users::update(tx, env, &reset.user_id, changes).await?;
    sessions::revoke_all_for_user(tx, env, &user.id).await?;
    Ok(Ok(user))
}
