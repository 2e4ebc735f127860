//! The grants of `POST /user_management/authenticate` beyond `password`, `refresh_token` and
//! `authorization_code` (WORKOS-API-NOTES §4.1): `urn:workos:oauth:grant-type:magic-auth:code`
//! (signs the user up on first use), the continuations of a pending sign-in
//! (`…:email-verification:code`, `…:mfa-totp`, `…:organization-selection`, each spending its
//! `pending_authentication_token`) and `urn:ietf:params:oauth:grant-type:device_code`
//! (RFC 8628 §3.4–3.5 polling). Each parses its fields, calls the sign-in domain
//! ([`crate::auth::codes`], [`crate::auth::continuation`], [`crate::auth::session`]) and renders
//! the tokens ([`crate::auth::tokens`]).
//!
//! Errors: 400 `{code}` `invalid_one_time_code`, `one_time_code_expired`,
//! `one_time_code_previously_used`, `one_time_code_too_many_attempts`,
//! `invalid_pending_authentication_token`; 400 `{error}` `organization_membership_not_found`,
//! `authorization_pending`, `slow_down`, `expired_token`, `access_denied`, `invalid_grant`,
//! `unsupported_grant_type`. Each failure of a method writes its `authentication.*_failed`.

use serde::Deserialize;
use serde_json::Value;

use crate::auth::codes::{self, MagicAuthSignIn, code_error};
use crate::auth::continuation::{self, Continuation};
use crate::auth::session::{self, Started};
use crate::auth::tokens;
use crate::auth::tokens::AuthenticateResponse;
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::from_value;
use crate::ids::EnvironmentId;
use crate::state::AppState;
use crate::store::one_time_codes::CodeError;

/// `grant_type` of Magic Auth codes.
pub const MAGIC_AUTH: &str = "urn:workos:oauth:grant-type:magic-auth:code";
/// `grant_type` completing `email_verification_required`.
pub const EMAIL_VERIFICATION: &str = "urn:workos:oauth:grant-type:email-verification:code";
/// The newer SDKs' grant for a Radar email challenge (`radar_challenge_id` is the emailed
/// verification's id); the same continuation as [`EMAIL_VERIFICATION`].
pub const RADAR_EMAIL_CHALLENGE: &str = "urn:workos:oauth:grant-type:radar-email-challenge:code";
/// `grant_type` completing `mfa_challenge`.
pub const MFA_TOTP: &str = "urn:workos:oauth:grant-type:mfa-totp";
/// `grant_type` completing `organization_selection_required`.
pub const ORGANIZATION_SELECTION: &str = "urn:workos:oauth:grant-type:organization-selection";
/// `grant_type` of the device flow (RFC 8628 §3.4).
pub const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The continuation fields of a grant.
macro_rules! continuation {
    ($g:expr) => {
        Continuation {
            pending_authentication_token: $g.pending_authentication_token,
            ip_address: $g.ip_address,
            user_agent: $g.user_agent,
        }
    };
}

/// Runs the grant named `grant_type` (client already authenticated).
pub async fn dispatch(
    state: &AppState,
    env: &EnvironmentId,
    issuer: String,
    grant_type: &str,
    body: Value,
) -> ApiResult<AuthenticateResponse> {
    let step = match grant_type {
        MAGIC_AUTH => magic_auth(state, env, from_value(body)?).await?,
        EMAIL_VERIFICATION | RADAR_EMAIL_CHALLENGE => {
            let g: EmailVerificationGrant = from_value(body)?;
            let code = g.code.clone();
            continuation::verify_email(state, env, continuation!(g), &code).await?
        }
        MFA_TOTP => {
            let g: MfaTotpGrant = from_value(body)?;
            let (challenge, code) = (g.authentication_challenge_id.clone(), g.code.clone());
            continuation::verify_totp(state, env, continuation!(g), &challenge, &code).await?
        }
        ORGANIZATION_SELECTION => {
            let g: OrganizationSelectionGrant = from_value(body)?;
            let org = g.organization_id.clone();
            continuation::select_organization(state, env, continuation!(g), org).await?
        }
        other => {
            return Err(ApiError::oauth(
                "unsupported_grant_type",
                format!("Unsupported grant_type '{other}'."),
            ));
        }
    };
    tokens::answer(state, env, issuer, step).await
}

#[derive(Debug, Deserialize)]
struct MagicAuthGrant {
    code: String,
    email: String,
    #[serde(default)]
    invitation_token: Option<String>,
    #[serde(default)]
    ip_address: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
    #[serde(default)]
    radar_auth_attempt_id: Option<String>,
    #[serde(default)]
    signals_id: Option<String>,
}

/// Magic Auth: the email must be well-formed, then [`codes::magic_auth_sign_in`].
async fn magic_auth(
    state: &AppState,
    env: &EnvironmentId,
    grant: MagicAuthGrant,
) -> ApiResult<crate::auth::sign_in::Step> {
    let email = EmailAddress::parse(&grant.email).map_err(|_| code_error(CodeError::Incorrect))?;
    let sign_in = MagicAuthSignIn {
        email,
        code: grant.code,
        invitation_token: grant.invitation_token,
        ip_address: grant.ip_address,
        user_agent: grant.user_agent,
        radar_auth_attempt_id: grant.radar_auth_attempt_id,
        signals_id: grant.signals_id,
    };
    codes::magic_auth_sign_in(state, env, sign_in).await
}

#[derive(Debug, Deserialize)]
struct EmailVerificationGrant {
    code: String,
    pending_authentication_token: String,
    #[serde(default)]
    ip_address: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MfaTotpGrant {
    code: String,
    pending_authentication_token: String,
    authentication_challenge_id: String,
    #[serde(default)]
    ip_address: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
}

#[derive(Debug, Deserialize)]
struct OrganizationSelectionGrant {
    pending_authentication_token: String,
    organization_id: String,
    #[serde(default)]
    ip_address: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DeviceCodeGrant {
    device_code: String,
    #[serde(default)]
    ip_address: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
}

/// The device code grant (RFC 8628 §3.4, no client secret): [`session::redeem_device_code`],
/// then the tokens; the session refreshes with `client_id` alone (a public client).
pub async fn device_code(
    state: &AppState,
    env: &EnvironmentId,
    (issuer, client_id): (String, &str),
    body: Value,
) -> ApiResult<AuthenticateResponse> {
    let grant: DeviceCodeGrant = from_value(body)?;
    let client = (grant.ip_address.as_deref(), grant.user_agent.as_deref());
    let Started {
        user,
        session,
        refresh_token,
    } = session::redeem_device_code(state, env, (client_id, &grant.device_code), client).await?;
    tokens::issue(state, env, issuer, user, &session, refresh_token).await
}
