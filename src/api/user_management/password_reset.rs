//! Password reset: `POST /user_management/password_reset`
//! (`UserlandUsersController_createPasswordResetToken`), `POST …/password_reset/confirm`
//! (`UserlandUsersController_resetPassword`) and `GET …/password_reset/{id}`
//! (`UserlandUsersController_getPasswordReset`). Spec tag `user-management.users`.
//!
//! Confirming sets the password (argon2id), marks the email verified (the reset link proved it)
//! and revokes every session of the user. Sends are limited per email (`sends` class).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::email_verification::UserResponse;
use crate::auth::password::redeem_reset_token;
use crate::auth::sign_in::limit_sends;
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath};
use crate::ids::PasswordResetId;
use crate::password;
use crate::state::AppState;
use crate::store::one_time_codes::CodeError;
use crate::store::password_resets::{self, PasswordReset};
use crate::store::users;

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/user_management/password_reset", post(create_reset))
        .route(
            "/user_management/password_reset/confirm",
            post(confirm_reset),
        )
        .route("/user_management/password_reset/{id}", get(get_reset))
}

/// Body of `POST /user_management/password_reset`.
#[derive(Debug, Deserialize)]
pub struct CreatePasswordReset {
    /// The user's email.
    pub email: String,
}

/// Body of `POST /user_management/password_reset/confirm`.
#[derive(Debug, Deserialize)]
pub struct ConfirmPasswordReset {
    /// The reset token.
    pub token: String,
    /// The new password.
    pub new_password: String,
}

fn reset_error(code: &str, message: &str) -> ApiError {
    ApiError::BadRequest {
        code: Some("password_reset_error"),
        message: "The password could not be reset.".into(),
        errors: vec![json!({ "code": code, "message": message })],
    }
}

/// `POST /user_management/password_reset` → 201 PasswordReset (token and URL); records
/// `password_reset.created` and queues the email. Errors: 422 `invalid_request_parameters` naming
/// `email`; 404 unknown email; 429 `daily_quota_exceeded`.
async fn create_reset(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreatePasswordReset>,
) -> ApiResult<(StatusCode, Json<PasswordReset>)> {
    let env = &ctx.environment_id;
    let email = crate::api::validate::email(&body.email)?;
    limit_sends(&state, env, &email).await?;
    let mut tx = state.db.begin().await?;
    let user = users::find_by_email(&mut tx, env, &email)
        .await?
        .ok_or_else(|| ApiError::not_found("User", email.as_str()))?;
    let reset = password_resets::insert(
        &mut tx,
        &state.vault,
        &state.settings.public_url,
        env,
        &user.id,
        &user.email,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(reset)))
}

/// `POST /user_management/password_reset/confirm` → 200 `{user}`; records
/// `password_reset.succeeded`, `user.updated` and `session.revoked` per revoked session.
///
/// Errors: 400 `password_reset_error` with `errors[{code, message}]`: `password_too_weak`,
/// `password_reset_token_invalid`, `password_reset_token_expired`,
/// `password_reset_token_previously_used`.
async fn confirm_reset(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<ConfirmPasswordReset>,
) -> ApiResult<Json<UserResponse>> {
    let env = &ctx.environment_id;
    crate::limits::max_chars("token", Some(&body.token), crate::limits::TOKEN_MAX)?;
    password::check_strength(&body.new_password)
        .map_err(|m| reset_error("password_too_weak", &m))?;
    let hash = state.passwords.hash(body.new_password).await?;
    let mut tx = state.db.begin().await?;
    let user = match redeem_reset_token(&state, &mut tx, env, &body.token, hash).await? {
        Ok(user) => user,
        Err(e) => {
            let code = match e {
                CodeError::Expired => "password_reset_token_expired",
                CodeError::PreviouslyUsed => "password_reset_token_previously_used",
                CodeError::Incorrect | CodeError::TooManyAttempts => "password_reset_token_invalid",
            };
            return Err(reset_error(code, e.message()));
        }
    };
    tx.commit().await?;
    Ok(Json(UserResponse { user }))
}

/// `GET /user_management/password_reset/{id}`. Errors: 404.
async fn get_reset(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<PasswordResetId>,
) -> ApiResult<Json<PasswordReset>> {
    let mut conn = state.db.acquire().await?;
    password_resets::find(
        &mut conn,
        &state.vault,
        &state.settings.public_url,
        &ctx.environment_id,
        &id,
    )
    .await?
    .map(Json)
    .ok_or_else(|| ApiError::not_found("Password Reset", id))
}
