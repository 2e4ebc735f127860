//! INTERIM password reset of the hosted pages (see the parent module): the emailed link and
//! the new password. Duplicates the User Management API's password reset; reconcile at merge.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Failure, Step, form, limit};
use crate::app::AppState;
use crate::crypto::random_token;
use crate::email::{self, Email};
use crate::error::ApiError;
use crate::http::rate_limit::Class;
use crate::pages::PageError;
use crate::password;
use crate::store::authkit_flows::Flow;
use crate::store::authkit_interim::{self as interim, Kind, OneTimeCode};
use crate::store::events::{self, names};
use crate::store::sessions;
use crate::store::users::{self, UserChanges};

/// Lifetime of a password-reset link.
pub const RESET_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// `password_reset.*`: the object without its token and URL.
fn reset_event(c: &OneTimeCode) -> Value {
    json!({
        "object": c.object, "id": c.id, "user_id": c.user_id, "email": c.email,
        "expires_at": crate::timestamp::format(&c.expires_at),
        "created_at": crate::timestamp::format(&c.created_at),
    })
}

/// Emails a reset link if an account exists (the page answers the same either way), recording
/// `password_reset.created`.
pub async fn request_password_reset(state: &AppState, flow: &Flow, email: &str) -> Step<()> {
    let env = &flow.environment_id;
    let Some(email) = super::deliverable_email(email) else {
        return form(StatusCode::BAD_REQUEST, "Enter a valid email address.");
    };
    limit(state, Class::Sends, &format!("{env}:{email}")).await?;
    let mut tx = state.db.begin().await?;
    let Some(user) = users::find_by_email(&mut tx, env, &email).await? else {
        return Ok(());
    };
    let token = random_token(32);
    let created = interim::insert_code(
        &mut tx,
        env,
        Kind::PasswordReset,
        Some(&user.id),
        &email,
        &token,
        RESET_TOKEN_TTL,
    )
    .await?;
    let mut url = url::Url::parse(&format!(
        "{}/authkit/reset-password",
        state.settings.public_url
    ))
    .map_err(anyhow::Error::from)?;
    url.query_pairs_mut()
        .append_pair("client_id", &flow.client_id)
        .append_pair("token", &token);
    events::record(
        &mut tx,
        env,
        names::PASSWORD_RESET_CREATED,
        &reset_event(&created),
        None,
    )
    .await?;
    email::enqueue(
        &mut tx,
        env,
        &email,
        &Email::PasswordReset { url: url.into() },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether `token` is a usable reset token of `env`.
pub async fn reset_token_valid(state: &AppState, env: &str, token: &str) -> Step<bool> {
    let mut conn = state.db.acquire().await.map_err(ApiError::from)?;
    Ok(interim::find_token(&mut conn, env, token).await?.is_some())
}

/// Sets a new password with a reset token: marks the email verified, revokes every session of
/// the user, records `password_reset.succeeded` (and `user.updated`, `session.revoked`).
pub async fn reset_password(
    state: &AppState,
    env: &str,
    token: &str,
    password: String,
) -> Step<()> {
    if let Err(m) = password::check_strength(&password) {
        return form(StatusCode::BAD_REQUEST, &m);
    }
    let hash = state.passwords.hash(password).await?;
    let mut tx = state.db.begin().await?;
    let Some(reset) = interim::redeem_token(&mut tx, env, token).await? else {
        return Err(Failure::Page(PageError::BadRequest(
            "This reset link has expired or was already used. Ask for a new one.".into(),
        )));
    };
    let user_id = reset.user_id.clone().unwrap_or_default();
    users::update(
        &mut tx,
        env,
        &user_id,
        UserChanges {
            email_verified: Some(true),
            password_hash: Some(hash),
            ..UserChanges::default()
        },
    )
    .await?;
    sessions::revoke_all_for_user(&mut tx, env, &user_id).await?;
    events::record(
        &mut tx,
        env,
        names::PASSWORD_RESET_SUCCEEDED,
        &reset_event(&reset),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
