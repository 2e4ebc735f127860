//! Email change: `POST /user_management/users/{id}/email_change/send`
//! (`UserlandUsersController_sendEmailChange`) and `…/confirm`
//! (`UserlandUsersController_confirmEmailChange`). Spec tag `user-management.users`.
//!
//! A code goes to the new address; confirming it moves the user there (verified) and records
//! `user.updated`. Sends are limited per address (`sends` class).

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath};
use crate::ids::UserId;
use crate::state::AppState;
use crate::store::email_changes::{self, Confirmation};
use crate::store::one_time_codes::CodeError;
use crate::store::users::{self, User, UserChanges};

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/user_management/users/{id}/email_change/send",
            post(send_email_change),
        )
        .route(
            "/user_management/users/{id}/email_change/confirm",
            post(confirm_email_change),
        )
}

/// Body of `…/email_change/send`.
#[derive(Debug, Deserialize)]
pub struct SendEmailChange {
    /// The address to move to.
    pub new_email: String,
}

/// Body of `…/email_change/confirm`.
#[derive(Debug, Deserialize)]
pub struct ConfirmEmailChange {
    /// The code sent to the new address.
    pub code: String,
}

/// `EmailChange`.
#[derive(Debug, Serialize)]
pub struct EmailChange {
    /// Always `"email_change"`.
    pub object: &'static str,
    /// The user (still at the old address).
    pub user: User,
    /// The address the code went to.
    pub new_email: String,
    /// When the code stops working.
    #[serde(with = "crate::timestamp")]
    pub expires_at: DateTime<Utc>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
}

/// The confirm response: `{object: "email_change_confirmation", user}`.
#[derive(Debug, Serialize)]
pub struct EmailChangeConfirmation {
    /// Always `"email_change_confirmation"`.
    pub object: &'static str,
    /// The user at the new address.
    pub user: User,
}

fn not_available() -> ApiError {
    ApiError::Conflict {
        code: Some("email_not_available"),
        message: "This email is not available.".into(),
    }
}

/// `POST …/email_change/send` → 200 EmailChange; queues the code to the new address.
///
/// Errors: 404; 422 `invalid_email`; 409 `email_change_not_needed`, `email_not_available`; 429.
async fn send_email_change(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<UserId>,
    AppJson(body): AppJson<SendEmailChange>,
) -> ApiResult<Json<EmailChange>> {
    let env = &ctx.environment_id;
    let new_email = EmailAddress::parse(&body.new_email).map_err(|_| ApiError::Unprocessable {
        code: "invalid_email",
        message: format!("'{}' is not a valid email address.", body.new_email),
        errors: Vec::new(),
    })?;
    let mut tx = state.db.begin().await?;
    let user = users::find(&mut tx, env, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("User", &id))?;
    if user.email == new_email {
        return Err(ApiError::Conflict {
            code: Some("email_change_not_needed"),
            message: "The user already has this email.".into(),
        });
    }
    if users::find_by_email(&mut tx, env, &new_email)
        .await?
        .is_some()
    {
        return Err(not_available());
    }
    crate::auth::sign_in::limit_sends(&state, env, &new_email).await?;
    let change = email_changes::insert(&mut tx, env, &user.id, &new_email).await?;
    tx.commit().await?;
    Ok(Json(EmailChange {
        object: "email_change",
        user,
        new_email: change.new_email,
        expires_at: change.expires_at,
        created_at: change.created_at,
    }))
}

/// `POST …/email_change/confirm` → 200 `{object: "email_change_confirmation", user}`; records
/// `user.updated`.
///
/// Errors: 404; 400 `email_change_code_incorrect`, `email_change_code_expired`; 409
/// `no_pending_email_change`, `email_change_code_previously_used`, `email_not_available`; 429
/// `email_change_too_many_attempts`.
async fn confirm_email_change(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<UserId>,
    AppJson(body): AppJson<ConfirmEmailChange>,
) -> ApiResult<Json<EmailChangeConfirmation>> {
    crate::limits::max_chars("code", Some(&body.code), crate::limits::TOKEN_MAX)?;
    let env = &ctx.environment_id;
    let mut tx = state.db.begin().await?;
    let user = users::find(&mut tx, env, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("User", &id))?;
    let new_email = match email_changes::confirm(&mut tx, env, &user.id, &body.code).await? {
        Confirmation::Confirmed(email) => email,
        Confirmation::NothingPending => {
            return Err(ApiError::Conflict {
                code: Some("no_pending_email_change"),
                message: "The user has no pending email change.".into(),
            });
        }
        Confirmation::Rejected(e) => {
            let err = match e {
                CodeError::Incorrect => {
                    ApiError::bad_request("email_change_code_incorrect", e.message())
                }
                CodeError::Expired => {
                    ApiError::bad_request("email_change_code_expired", e.message())
                }
                CodeError::PreviouslyUsed => ApiError::Conflict {
                    code: Some("email_change_code_previously_used"),
                    message: e.message().into(),
                },
                CodeError::TooManyAttempts => ApiError::TooManyAttempts {
                    code: "email_change_too_many_attempts",
                    message: e.message().into(),
                },
            };
            // Keep the counted attempt.
            tx.commit().await?;
            return Err(err);
        }
    };
    if users::find_by_email(&mut tx, env, &new_email)
        .await?
        .is_some_and(|other| other.id != user.id)
    {
        return Err(not_available());
    }
    let changes = UserChanges {
        email: Some(new_email),
        email_verified: Some(true),
        ..Default::default()
    };
    let user = users::update(&mut tx, env, &user.id, changes).await?;
    tx.commit().await?;
    Ok(Json(EmailChangeConfirmation {
        object: "email_change_confirmation",
        user,
    }))
}
