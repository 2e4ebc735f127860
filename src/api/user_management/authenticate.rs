//! `POST /user_management/authenticate` (operation `UserlandSessionsController_authenticate`):
//! authenticates the client, then dispatches on `grant_type` — `password`, `refresh_token` and
//! `authorization_code` here; Magic Auth, email verification, MFA TOTP, organization selection
//! and device code in [`super::grants`]. Each grant parses its fields, calls the sign-in domain
//! ([`crate::auth`]) and renders its answer. The client authenticates with `client_id` and
//! `client_secret` (an API key of that environment) in the body, as the SDKs send them (the
//! device code grant takes no secret, RFC 8628; an `authorization_code` exchange with a PKCE
//! `code_verifier` may omit it; the sessions both start may then `refresh_token` with the same
//! `client_id` and no secret, as AuthKit in the browser does); JSON and form bodies are accepted (WORKOS-API-NOTES §4, §8
//! item 2). A correct password continues through [`crate::auth::sign_in::complete`] (email
//! verification, MFA, organization selection).
//!
//! Password sign-ins are limited per email (failures count) and per end-user `ip_address`
//! (`KEYSTEAD_RATE_LIMITS` classes `authenticate_email`, `authenticate_ip`).
//!
//! AuthKit's production mode ([`crate::http::session_cookie`]): a public client calling from a
//! registered CORS origin that is not `localhost`/`127.0.0.1` gets no `refresh_token` in the
//! JSON; the token is set in an HttpOnly cookie with `workos-has-session`, read from that cookie
//! when a refresh carries none in the body, rotated, and cleared when the refresh fails.
//!
//! Errors: 400 `{error: invalid_client}` for a wrong client, 400 `{error:
//! unsupported_grant_type}`, 400 `{code: invalid_credentials}` for a wrong email or password
//! (same path and cost for both), 403 `email_password_auth_disabled` / 400 `{error:
//! authentication_method_not_allowed}` when the environment's `sign_in_methods` disable
//! password / Magic Auth, 400 `{error: invalid_grant}` for a bad refresh token or
//! authorization code ([`crate::auth::session`]), 422 for missing fields, 400 `{error:
//! invalid_request}` for a field over its length ([`crate::limits::oauth_max_chars`]).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::grants;
use crate::auth::password::{self, PasswordSignIn};
use crate::auth::session::{self, Started};
use crate::auth::tokens::{self, Refreshed};
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::http::OAuthJson;
use crate::http::extract::from_value;
use crate::http::session_cookie;
use crate::ids::EnvironmentId;
use crate::limits::{SIGN_IN_PASSWORD_MAX, TOKEN_MAX, oauth_max_chars};
use crate::state::AppState;
use crate::store::sessions::Presenter;
use crate::store::{environment_keys, environment_settings, environments};

pub use crate::auth::tokens::AuthenticateResponse;

/// Public route (the client credentials are in the body).
pub fn public_router() -> Router<AppState> {
    Router::new().route(
        "/user_management/authenticate",
        post(authenticate).options(crate::http::cors::preflight),
    )
}

/// Fields every grant carries.
#[derive(Debug, Deserialize)]
struct ClientCredentials {
    grant_type: String,
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
}

/// `grant_type=password`.
#[derive(Debug, Deserialize)]
struct PasswordGrant {
    email: String,
    password: String,
    #[serde(default)]
    ip_address: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
    #[serde(default)]
    invitation_token: Option<String>,
    #[serde(default)]
    radar_auth_attempt_id: Option<String>,
    #[serde(default)]
    signals_id: Option<String>,
}

/// `grant_type=refresh_token`.
#[derive(Debug, Deserialize)]
struct RefreshGrant {
    refresh_token: String,
    #[serde(default)]
    organization_id: Option<String>,
}

/// `grant_type=authorization_code`.
#[derive(Debug, Deserialize)]
struct AuthorizationCodeGrant {
    code: String,
    #[serde(default)]
    code_verifier: Option<String>,
}

