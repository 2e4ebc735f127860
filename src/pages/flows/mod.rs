//! INTERIM sign-in logic behind the hosted pages: password check, sign-up, magic codes, email
//! verification codes, TOTP, password reset. Each function is one unit of work in its own
//! transaction, recording its spec-named events there and queueing its email there.
//!
//! This duplicates what the User Management API (magic auth, email verification, password
//! reset, MFA) implements on its own; at merge these functions should call that code and
//! [`crate::store::authkit_interim`] should go. Nothing outside `pages` depends on them.

use std::str::FromStr;
use std::time::Duration;

use axum::http::StatusCode;

use rand::Rng;
use serde_json::{Value, json};

use super::{Browser, PageError};
use crate::app::AppState;
use crate::email::{self, Email};
use crate::error::ApiError;
use crate::http::rate_limit::Class;
use crate::password;
use crate::store::auth_factors;
use crate::store::authkit_flows::{self, Flow};
use crate::store::authkit_interim::{self as interim, CodeCheck, Kind, OneTimeCode};
use crate::store::events::{self, names};
use crate::store::users::{self, NewUser, User, UserChanges};

mod reset;

pub use reset::{request_password_reset, reset_password, reset_token_valid};

/// Lifetime of a magic sign-in code.
pub const MAGIC_CODE_TTL: Duration = Duration::from_secs(10 * 60);
/// Lifetime of an email verification code.
pub const VERIFICATION_CODE_TTL: Duration = Duration::from_secs(10 * 60);
/// Failed code or TOTP attempts after which a flow is dropped.
pub const MAX_FLOW_FAILURES: i32 = 10;

/// A problem shown on the form that was sent.
#[derive(Debug, Clone)]
pub struct FormError {
    /// HTTP status of the re-rendered form.
    pub status: StatusCode,
    /// The message.
    pub message: String,
}

impl FormError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

/// Why a step did not complete: a form error, or an error page.
#[derive(Debug)]
pub enum Failure {
    /// Show the form again with this message.
    Form(FormError),
    /// End with an error page.
    Page(PageError),
}

impl<E: Into<PageError>> From<E> for Failure {
    fn from(e: E) -> Self {
        Self::Page(e.into())
    }
}

type Step<T> = Result<T, Failure>;

fn form<T>(status: StatusCode, message: &str) -> Step<T> {
    Err(Failure::Form(FormError::new(status, message)))
}

/// The normalised address, if it is one emails can be sent to.
fn deliverable_email(email: &str) -> Option<String> {
    crate::api::user_management::users::normalize_email(email)
        .ok()
        .filter(|e| lettre::Address::from_str(e).is_ok())
}

/// A fresh 6-digit code.
fn six_digits() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// Counts one request against `class` for `key`; a rejection becomes a 429 form error.
async fn limit(state: &AppState, class: Class, key: &str) -> Step<()> {
    let d = state.limiter.check(class, key).await;
    if d.allowed {
        return Ok(());
    }
    form(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "Too many attempts. Wait {} seconds and try again.",
            d.retry_after_secs.max(1)
        ),
    )
}

/// The `authentication.*` event payload (AuthAttempt).
fn attempt(kind: &str, browser: &Browser, user_id: Option<&str>, email: &str) -> Value {
    json!({
        "type": kind,
        "status": "succeeded",
        "ip_address": browser.ip,
        "user_agent": browser.user_agent,
        "user_id": user_id,
        "email": email,
    })
}

fn failed(mut data: Value, code: &str, message: &str) -> Value {
    data["status"] = json!("failed");
    data["error"] = json!({ "code": code, "message": message });
    data
}

/// `magic_auth.created` / `email_verification.created`: the object without its code.
fn code_event(c: &OneTimeCode) -> Value {
    json!({
        "object": c.object, "id": c.id, "user_id": c.user_id, "email": c.email,
        "expires_at": crate::timestamp::format(&c.expires_at),
        "created_at": crate::timestamp::format(&c.created_at),
        "updated_at": crate::timestamp::format(&c.updated_at),
    })
}

/// Counts a failed attempt on the flow; past [`MAX_FLOW_FAILURES`] the flow is dropped.
async fn count_failure(tx: &mut crate::db::Tx, flow: &Flow) -> Step<()> {
    let n = authkit_flows::record_failure(tx, &flow.environment_id, &flow.id).await?;
    if n >= MAX_FLOW_FAILURES {
        authkit_flows::delete(tx, &flow.environment_id, &flow.id).await?;
    }
    Ok(())
}

