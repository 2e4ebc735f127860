//! Password reset on the hosted pages (see the parent module), on the API's password resets:
//! `/authkit/forgot-password` creates a `password_reset_…` (`password_reset.created`) whose
//! email links to `/authkit/reset-password`, and the new password is set with the confirm
//! endpoint's own redemption ([`crate::auth::password::redeem_reset_token`]).

use axum::http::StatusCode;

use super::step::{Failure, Step, deliverable_email, form, limit};
use crate::error::ApiError;
use crate::http::rate_limit::Class;
use crate::ids::EnvironmentId;
use crate::pages::error::PageError;
use crate::password;
use crate::state::AppState;
use crate::store::authkit_flows::Flow;
use crate::store::{password_resets, users};

/// Emails a reset link if an account exists (the page answers the same either way): a
/// `password_reset_…` with `password_reset.created`, whose email links to this site's reset
/// page (`/authkit/reset-password?client_id=…&token=…`).
pub async fn request_password_reset(state: &AppState, flow: &Flow, email: &str) -> Step<()> {
    let env = &flow.environment_id;
    let Some(email) = deliverable_email(email) else {
        return form(StatusCode::BAD_REQUEST, "Enter a valid email address.");
    };
    limit(state, Class::Sends, &format!("{env}:{email}")).await?;
    let mut tx = state.db.begin().await?;
    let Some(user) = users::find_by_email(&mut tx, env, &email).await? else {
        return Ok(());
    };
    let mut url = url::Url::parse(&format!(
        "{}/authkit/reset-password",
        state.settings.public_url
    ))
    .map_err(anyhow::Error::from)?;
    url.query_pairs_mut()
        .append_pair("client_id", &flow.client_id);
    let link = move |r: &password_resets::PasswordReset| {
        url.query_pairs_mut()
            .append_pair("token", &r.password_reset_token);
        url.to_string()
    };
    let public_url = &state.settings.public_url;
    password_resets::insert_with_link(
        &mut tx,
        &state.vault,
        public_url,
        env,
        &user.id,
        &user.email,
        link,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether `token` is a usable reset token of `env`.
pub async fn reset_token_valid(state: &AppState, env: &EnvironmentId, token: &str) -> Step<bool> {
    let mut conn = state.db.acquire().await.map_err(ApiError::from)?;
    Ok(password_resets::is_live(&mut conn, env, token).await?)
}

/// Sets a new password with a reset token, as `POST /user_management/password_reset/confirm`
/// does: records `password_reset.succeeded`, marks the email verified (`user.updated`) and
/// revokes every session of the user (`session.revoked`).
pub async fn reset_password(
    state: &AppState,
    env: &EnvironmentId,
    token: &str,
    password: String,
) -> Step<()> {
    if let Err(m) = password::check_strength(&password) {
        return form(StatusCode::BAD_REQUEST, &m);
    }
    let hash = state.passwords.hash(password).await?;
    let mut tx = state.db.begin().await?;
    if crate::auth::password::redeem_reset_token(state, &mut tx, env, token, hash)
        .await?
        .is_err()
    {
        return Err(Failure::Page(PageError::BadRequest(
            "This reset link has expired or was already used. Ask for a new one.".into(),
        )));
    }
    tx.commit().await?;
    Ok(())
}
