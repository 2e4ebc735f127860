//! The sign-in logic behind the hosted pages, on the User Management API's own stores and
//! checks: the password check of the `password` grant, Magic Auth codes (`magic_auths`, the
//! first factor of the `…:magic-auth:code` grant), email verification codes
//! (`email_verifications`, the check of the confirm endpoint and `…:email-verification:code`
//! grant), TOTP factors (`authentication_factors`) and password resets (`password_resets`).
//! Each function is one unit of work in its own transaction, recording its spec-named events
//! (`magic_auth.created`, `authentication.*`, …) and queueing its email there, exactly as the
//! API does; what is page-specific here is the form errors, the per-browser rate limits and
//! the flow's failure count.

use axum::http::StatusCode;

use super::browser::Browser;
use crate::auth::codes::{self, redeem_magic_code};
use crate::auth::hooks::{self, Attempt};
use crate::auth::password::{PasswordChecked, check_password};
use crate::auth::sign_in::attempt;
use crate::crypto::totp;
use crate::email::EmailAddress;
use crate::error::ApiError;
use crate::http::rate_limit::Class;
use crate::ids::{EnvironmentId, UserId};
use crate::state::AppState;
use crate::store::auth_factors::{EnrolledFactor, NewFactor};
use crate::store::authkit_flows::{self, Flow};
use crate::store::events::{self, EventName, names};
use crate::store::one_time_codes::CodeError;
use crate::store::users::{self, NewUser, User};
use crate::store::{auth_factors, email_verifications};

mod reset;
pub mod step;

pub use reset::{request_password_reset, reset_password, reset_token_valid};
use step::{Step, deliverable_email, form, limit};

/// Failed code or TOTP attempts after which a flow is dropped.
pub const MAX_FLOW_FAILURES: i32 = 10;

/// The browser as the `authentication.*` events show it: `(ip_address, user_agent)`.
fn client(browser: &Browser) -> (Option<&str>, Option<&str>) {
    browser.client.pair()
}

/// Records the `authentication.*` success event `name` of a first factor or step.
async fn succeeded(
    tx: &mut crate::db::Tx,
    env: &EnvironmentId,
    name: EventName,
    kind: &str,
    browser: &Browser,
    user: &User,
) -> Step<()> {
    let (ip, ua) = client(browser);
    let data = attempt(kind, Some(&user.id), Some(&user.email), ip, ua, None);
    events::record(tx, env, name, &data, None).await?;
    Ok(())
}

/// Runs the pre-attempt hooks ([`hooks::before_attempt`]) for a step checking a credential of
/// `user`; a block ends with an error page.
async fn screen(
    state: &AppState,
    env: &crate::ids::EnvironmentId,
    kind: &str,
    browser: &Browser,
    user: &User,
) -> Step<()> {
    let (ip, ua) = client(browser);
    let attempt = Attempt {
        environment_id: env,
        kind,
        email: Some(&user.email),
        user_id: Some(&user.id),
        ip_address: ip,
        user_agent: ua,
        radar: Default::default(),
    };
    hooks::before_attempt(state, &attempt).await?;
    Ok(())
}

/// The page's message for a code that was not accepted.
fn code_message(e: CodeError) -> &'static str {
    match e {
        CodeError::Incorrect => "That code is not right. Try again.",
        CodeError::Expired => "This code has expired. Ask for a new one.",
        CodeError::PreviouslyUsed => "This code was already used. Ask for a new one.",
        CodeError::TooManyAttempts => {
            "This code was entered wrongly too many times. Ask for a new one."
        }
    }
}

/// Counts a failed attempt on the flow; past [`MAX_FLOW_FAILURES`] the flow is dropped.
async fn count_failure(tx: &mut crate::db::Tx, flow: &Flow) -> Step<()> {
    let n = authkit_flows::record_failure(tx, &flow.environment_id, &flow.id).await?;
    if n >= MAX_FLOW_FAILURES {
        authkit_flows::delete(tx, &flow.environment_id, &flow.id).await?;
    }
    Ok(())
}