/// Email + password. Failures (wrong email or password, same answer) record
/// `authentication.password_failed`; success records `authentication.password_succeeded`.
pub async fn password_sign_in(
    state: &AppState,
    flow: &Flow,
    browser: &Browser,
    email: &str,
    password: String,
) -> Step<()> {
    let env = &flow.environment_id;
    let email = email.trim().to_lowercase();
    limit(state, Class::AuthenticateEmail, &format!("{env}:{email}")).await?;
    limit(state, Class::AuthenticateIp, &browser.ip_key(env)).await?;
    let found = {
        let mut conn = state.db.acquire().await.map_err(ApiError::from)?;
        users::credentials_by_email(&mut conn, env, &email).await?
    };
    let (user_id, stored) = found.map_or((None, None), |(id, hash)| (Some(id), hash));
    let valid = state
        .passwords
        .verify(password.clone(), stored.clone())
        .await?
        && user_id.is_some();
    let data = attempt("password", browser, user_id.as_deref(), &email);
    let mut tx = state.db.begin().await?;
    let (Some(user_id), true) = (user_id.as_deref(), valid) else {
        let data = failed(data, "invalid_credentials", "Invalid credentials.");
        events::record(
            &mut tx,
            env,
            names::AUTHENTICATION_PASSWORD_FAILED,
            &data,
            None,
        )
        .await?;
        tx.commit().await?;
        return form(StatusCode::UNAUTHORIZED, "Incorrect email or password.");
    };
    if stored.as_deref().is_some_and(password::needs_rehash) {
        let hash = state.passwords.hash(password).await?;
        users::set_password_hash(&mut tx, env, user_id, &hash).await?;
    }
    authkit_flows::set_user(&mut tx, env, &flow.id, user_id, "password").await?;
    events::record(
        &mut tx,
        env,
        names::AUTHENTICATION_PASSWORD_SUCCEEDED,
        &data,
        None,
    )
    .await?;
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

/// Creates a password user (`user.created`) and signs the flow in with it.
pub async fn sign_up(state: &AppState, flow: &Flow, browser: &Browser, form_: SignUp) -> Step<()> {
    let env = &flow.environment_id;
    let Some(email) = deliverable_email(&form_.email) else {
        return form(StatusCode::BAD_REQUEST, "Enter a valid email address.");
    };
    if let Err(m) = password::check_strength(&form_.password) {
        return form(StatusCode::BAD_REQUEST, &m);
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
    let data = attempt("password", browser, Some(&user.id), &email);
    events::record(
        &mut tx,
        env,
        names::AUTHENTICATION_PASSWORD_SUCCEEDED,
        &data,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sends a magic sign-in code to `email` (whether or not an account exists: the page never
/// tells), recording `magic_auth.created`.
pub async fn send_magic_code(state: &AppState, flow: &Flow, email: &str) -> Step<()> {
    let env = &flow.environment_id;
    let Some(email) = deliverable_email(email) else {
        return form(StatusCode::BAD_REQUEST, "Enter a valid email address.");
    };
    limit(state, Class::Sends, &format!("{env}:{email}")).await?;
    let code = six_digits();
    let mut tx = state.db.begin().await?;
    let user = users::find_by_email(&mut tx, env, &email).await?;
    let created = interim::insert_code(
        &mut tx,
        env,
        Kind::MagicAuth,
        user.as_ref().map(|u| u.id.as_str()),
        &email,
        &code,
        MAGIC_CODE_TTL,
    )
    .await?;
    events::record(
        &mut tx,
        env,
        names::MAGIC_AUTH_CREATED,
        &code_event(&created),
        None,
    )
    .await?;
    email::enqueue(&mut tx, env, &email, &Email::MagicAuth { code }).await?;
    authkit_flows::set_pending_email(&mut tx, env, &flow.id, &email).await?;
    tx.commit().await?;
    Ok(())
}

/// Checks a magic code; on success finds or creates the user (its email is now verified).
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
    limit(state, Class::AuthenticateIp, &browser.ip_key(env)).await?;
    let mut tx = state.db.begin().await?;
    let known = users::find_by_email(&mut tx, env, &email).await?;
    let data = attempt(
        "magic_auth",
        browser,
        known.as_ref().map(|u| u.id.as_str()),
        &email,
    );
    let checked = interim::check_code(&mut tx, env, Kind::MagicAuth, &email, code).await?;
    if !matches!(checked, CodeCheck::Valid(_)) {
        let (code_name, message) = match checked {
            CodeCheck::Wrong => (
                "invalid_one_time_code",
                "That code is not right. Try again.",
            ),
            _ => (
                "one_time_code_expired",
                "This code has expired or was used too many times. Ask for a new one.",
            ),
        };
        let data = failed(data, code_name, message);
        events::record(
            &mut tx,
            env,
            names::AUTHENTICATION_MAGIC_AUTH_FAILED,
            &data,
            None,
        )
        .await?;
        count_failure(&mut tx, flow).await?;
        tx.commit().await?;
        return form(StatusCode::BAD_REQUEST, message);
    }
    let user = match known {
        Some(u) if u.email_verified => u,
        Some(u) => verify_email(&mut tx, env, &u).await?,
        None => {
            users::insert(
                &mut tx,
                env,
                NewUser {
                    email: email.clone(),
                    email_verified: true,
                    ..NewUser::default()
                },
            )
            .await?
        }
    };
    authkit_flows::set_user(&mut tx, env, &flow.id, &user.id, "magic_code").await?;
    let data = attempt("magic_auth", browser, Some(&user.id), &email);
    events::record(
        &mut tx,
        env,
        names::AUTHENTICATION_MAGIC_AUTH_SUCCEEDED,
        &data,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn verify_email(tx: &mut crate::db::Tx, env: &str, user: &User) -> Result<User, ApiError> {
    users::update(
        tx,
        env,
        &user.id,
        UserChanges {
            email_verified: Some(true),
            ..UserChanges::default()
        },
    )
    .await
}

/// Whether the user still has a usable verification code (so entering the step sends none).
pub async fn verification_code_pending(state: &AppState, env: &str, user: &User) -> Step<bool> {
    let mut conn = state.db.acquire().await.map_err(ApiError::from)?;
    Ok(interim::pending_code_exists(&mut conn, env, Kind::EmailVerification, &user.email).await?)
}

/// Emails a verification code to the user, recording `email_verification.created`.
pub async fn send_verification_code(state: &AppState, env: &str, user: &User) -> Step<()> {
    limit(state, Class::Sends, &format!("{env}:{}", user.email)).await?;
    let code = six_digits();
    let mut tx = state.db.begin().await?;
    let created = interim::insert_code(
        &mut tx,
        env,
        Kind::EmailVerification,
        Some(&user.id),
        &user.email,
        &code,
        VERIFICATION_CODE_TTL,
    )
    .await?;
    let data = code_event(&created);
    events::record(&mut tx, env, names::EMAIL_VERIFICATION_CREATED, &data, None).await?;
    email::enqueue(
        &mut tx,
        env,
        &user.email,
        &Email::EmailVerification { code },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Checks an email verification code; success marks the email verified (`user.updated`).
pub async fn verify_email_code(
    state: &AppState,
    flow: &Flow,
    browser: &Browser,
    user: &User,
    code: &str,
) -> Step<()> {
    let env = &flow.environment_id;
    limit(state, Class::AuthenticateIp, &browser.ip_key(env)).await?;
    let data = attempt("email_verification", browser, Some(&user.id), &user.email);
    let mut tx = state.db.begin().await?;
    let checked =
        interim::check_code(&mut tx, env, Kind::EmailVerification, &user.email, code).await?;
    if !matches!(checked, CodeCheck::Valid(_)) {
        let message = match checked {
            CodeCheck::Wrong => "That code is not right. Try again.",
            _ => "This code has expired. Send a new one.",
        };
        let data = failed(data, "invalid_one_time_code", message);
        let name = names::AUTHENTICATION_EMAIL_VERIFICATION_FAILED;
        events::record(&mut tx, env, name, &data, None).await?;
        count_failure(&mut tx, flow).await?;
        tx.commit().await?;
        return form(StatusCode::BAD_REQUEST, message);
    }
    verify_email(&mut tx, env, user).await?;
    let name = names::AUTHENTICATION_EMAIL_VERIFICATION_SUCCEEDED;
    events::record(&mut tx, env, name, &data, None).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether the user has a TOTP factor.
pub async fn has_totp(state: &AppState, env: &str, user_id: &str) -> Step<bool> {
    let mut conn = state.db.acquire().await.map_err(ApiError::from)?;
    Ok(!auth_factors::all_for_user(&mut conn, env, user_id)
        .await?
        .is_empty())
}

/// Checks a TOTP code (SHA-1, 6 digits, 30 s, ±1 step) against the user's factors (the same
/// `authentication_factors` the MFA API enrolls); each step is accepted once. Records `authentication.mfa_succeeded` / `_failed`.
pub async fn verify_totp(
    state: &AppState,
    flow: &Flow,
    browser: &Browser,
    user: &User,
    code: &str,
) -> Step<()> {
    let env = &flow.environment_id;
    limit(state, Class::AuthenticateIp, &browser.ip_key(env)).await?;
    let data = attempt("mfa", browser, Some(&user.id), &user.email);
    let mut tx = state.db.begin().await?;
    let accepted =
        auth_factors::verify_for_user(&mut tx, &state.vault, env, &user.id, code.trim()).await?;
    if !accepted {
        let message = "That code is not right. Use the current code from your authenticator app.";
        let data = failed(data, "mfa_challenge_failed", message);
        events::record(&mut tx, env, names::AUTHENTICATION_MFA_FAILED, &data, None).await?;
        count_failure(&mut tx, flow).await?;
        tx.commit().await?;
        return form(StatusCode::BAD_REQUEST, message);
    }
    authkit_flows::pass_mfa(&mut tx, env, &flow.id).await?;
    events::record(
        &mut tx,
        env,
        names::AUTHENTICATION_MFA_SUCCEEDED,
        &data,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