/// Longest string of each field any grant reads (the password bounds the hashing work).
const FIELD_LIMITS: [(&str, usize); 16] = [
    ("password", SIGN_IN_PASSWORD_MAX),
    ("email", TOKEN_MAX),
    ("client_id", TOKEN_MAX),
    ("client_secret", TOKEN_MAX),
    ("code", TOKEN_MAX),
    ("code_verifier", TOKEN_MAX),
    ("refresh_token", TOKEN_MAX),
    ("device_code", TOKEN_MAX),
    ("pending_authentication_token", TOKEN_MAX),
    ("invitation_token", TOKEN_MAX),
    ("authentication_challenge_id", TOKEN_MAX),
    ("organization_id", TOKEN_MAX),
    ("ip_address", TOKEN_MAX),
    ("user_agent", TOKEN_MAX),
    ("radar_auth_attempt_id", TOKEN_MAX),
    ("signals_id", TOKEN_MAX),
];

async fn authenticate(
    State(state): State<AppState>,
    headers: HeaderMap,
    OAuthJson(mut body): OAuthJson<Value>,
) -> ApiResult<Response> {
    oauth_max_chars(&body, &FIELD_LIMITS)?;
    let creds: ClientCredentials = from_value(body.clone())?;
    let env = environments::find_by_client_id(&mut *state.db.acquire().await?, &creds.client_id)
        .await?
        .ok_or_else(|| ApiError::oauth("invalid_client", "Invalid client ID."))?;
    if creds.grant_type == grants::DEVICE_CODE {
        let issuer = format!(
            "{}/user_management/{}",
            state.settings.public_url, env.client_id
        );
        return grants::device_code(&state, &env.id, (issuer, &creds.client_id), body)
            .await
            .map(|r| Json(r).into_response());
    }
    // A public client (no secret) may only exchange an authorization code with a PKCE verifier,
    // and refresh the sessions such exchanges started (checked against the token's session).
    let public_pkce = creds.grant_type == "authorization_code"
        && creds.client_secret.is_none()
        && body.get("code_verifier").is_some_and(Value::is_string);
    let public_refresh = creds.grant_type == "refresh_token" && creds.client_secret.is_none();
    let public_client = (public_pkce || public_refresh).then_some(creds.client_id.as_str());
    if public_client.is_none() {
        let secret = creds.client_secret.as_deref().unwrap_or_default();
        let caller = environment_keys::authenticate(&state.db, secret).await?;
        if caller.is_none_or(|c| c.environment_id != env.id) {
            return Err(ApiError::oauth("invalid_client", "Invalid client secret."));
        }
    }
    let cookie_mode =
        public_client.is_some() && session_cookie::cookie_mode(&state, &headers, &env.id).await?;
    let issuer = format!(
        "{}/user_management/{}",
        state.settings.public_url, env.client_id
    );
    if matches!(creds.grant_type.as_str(), "password" | grants::MAGIC_AUTH) {
        method_enabled(&state, &env.id, &creds.grant_type).await?;
    }
    let answer = match creds.grant_type.as_str() {
        "password" => password_grant(&state, &env.id, issuer, from_value(body)?).await,
        "refresh_token" => {
            // In cookie mode a body without a refresh token takes the one in the cookie.
            let from_cookie = (cookie_mode && body.get("refresh_token").is_none_or(Value::is_null))
                .then(|| {
                    let name = session_cookie::refresh_cookie_name(&env.client_id);
                    session_cookie::read(&headers, &name)
                });
            match from_cookie {
                Some(None) => Err(ApiError::oauth("invalid_grant", "Missing refresh token.")),
                found => {
                    if let Some(Some(token)) = found {
                        body["refresh_token"] = Value::String(token);
                    }
                    let grant = from_value(body)?;
                    refresh_grant(&state, &env.id, issuer, grant, public_client).await
                }
            }
        }
        "authorization_code" => {
            let grant = from_value(body)?;
            authorization_code_grant(&state, &env.id, issuer, grant, public_client).await
        }
        other => grants::dispatch(&state, &env.id, issuer, other, body).await,
    };
    if !cookie_mode {
        return answer.map(|r| Json(r).into_response());
    }
    let refresh = creds.grant_type == "refresh_token";
    let client = (
        env.client_id.as_str(),
        session_cookie::lifetime(&state, &env.id).await?,
    );
    cookie_answer(&state, &headers, client, refresh, answer)
}

