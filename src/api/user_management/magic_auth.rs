//! `POST /user_management/magic_auth` (operation
//! `UserlandMagicAuthController_sendMagicAuthCodeAndReturn`) and `GET
//! /user_management/magic_auth/{id}` (`UserlandMagicAuthController_get`). Spec tag
//! `user-management.magic-auth`.
//!
//! The code is emailed (when email delivery is configured) and, as the spec says, returned. For
//! an email without a user the code names the id the user will get: the
//! `urn:workos:oauth:grant-type:magic-auth:code` grant creates that user. Sends are limited per
//! email (`sends` class).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::auth::codes::send_magic_auth;
use crate::auth::sign_in::limit_sends;
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath};
use crate::ids::MagicAuthId;
use crate::state::AppState;
use crate::store::invitations::{self, Links};
use crate::store::magic_auths::{self, MagicAuth};

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

/// `POST /user_management/magic_auth` → 201 MagicAuth (with `code`); records
/// `magic_auth.created` and queues the email.
///
/// Errors: 400 `invalid_email`; 400 `{error: invitation_invalid}` for an unknown, used or
/// expired invitation, or one for another email; 429 `rate_limit_exceeded`.
async fn create_magic_auth(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateMagicAuth>,
) -> ApiResult<(StatusCode, Json<MagicAuth>)> {
    let env = &ctx.environment_id;
    let email = EmailAddress::parse(&body.email)?;
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
    let magic = send_magic_auth(&state, &mut tx, env, &email, invitation_id.as_deref()).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(magic)))
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