/// Email + password, checked like the `password` grant ([`check_password`]): failures (wrong
/// email or password, same answer) record `authentication.password_failed`; success records
/// `authentication.password_succeeded`.
pub async fn password_sign_in(
    state: &AppState,
    flow: &Flow,
    browser: &Browser,
    email: &str,
    password: String,
) -> Step<()> {
    let env = &flow.environment_id;
    let max = crate::limits::SIGN_IN_PASSWORD_MAX;
    if password.chars().count() > max {
        return form(
            StatusCode::BAD_REQUEST,
            &format!("Password must be at most {max} characters."),
        );
    }
    let email = EmailAddress::new(email);
    limit(state, Class::AuthenticateEmail, &format!("{env}:{email}")).await?;
    limit(state, Class::AuthenticateIp, &browser.ip_key(env)).await?;
    let checked = check_password(
        state,
        env,
        &email,
        password,
        client(browser),
        Default::default(),
    )
    .await?;
    let Some(PasswordChecked {
        user_id,
        rehash,
        radar_challenge,
    }) = checked
    else {
        return form(StatusCode::UNAUTHORIZED, "Incorrect email or password.");
    };
    let mut tx = state.db.begin().await?;
    if let Some(hash) = rehash {
        users::set_password_hash(&mut tx, env, &user_id, &hash).await?;
    }
    let Some(user) = users::find(&mut tx, env, &user_id).await? else {
        return form(StatusCode::UNAUTHORIZED, "Incorrect email or password.");
    };
    authkit_flows::set_user(&mut tx, env, &flow.id, &user.id, "password").await?;
    if radar_challenge {
        authkit_flows::set_radar_challenge(&mut tx, env, &flow.id, true).await?;
    }
    let name = names::AUTHENTICATION_PASSWORD_SUCCEEDED;
    succeeded(&mut tx, env, name, "password", browser, &user).await?;
    tx.commit().await?;
    Ok(())
}

/// What the sign-up form sends.
#[derive(Debug, Clone, Default)]
pub struct SignUp {
    /// First name (optional).
    pub first_name: String,
    /// Last name (optional).
    pub last_name: String,
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
}

/// Creates a password user (`user.created`) and signs the flow in with it
/// (`authentication.password_succeeded`).
pub async fn sign_up(state: &AppState, flow: &Flow, browser: &Browser, form_: SignUp) -> Step<()> {
    let env = &flow.environment_id;
    let Some(email) = deliverable_email(&form_.email) else {
        return form(StatusCode::BAD_REQUEST, "Enter a valid email address.");
    };
    if let Err(m) = crate::password::check_strength(&form_.password) {
        return form(StatusCode::BAD_REQUEST, &m);
    }
    for (label, value) in [
        ("First name", &form_.first_name),
        ("Last name", &form_.last_name),
    ] {
        if crate::limits::max_chars(label, Some(value.trim()), crate::limits::NAME_MAX).is_err() {
            let max = crate::limits::NAME_MAX;
            return form(
                StatusCode::BAD_REQUEST,
                &format!("{label} must be at most {max} characters."),
            );
        }
    }
    limit(state, Class::AuthenticateIp, &browser.ip_key(env)).await?;
    let hash = state.passwords.hash(form_.password).await?;
    let name = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let mut tx = state.db.begin().await?;
    let created = users::insert(
        &mut tx,
        env,
        NewUser {
            email: email.clone(),
            first_name: name(form_.first_name),
            last_name: name(form_.last_name),
            password_hash: Some(hash),
            ..NewUser::default()
        },
    )
    .await;
    let user = match created {
        Ok(u) => u,
        Err(ApiError::BadRequest { .. }) => {
            return form(
                StatusCode::CONFLICT,
                "An account with this email already exists. Sign in instead.",
            );
        }
        Err(e) => return Err(e.into()),
    };
    authkit_flows::set_user(&mut tx, env, &flow.id, &user.id, "password").await?;
    let name = names::AUTHENTICATION_PASSWORD_SUCCEEDED;
    succeeded(&mut tx, env, name, "password", browser, &user).await?;
    tx.commit().await?;
    Ok(())
}