/// The answer in cookie mode: the refresh token moves from the JSON into the cookie; a refused
/// refresh (400) clears the cookies it came with.
fn cookie_answer(
    state: &AppState,
    headers: &HeaderMap,
    client: (&str, std::time::Duration),
    refresh: bool,
    answer: ApiResult<AuthenticateResponse>,
) -> ApiResult<Response> {
    let settings = &state.settings;
    match answer {
        Ok(mut answer) => {
            let token = std::mem::take(&mut answer.refresh_token);
            let mut json = serde_json::to_value(&answer).map_err(anyhow::Error::from)?;
            if let Some(fields) = json.as_object_mut() {
                fields.remove("refresh_token");
            }
            let mut res = Json(json).into_response();
            session_cookie::set(settings, headers, res.headers_mut(), client, &token);
            Ok(res)
        }
        Err(error) => {
            let mut res = error.into_response();
            if refresh && res.status() == StatusCode::BAD_REQUEST {
                session_cookie::clear(settings, headers, res.headers_mut(), client);
            }
            Ok(res)
        }
    }
}

/// The environment's `sign_in_methods` must allow the first-factor grant: 403
/// `email_password_auth_disabled` for a disabled password, 400 `authentication_method_not_allowed`
/// for disabled Magic Auth (codes of the spec's `authenticate` operation).
async fn method_enabled(state: &AppState, env: &EnvironmentId, grant_type: &str) -> ApiResult<()> {
    let mut conn = state.db.acquire().await?;
    let methods = environment_settings::get(&mut conn, env, &state.settings)
        .await?
        .sign_in_methods;
    if grant_type == "password" && !methods.password {
        return Err(ApiError::Forbidden {
            code: "email_password_auth_disabled",
            message: "Email and password sign-in is disabled for this environment.".into(),
            extra: serde_json::Map::new(),
        });
    }
    if grant_type == grants::MAGIC_AUTH {
        super::magic_auth::require_enabled(&methods)?;
    }
    Ok(())
}

async fn password_grant(
    state: &AppState,
    env: &EnvironmentId,
    issuer: String,
    grant: PasswordGrant,
) -> ApiResult<AuthenticateResponse> {
    let sign_in = PasswordSignIn {
        email: EmailAddress::new(&grant.email),
        password: grant.password,
        ip_address: grant.ip_address,
        user_agent: grant.user_agent,
        invitation_token: grant.invitation_token,
        radar_auth_attempt_id: grant.radar_auth_attempt_id,
        signals_id: grant.signals_id,
    };
    let step = password::sign_in(state, env, sign_in).await?;
    tokens::answer(state, env, issuer, step).await
}

/// Rotates the refresh token; `public_client` is the client id of a caller without a secret.
async fn refresh_grant(
    state: &AppState,
    env: &EnvironmentId,
    issuer: String,
    grant: RefreshGrant,
    public_client: Option<&str>,
) -> ApiResult<AuthenticateResponse> {
    let org = grant.organization_id.as_deref();
    let presenter = public_client.map_or(Presenter::Confidential, Presenter::Public);
    let Refreshed {
        user,
        session,
        refresh_token,
    } = tokens::refresh(state, env, &grant.refresh_token, org, presenter).await?;
    tokens::issue(state, env, issuer, user, &session, refresh_token).await
}

/// Redeems the code ([`session::redeem_authorization_code`]) and answers with the tokens;
/// `public_client` is the client id of a caller without a secret (it sent a `code_verifier`).
async fn authorization_code_grant(
    state: &AppState,
    env: &EnvironmentId,
    issuer: String,
    grant: AuthorizationCodeGrant,
    public_client: Option<&str>,
) -> ApiResult<AuthenticateResponse> {
    let verifier = grant.code_verifier.as_deref();
    let Started {
        user,
        session,
        refresh_token,
    } = session::redeem_authorization_code(state, env, &grant.code, verifier, public_client)
        .await?;
    tokens::issue(state, env, issuer, user, &session, refresh_token).await
}
