//! Standalone multi-factor authentication: `POST /auth/factors/enroll`
//! (`AuthenticationFactorsController_create`), `GET` / `DELETE /auth/factors/{id}`,
//! `POST /auth/factors/{id}/challenge` and `POST /auth/challenges/{id}/verify`
//! (`AuthenticationChallengesController_verify`). Spec tags `multi-factor-auth`,
//! `multi-factor-auth.challenges`.
//!
//! Only TOTP (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step) is offered; enrollment returns the
//! secret, an `otpauth://` URI and a PNG QR code of it once. A verified code cannot be used again
//! (`valid: false`); five wrong codes end a challenge (400 `one_time_code_too_many_attempts`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::crypto::totp;
use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath};
use crate::ids::EnvironmentId;
use crate::ids::{AuthenticationChallengeId, AuthenticationFactorId, UserId};
use crate::state::AppState;
use crate::store::auth_factors::{self, Challenge, EnrolledFactor, Factor, NewFactor};
use crate::store::one_time_codes::CodeError;
use crate::store::users;

/// Issuer shown in authenticator apps when `totp_issuer` is not given.
pub const DEFAULT_ISSUER: &str = "Keystead";

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/factors/enroll", post(enroll_factor))
        .route("/auth/factors/{id}", get(get_factor).delete(delete_factor))
        .route("/auth/factors/{id}/challenge", post(challenge_factor))
        .route("/auth/challenges/{id}/verify", post(verify_challenge))
}

/// Body of `POST /auth/factors/enroll`.
#[derive(Debug, Deserialize)]
pub struct EnrollFactor {
    /// `totp` (the only type offered).
    #[serde(rename = "type")]
    pub kind: String,
    /// Issuer shown by authenticator apps.
    #[serde(default)]
    pub totp_issuer: Option<String>,
    /// Account name shown by authenticator apps.
    #[serde(default)]
    pub totp_user: Option<String>,
    /// Links the factor to a user.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Not supported (SMS).
    #[serde(default)]
    pub phone_number: Option<String>,
}

/// Body of `POST /auth/factors/{id}/challenge`.
#[derive(Debug, Default, Deserialize)]
pub struct ChallengeFactor {
    /// Not supported (SMS).
    #[serde(default)]
    pub sms_template: Option<String>,
}

/// Body of `POST /auth/challenges/{id}/verify`.
#[derive(Debug, Deserialize)]
pub struct VerifyChallenge {
    /// The six-digit TOTP code.
    pub code: String,
}

/// `AuthenticationChallengeVerifyResponse`.
#[derive(Debug, Serialize)]
pub struct VerifyResponse {
    /// The challenge.
    pub challenge: Challenge,
    /// Whether the code was accepted.
    pub valid: bool,
}

/// 422 `invalid_request_parameters` naming `field`.
pub fn unprocessable(field: &str, message: &str) -> ApiError {
    ApiError::invalid_field(field, "invalid", message)
}

/// What [`enroll`] needs: who the factor is for and how authenticator apps show it.
#[derive(Debug, Default)]
pub struct Enrollment<'a> {
    /// The user the factor belongs to, if any.
    pub user_id: Option<&'a UserId>,
    /// That user's email (the default account name).
    pub user_email: Option<&'a str>,
    /// `totp_issuer`.
    pub issuer: Option<String>,
    /// `totp_user`.
    pub account: Option<String>,
    /// `totp_secret` (Base32), to import a secret.
    pub secret: Option<String>,
}

/// Enrolls a TOTP factor: the given secret, else a fresh 160-bit one; `issuer` and `user`
/// default to [`DEFAULT_ISSUER`] and the user's email (or `user`).
///
/// Errors: 422 for a malformed secret or an issuer/user with `:`.
pub async fn enroll(
    state: &AppState,
    tx: &mut Tx,
    env: &EnvironmentId,
    e: Enrollment<'_>,
) -> ApiResult<EnrolledFactor> {
    let secret = match e.secret {
        Some(s) => totp::from_base32(&s).ok_or_else(|| {
            unprocessable(
                "totp_secret",
                "totp_secret must be Base32 of at least 128 bits.",
            )
        })?,
        None => totp::generate_secret(),
    };
    let name_max = crate::limits::NAME_MAX;
    crate::limits::max_chars("totp_issuer", e.issuer.as_deref(), name_max)?;
    crate::limits::max_chars("totp_user", e.account.as_deref(), name_max)?;
    let issuer = e.issuer.unwrap_or_else(|| DEFAULT_ISSUER.to_string());
    let account = e
        .account
        .unwrap_or_else(|| e.user_email.unwrap_or("user").to_string());
    if issuer.trim().is_empty() || issuer.contains(':') {
        return Err(unprocessable(
            "totp_issuer",
            "totp_issuer must be non-empty and not contain ':'.",
        ));
    }
    if account.trim().is_empty() || account.contains(':') {
        return Err(unprocessable(
            "totp_user",
            "totp_user must be non-empty and not contain ':'.",
        ));
    }
    auth_factors::insert(
        tx,
        &state.vault,
        env,
        NewFactor {
            user_id: e.user_id,
            issuer: &issuer,
            user: &account,
            secret,
        },
    )
    .await
}