/// Sends a Magic Auth code to `email` (whether or not an account exists: the page never
/// tells) through [`codes::send_magic_auth`], the API's own path: a `magic_auth_…` object,
/// `magic_auth.created` and the queued email, in one transaction with the flow's pending email.
pub async fn send_magic_code(state: &AppState, flow: &Flow, email: &str) -> Step<()> {
    let env = &flow.environment_id;
    let Some(email) = deliverable_email(email) else {
        return form(StatusCode::BAD_REQUEST, "Enter a valid email address.");
    };
    limit(state, Class::Sends, &format!("{env}:{email}")).await?;
    let mut tx = state.db.begin().await?;
    codes::send_magic_auth(state, &mut tx, env, &email, None).await?;
    authkit_flows::set_pending_email(&mut tx, env, &flow.id, &email).await?;
    tx.commit().await?;
    Ok(())
}

/// Checks a Magic Auth code with the grant's own check ([`redeem_magic_code`]: single
/// use, expiry, attempts; the user is created or its email verified). Records
/// `authentication.magic_auth_succeeded` / `_failed`.
pub async fn verify_magic_code(
    state: &AppState,
    flow: &Flow,
    browser: &Browser,
    code: &str,
) -> Step<()> {
    let env = &flow.environment_id;
    let Some(email) = flow.pending_email.clone() else {
        return form(StatusCode::BAD_REQUEST, "Ask for a code first.");
    };
    limit(state, Class::AuthenticateEmail, &format!("{env}:{email}")).await?;
    limit(state, Class::AuthenticateIp, &browser.ip_key(env)).await?;
    let mut tx = state.db.begin().await?;
    let checked = redeem_magic_code(state, &mut tx, env, &email, code, None, {
        let (ip, ua) = client(browser);
        (ip, ua, Default::default())
    })
    .await?;
    let (user, radar_challenge) = match checked {
        Ok(signed) => (signed.user, signed.radar_challenge),
        Err(e) => {
            count_failure(&mut tx, flow).await?;
            tx.commit().await?;
            return form(StatusCode::BAD_REQUEST, code_message(e));
        }
    };
    authkit_flows::set_user(&mut tx, env, &flow.id, &user.id, "magic_code").await?;
    if radar_challenge {
        authkit_flows::set_radar_challenge(&mut tx, env, &flow.id, true).await?;
    }
    let name = names::AUTHENTICATION_MAGIC_AUTH_SUCCEEDED;
    succeeded(&mut tx, env, name, "magic_auth", browser, &user).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether the user still has a usable verification code (so entering the step sends none).
pub async fn verification_code_pending(
    state: &AppState,
    env: &EnvironmentId,
    user: &User,
) -> Step<bool> {
    let mut conn = state.db.acquire().await.map_err(ApiError::from)?;
    Ok(email_verifications::live_exists(&mut conn, env, &user.id, &user.email).await?)
}

/// Emails a verification code to the user: an `email_verification_…` object with
/// `email_verification.created` and the queued email, as the send endpoint does.
pub async fn send_verification_code(
    state: &AppState,
    env: &EnvironmentId,
    user: &User,
) -> Step<()> {
    limit(state, Class::Sends, &format!("{env}:{}", user.email)).await?;
    let mut tx = state.db.begin().await?;
    email_verifications::insert(&mut tx, &state.vault, env, &user.id, &user.email).await?;
    tx.commit().await?;
    Ok(())
}

/// Checks an email verification code with the API's check
/// ([`codes::redeem_email_verification`]); success marks the email verified (`user.updated`).
/// Records `authentication.email_verification_succeeded` / `_failed`.
pub async fn verify_email_code(
    state: &AppState,
    flow: &Flow,
    browser: &Browser,
    user: &User,
    code: &str,
) -> Step<()> {
    let env = &flow.environment_id;
    limit(state, Class::AuthenticateIp, &browser.ip_key(env)).await?;
    screen(state, env, "email_verification", browser, user).await?;
    let mut tx = state.db.begin().await?;
    let checked = codes::redeem_email_verification(
        &mut tx,
        env,
        user,
        code,
        client(browser),
        CodeError::grant_code,
    )
    .await?;
    let user = match checked {
        Ok(user) => user,
        Err(e) => {
            count_failure(&mut tx, flow).await?;
            tx.commit().await?;
            return form(StatusCode::BAD_REQUEST, code_message(e));
        }
    };
    authkit_flows::set_radar_challenge(&mut tx, env, &flow.id, false).await?;
    let name = names::AUTHENTICATION_EMAIL_VERIFICATION_SUCCEEDED;
    succeeded(&mut tx, env, name, "email_verification", browser, &user).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether the user has a TOTP factor.
pub async fn has_totp(state: &AppState, env: &EnvironmentId, user_id: &UserId) -> Step<bool> {
    let mut conn = state.db.acquire().await.map_err(ApiError::from)?;
    Ok(!auth_factors::all_for_user(&mut conn, env, user_id)
        .await?
        .is_empty())
}

/// Enrolls a TOTP factor for the user (a fresh 160-bit secret; issuer: the environment's name,
/// account: the user's email), as the MFA API does; the returned factor shows the secret once.
pub async fn enroll_totp(state: &AppState, flow: &Flow, user: &User) -> Step<EnrolledFactor> {
    let env = &flow.environment_id;
    let issuer = flow.environment_name.replace(':', " ");
    let account = user.email.replace(':', " ");
    let mut tx = state.db.begin().await?;
    let factor = auth_factors::insert(
        &mut tx,
        &state.vault,
        env,
        NewFactor {
            user_id: Some(&user.id),
            issuer: if issuer.trim().is_empty() {
                "Keystead"
            } else {
                &issuer
            },
            user: &account,
            secret: totp::generate_secret(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(factor)
}

/// Checks a TOTP code (SHA-1, 6 digits, 30 s, ±1 step) against the user's factors (the same
/// `authentication_factors` the MFA API enrolls); each step is accepted once. Records
/// `authentication.mfa_succeeded` / `_failed`.
pub async fn verify_totp(
    state: &AppState,
    flow: &Flow,
    browser: &Browser,
    user: &User,
    code: &str,
) -> Step<()> {
    let env = &flow.environment_id;
    limit(state, Class::AuthenticateIp, &browser.ip_key(env)).await?;
    screen(state, env, "mfa", browser, user).await?;
    let mut tx = state.db.begin().await?;
    let accepted =
        auth_factors::verify_for_user(&mut tx, &state.vault, env, &user.id, code.trim()).await?;
    if !accepted {
        let e = CodeError::Incorrect;
        let (ip, ua) = client(browser);
        let error = Some((e.grant_code(), e.message()));
        let data = attempt("mfa", Some(&user.id), Some(&user.email), ip, ua, error);
        events::record(&mut tx, env, names::AUTHENTICATION_MFA_FAILED, &data, None).await?;
        count_failure(&mut tx, flow).await?;
        tx.commit().await?;
        return form(
            StatusCode::BAD_REQUEST,
            "That code is not right. Use the current code from your authenticator app.",
        );
    }
    authkit_flows::pass_mfa(&mut tx, env, &flow.id).await?;
    succeeded(
        &mut tx,
        env,
        names::AUTHENTICATION_MFA_SUCCEEDED,
        "mfa",
        browser,
        user,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
