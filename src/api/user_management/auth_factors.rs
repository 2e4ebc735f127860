//! A user's authentication factors: `POST /user_management/users/{id}/auth_factors`
//! (`UserlandUserAuthenticationFactorsController_create`) and `GET` (`…_list`). Spec tag
//! `user-management.multi-factor-authentication` (the spec names the path parameter
//! `userlandUserId`). A user with a factor must pass an MFA challenge to sign in.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::api::mfa::{Enrollment, enroll, unprocessable};
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath, List, ListParams, Order, QueryMap};
use crate::ids::UserId;
use crate::state::AppState;
use crate::store::auth_factors::{self, Challenge, EnrolledFactor, Factor};
use crate::store::users;

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/user_management/users/{id}/auth_factors",
        get(list_factors).post(create_factor),
    )
}

/// Body of `POST /user_management/users/{id}/auth_factors`.
#[derive(Debug, Deserialize)]
pub struct CreateUserFactor {
    /// `totp`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Issuer shown by authenticator apps.
    #[serde(default)]
    pub totp_issuer: Option<String>,
    /// Account name shown by authenticator apps (default: the user's email).
    #[serde(default)]
    pub totp_user: Option<String>,
    /// A Base32 secret to import (e.g. from another system).
    #[serde(default)]
    pub totp_secret: Option<String>,
}

/// `UserlandUserAuthenticationFactorEnrollResponse`.
#[derive(Debug, Serialize)]
pub struct EnrollResponse {
    /// The factor, with its secret shown this once.
    pub authentication_factor: EnrolledFactor,
    /// A challenge to verify the first code with.
    pub authentication_challenge: Challenge,
}

/// `POST …/auth_factors` → 201 the factor and a first challenge. Errors: 404 unknown user; 422
/// for a type other than `totp` or a malformed secret.
async fn create_factor(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<UserId>,
    AppJson(body): AppJson<CreateUserFactor>,
) -> ApiResult<(StatusCode, Json<EnrollResponse>)> {
    if body.kind != "totp" {
        return Err(unprocessable(
            "type",
            "Only the totp factor type is supported.",
        ));
    }
    let env = &ctx.environment_id;
    let mut tx = state.db.begin().await?;
    let user = users::find(&mut tx, env, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("User", &id))?;
    let factor = enroll(
        &state,
        &mut tx,
        env,
        Enrollment {
            user_id: Some(&user.id),
            user_email: Some(&user.email),
            issuer: body.totp_issuer,
            account: body.totp_user,
            secret: body.totp_secret,
        },
    )
    .await?;
    let challenge = auth_factors::insert_challenge(&mut tx, env, &factor.id).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrollResponse {
            authentication_factor: factor,
            authentication_challenge: challenge,
        }),
    ))
}

/// `GET …/auth_factors` — the user's factors, newest first. Errors: 404 unknown user.
async fn list_factors(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<UserId>,
    q: QueryMap,
) -> ApiResult<Json<List<Factor>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let mut conn = state.db.acquire().await?;
    users::find(&mut conn, &ctx.environment_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("User", &id))?;
    let rows = auth_factors::list_for_user(&mut conn, &ctx.environment_id, &id, &params).await?;
    Ok(Json(params.page(rows, |f| &f.id)))
}