/// `POST /auth/factors/enroll` → 201 AuthenticationFactorEnrolled. Errors: 422 for a type other
/// than `totp`, an unknown `user_id`, a bad issuer or user.
async fn enroll_factor(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<EnrollFactor>,
) -> ApiResult<(StatusCode, Json<EnrolledFactor>)> {
    if body.kind != "totp" {
        return Err(unprocessable(
            "type",
            "Only the totp factor type is supported.",
        ));
    }
    let env = &ctx.environment_id;
    let mut tx = state.db.begin().await?;
    let user = match &body.user_id {
        Some(id) => Some(
            match UserId::parse_lenient(id) {
                Some(id) => users::find(&mut tx, env, &id).await?,
                None => None,
            }
            .ok_or_else(|| unprocessable("user_id", "user_id does not name a user."))?,
        ),
        None => None,
    };
    let factor = enroll(
        &state,
        &mut tx,
        env,
        Enrollment {
            user_id: user.as_ref().map(|u| &u.id),
            user_email: user.as_ref().map(|u| u.email.as_str()),
            issuer: body.totp_issuer,
            account: body.totp_user,
            secret: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(factor)))
}

/// `GET /auth/factors/{id}` (no secret). Errors: 404.
async fn get_factor(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<AuthenticationFactorId>,
) -> ApiResult<Json<Factor>> {
    let mut conn = state.db.acquire().await?;
    auth_factors::find(&mut conn, &ctx.environment_id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Authentication Factor", id))
}

/// `DELETE /auth/factors/{id}` → 200 with no body. Errors: 404.
async fn delete_factor(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<AuthenticationFactorId>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    auth_factors::delete(&mut tx, &ctx.environment_id, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::OK)
}

/// `POST /auth/factors/{id}/challenge` → 201 AuthenticationChallenge (valid 10 minutes; TOTP
/// challenges carry no code). Errors: 404; 422 for `sms_template` (no SMS factors).
async fn challenge_factor(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<AuthenticationFactorId>,
    AppJson(body): AppJson<ChallengeFactor>,
) -> ApiResult<(StatusCode, Json<Challenge>)> {
    if body.sms_template.is_some() {
        return Err(unprocessable(
            "sms_template",
            "TOTP factors take no sms_template.",
        ));
    }
    let env = &ctx.environment_id;
    let mut tx = state.db.begin().await?;
    auth_factors::find(&mut tx, env, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Authentication Factor", &id))?;
    let challenge = auth_factors::insert_challenge(&mut tx, env, &id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(challenge)))
}

/// `POST /auth/challenges/{id}/verify` → 201 `{challenge, valid}`. A wrong, reused or late
/// code is `valid: false`. Errors: 404; 400 `one_time_code_too_many_attempts`.
async fn verify_challenge(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<AuthenticationChallengeId>,
    AppJson(body): AppJson<VerifyChallenge>,
) -> ApiResult<(StatusCode, Json<VerifyResponse>)> {
    crate::limits::max_chars("code", Some(&body.code), crate::limits::TOKEN_MAX)?;
    let mut tx = state.db.begin().await?;
    let v =
        auth_factors::verify(&mut tx, &state.vault, &ctx.environment_id, &id, &body.code).await?;
    tx.commit().await?;
    if v.result == Err(CodeError::TooManyAttempts) {
        return Err(ApiError::bad_request(
            CodeError::TooManyAttempts.grant_code(),
            CodeError::TooManyAttempts.message(),
        ));
    }
    Ok((
        StatusCode::CREATED,
        Json(VerifyResponse {
            challenge: v.challenge,
            valid: v.result.is_ok(),
        }),
    ))
}
