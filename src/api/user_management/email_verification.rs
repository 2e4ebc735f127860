//! Email verification: `POST /user_management/users/{id}/email_verification/send`
//! (`UserlandUsersController_sendVerificationEmail`), `…/confirm`
//! (`UserlandUsersController_emailVerification`) and `GET
//! /user_management/email_verification/{id}` (`UserlandUsersController_getEmailVerification`).
//! Spec tag `user-management.users`. Sends are limited per email (`sends` class).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::codes::redeem_email_verification;
use crate::auth::sign_in::{attempt, limit_sends};
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath};
use crate::ids::{EmailVerificationId, UserId};
use crate::state::AppState;
use crate::store::email_verifications::{self, EmailVerification};
use crate::store::events::{self, names};
use crate::store::one_time_codes::CodeError;
use crate::store::users::{self, User};

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/user_management/users/{id}/email_verification/send",
            post(send_verification),
        )
        .route(
            "/user_management/users/{id}/email_verification/confirm",
            post(confirm_verification),
        )
        .route(
            "/user_management/email_verification/{id}",
            get(get_verification),
        )
}

/// `{user}`: the response of send and confirm.
#[derive(Debug, Serialize)]
pub struct UserResponse {
    /// The user.
    pub user: User,
}

/// Body of `…/email_verification/confirm`.
#[derive(Debug, Deserialize)]
pub struct ConfirmVerification {
    /// The six-digit code.
    pub code: String,
}

/// `POST …/email_verification/send` → 200 `{user}`; records `email_verification.created` and
/// queues the code. Errors: 404; 400 `email_already_verified`; 429.
async fn send_verification(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<UserId>,
) -> ApiResult<Json<UserResponse>> {
    let env = &ctx.environment_id;
    let mut tx = state.db.begin().await?;
    let user = users::find(&mut tx, env, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("User", &id))?;
    if user.email_verified {
        return Err(ApiError::bad_request(
            "email_already_verified",
            "The user's email is already verified.",
        ));
    }
    limit_sends(&state, env, &user.email).await?;
    email_verifications::insert(&mut tx, &state.vault, env, &user.id, &user.email).await?;
    tx.commit().await?;
    Ok(Json(UserResponse { user }))
}

/// `POST …/email_verification/confirm` → 200 `{user}` with the email verified; records
/// `user.updated` and `authentication.email_verification_succeeded` (or `_failed`).
///
/// Errors: 404; 400 `email_previously_verified`, `email_verification_code_incorrect`,
/// `email_verification_code_expired`, `email_verification_code_previously_used`.
async fn confirm_verification(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<UserId>,
    AppJson(body): AppJson<ConfirmVerification>,
) -> ApiResult<Json<UserResponse>> {
    crate::limits::max_chars("code", Some(&body.code), crate::limits::TOKEN_MAX)?;
    let env = &ctx.environment_id;
    let mut tx = state.db.begin().await?;
    let user = users::find(&mut tx, env, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("User", &id))?;
    if user.email_verified {
        return Err(ApiError::bad_request(
            "email_previously_verified",
            "The user's email is already verified.",
        ));
    }
    let user = match redeem_email_verification(
        &mut tx,
        env,
        &user,
        &body.code,
        (None, None),
        confirm_code,
    )
    .await?
    {
        Ok(user) => user,
        Err(e) => {
            tx.commit().await?;
            return Err(ApiError::bad_request(confirm_code(e), e.message()));
        }
    };
    let data = attempt(
        "email_verification",
        Some(&user.id),
        Some(&user.email),
        None,
        None,
        None,
    );
    events::record(
        &mut tx,
        env,
        names::AUTHENTICATION_EMAIL_VERIFICATION_SUCCEEDED,
        &data,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(UserResponse { user }))
}

/// The error code `…/email_verification/confirm` answers (and its failure event carries).
fn confirm_code(e: CodeError) -> &'static str {
    match e {
        CodeError::Expired => "email_verification_code_expired",
        CodeError::PreviouslyUsed => "email_verification_code_previously_used",
        CodeError::Incorrect | CodeError::TooManyAttempts => "email_verification_code_incorrect",
    }
}

/// `GET /user_management/email_verification/{id}` (with `code`). Errors: 404.
async fn get_verification(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<EmailVerificationId>,
) -> ApiResult<Json<EmailVerification>> {
    let mut conn = state.db.acquire().await?;
    email_verifications::find(&mut conn, &state.vault, &ctx.environment_id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Email Verification", id))
}
