//! `POST /user_management/magic_auth` (operation
//! `UserlandMagicAuthController_sendMagicAuthCodeAndReturn`) and `GET
//! /user_management/magic_auth/{id}` (`UserlandMagicAuthController_get`). Spec tag
//! `user-management.magic-auth`.
//!
//! The code is emailed (when email delivery is configured) and, as the spec says, returned. For
//! an email without a user the send creates the user (email unverified, `user.created`) in the
//! same transaction, so the `user_id` it returns resolves at once; the
//! `urn:workos:oauth:grant-type:magic-auth:code` grant then verifies the email. Sends are
//! limited per email (`sends` class).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::auth::codes::send_magic_auth;
use crate::auth::sign_in::limit_sends;
use crate::db::Tx;
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath};
use crate::ids::{EnvironmentId, MagicAuthId, UserId};
use crate::state::AppState;
use crate::store::environment_settings::{self, SignInMethods};
use crate::store::invitations::{self, Links};
use crate::store::magic_auths::{self, MagicAuth};
use crate::store::users::{self, NewUser};

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/user_management/magic_auth", post(create_magic_auth))
        .route("/user_management/magic_auth/{id}", get(get_magic_auth))
}

/// Body of `POST /user_management/magic_auth`.
#[derive(Debug, Deserialize)]
pub struct CreateMagicAuth {
    /// Where the code goes.
    pub email: String,
    /// An invitation the sign-in accepts.
    #[serde(default)]
    pub invitation_token: Option<String>,
}

/// `POST /user_management/magic_auth` → 201 MagicAuth (with `code`); creates the user of an
/// unknown email (unverified, `user.created`), records `magic_auth.created` and queues the email.
///
/// Errors: 422 `invalid_request_parameters` naming `email`; 400 `{error: invitation_invalid}`
/// for an unknown, used or expired invitation, or one for another email; 400 `{error:
/// authentication_method_not_allowed}` while the environment's `sign_in_methods.magic_auth` is
/// off (nothing is created or sent); 429 `daily_quota_exceeded`.
async fn create_magic_auth(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateMagicAuth>,
) -> ApiResult<(StatusCode, Json<MagicAuth>)> {
    let env = &ctx.environment_id;
    let email = crate::api::validate::email(&body.email)?;
    let token = body.invitation_token.as_deref();
    crate::limits::max_chars("invitation_token", token, crate::limits::TOKEN_MAX)?;
    {
        let mut conn = state.db.acquire().await?;
        require_enabled(
            &environment_settings::get(&mut conn, env, &state.settings)
                .await?
                .sign_in_methods,
        )?;
    }
    limit_sends(&state, env, &email).await?;
    let mut tx = state.db.begin().await?;
    let invitation_id = match &body.invitation_token {
        Some(token) => {
            let links = Links {
                vault: &state.vault,
                public_url: &state.settings.public_url,
            };
            let invitation = invitations::find_by_token(&mut tx, links, env, token)
                .await?
                .filter(|i| i.state == "pending" && i.email == email)
                .ok_or_else(|| {
                    ApiError::oauth(
                        "invitation_invalid",
                        "The invitation is invalid for this email.",
                    )
                })?;
            Some(invitation.id)
        }
        None => None,
    };
    create_user_if_new(&mut tx, env, &email).await?;
    let magic = send_magic_auth(&state, &mut tx, env, &email, invitation_id.as_deref()).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(magic)))
}

/// Magic Auth must be on in the environment's `sign_in_methods`: else 400 `{error:
/// authentication_method_not_allowed}` (the code the spec gives both `POST
/// /user_management/magic_auth` and the Magic Auth grant of `authenticate`).
pub(super) fn require_enabled(methods: &SignInMethods) -> ApiResult<()> {
    if methods.magic_auth {
        Ok(())
    } else {
        Err(ApiError::oauth(
            "authentication_method_not_allowed",
            "Magic Auth sign-in is disabled for this environment.",
        ))
    }
}

/// Creates the (unverified) user of an email that has none, so that the code names a user that
/// exists; with the id an earlier live code (e.g. one sent by the hosted page) reserved for it.
/// Concurrent sends for one new email create one user ([`users::lock_email`]).
async fn create_user_if_new(
    tx: &mut Tx,
    env: &EnvironmentId,
    email: &EmailAddress,
) -> ApiResult<()> {
    users::lock_email(tx, env, email).await?;
    if users::find_by_email(tx, env, email).await?.is_some() {
        return Ok(());
    }
    let id = magic_auths::reserved_user_id(tx, env, email)
        .await?
        .unwrap_or_else(UserId::new);
    let new = NewUser {
        email: email.clone(),
        email_verified: false,
        ..Default::default()
    };
    users::insert_with_id(tx, env, &id, new).await?;
    Ok(())
}

/// `GET /user_management/magic_auth/{id}`. Errors: 404.
async fn get_magic_auth(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<MagicAuthId>,
) -> ApiResult<Json<MagicAuth>> {
    let mut conn = state.db.acquire().await?;
    magic_auths::find(&mut conn, &state.vault, &ctx.environment_id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Magic Auth", id))
}
