//! The SSO API (spec tag `sso`; WORKOS-API-NOTES §5):
//! - `GET /sso/jwks/{client_id}` (`SsoController_jsonWebKeySet`): public keys that verify
//!   access tokens (RFC 7517). Public.
//! - `GET /sso/authorize` (`SsoController_authorize`): public browser redirect to the IdP of
//!   the `connection`, `organization`, `provider` or (deprecated) `domain`.
//! - `POST /sso/token` (`SsoController_token`): one-time code → `{token_type, access_token,
//!   expires_in, profile[, oauth_tokens]}`; JSON, form and query inputs; client secret (an API
//!   key) and/or PKCE `code_verifier`.
//! - `GET /sso/profile` (`SsoController_getProfile`): the Profile behind an SSO access token.
//! - `POST /sso/logout/authorize` (API key) and `GET /sso/logout` (public): RP-initiated logout
//!   for GenericOIDC connections.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::auth::sso::{self as login, Selector, StartParams, select_connection};
use crate::crypto::ct_eq;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{from_value, has_nul};
use crate::http::{AppJson, Client, Env, OAuthJson, OAuthQuery, QueryMap};
use crate::ids::ProfileId;
use crate::limits::TOKEN_MAX;
use crate::protocols::with_query;
use crate::state::AppState;
use crate::store::connections::{self, Settings};
use crate::store::sso::{self, TokenKind};
use crate::store::{environment_keys, environment_settings, environments, redirect_uris};

/// SSO access-token lifetime (`expires_in`).
const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(600);

/// API-key routes of this area.
pub fn router() -> Router<AppState> {
    Router::new().route("/sso/logout/authorize", post(logout_authorize))
}

/// Public routes of this area.
pub fn public_router() -> Router<AppState> {
    Router::new()
        .route("/sso/jwks/{client_id}", get(get_jwks))
        .route("/sso/authorize", get(authorize))
        .route("/sso/token", post(token))
        .route("/sso/profile", get(get_profile))
        .route("/sso/logout", get(logout))
}

/// `{keys: [{alg, kty, use, x5c, n, e, kid, x5t#S256}]}`. Errors: 404 unknown client id.
async fn get_jwks(
    State(state): State<AppState>,
    // A client id is a key, not a typed id: the bootstrap one is configured
    // (`KEYSTEAD_BOOTSTRAP_CLIENT_ID`) and need not start with `client_`.
    Path(client_id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let found = if has_nul(&client_id) {
        None
    } else {
        environments::find_by_client_id(&mut *state.db.acquire().await?, &client_id).await?
    };
    let env = found.ok_or_else(|| ApiError::not_found("Client", &client_id))?;
    let keys = state.signing_keys(&env.id).await?;
    let body = json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
    Ok(([(header::CACHE_CONTROL, "public, max-age=300")], Json(body)))
}

/// `GET /sso/authorize` → 302 to the IdP (or to `redirect_uri` with `error`).
async fn authorize(
    State(state): State<AppState>,
    client: Client,
    OAuthQuery(q): OAuthQuery,
) -> ApiResult<Response> {
    let client_id = q.get("client_id").unwrap_or_default();
    let env = environments::find_by_client_id(&mut *state.db.acquire().await?, client_id)
        .await?
        .ok_or_else(|| ApiError::oauth("invalid_client", "Invalid client ID."))?;
    let redirect_uri = q.get("redirect_uri").unwrap_or_default();
    let mut conn = state.db.acquire().await?;
    let http_refused = redirect_uri
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("http:"))
        && !environment_settings::get(&mut conn, &env.id, &state.settings)
            .await?
            .allow_http_redirect_uris;
    if http_refused || !redirect_uris::is_allowed(&mut conn, &env.id, redirect_uri).await? {
        return Err(ApiError::oauth(
            "invalid_redirect_uri",
            "redirect_uri is not one of the environment's redirect URIs.",
        ));
    }
    drop(conn);
    let back = |code: &str, message: &str| {
        let to = with_query(
            redirect_uri,
            &[
                ("error", Some(code)),
                ("error_description", Some(message)),
                ("state", q.get("state")),
            ],
        );
        (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
    };
    if q.get("response_type") != Some("code") {
        return Ok(back(
            "unsupported_response_type",
            "response_type must be 'code'.",
        ));
    }
    let method = q.get("code_challenge_method");
    if q.get("code_challenge").is_some() && !matches!(method, None | Some("S256") | Some("plain")) {
        return Ok(back(
            "invalid_request",
            "code_challenge_method must be S256.",
        ));
    }
    let selector = Selector {
        connection: q.get("connection"),
        organization: q.get("organization"),
        provider: q.get("provider"),
        domain: q.get("domain"),
    };
    let c = match select_connection(&state, &env.id, selector).await? {
        Ok(c) => c,
        Err(f) => return Ok(back(f.code, &f.message)),
    };
    let params = StartParams {
        redirect_uri,
        client_state: q.get("state"),
        login_hint: q.get("login_hint"),
        code_challenge: q.get("code_challenge"),
        code_challenge_method: q.get("code_challenge").map(|_| method.unwrap_or("plain")),
        provider_scopes: q.list("provider_scopes"),
        user_management: false,
        ip_address: client.ip_address.as_deref(),
        user_agent: client.user_agent.as_deref(),
    };
    match login::start(&state, &env.id, &c, params).await {
        Ok(url) => Ok((
            StatusCode::FOUND,
            [
                (header::LOCATION, url.as_str()),
                (header::CACHE_CONTROL, "no-store"),
            ],
        )
            .into_response()),
        Err(ApiError::BadRequest { message, .. }) => Ok(back("connection_invalid", &message)),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Deserialize)]
struct TokenRequest {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    code: String,
    grant_type: String,
    #[serde(default)]
    code_verifier: Option<String>,
}

fn pkce_matches(challenge: &str, method: Option<&str>, verifier: &str) -> bool {
    let computed = match method {
        Some("S256") => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        _ => verifier.to_string(),
    };
    ct_eq(computed.as_bytes(), challenge.as_bytes())
}

/// `POST /sso/token`.
async fn token(
    State(state): State<AppState>,
    OAuthQuery(q): OAuthQuery,
    OAuthJson(body): OAuthJson<Value>,
) -> ApiResult<Json<Value>> {
    let mut merged = serde_json::Map::new();
    for key in [
        "client_id",
        "client_secret",
        "code",
        "grant_type",
        "code_verifier",
    ] {
        if let Some(v) = q.get(key) {
            merged.insert(key.into(), v.into());
        }
    }
    if let Value::Object(b) = body {
        merged.extend(b.into_iter().filter(|(_, v)| !v.is_null()));
    }
    let merged = Value::Object(merged);
    crate::limits::oauth_max_chars(
        &merged,
        &["client_id", "client_secret", "code", "code_verifier"].map(|f| (f, TOKEN_MAX)),
    )?;
    let req: TokenRequest = from_value(merged)?;
    let invalid_client = || ApiError::oauth("invalid_client", "Invalid client ID or secret.");
    let env = environments::find_by_client_id(&mut *state.db.acquire().await?, &req.client_id)
        .await?
        .ok_or_else(invalid_client)?;
    if req.grant_type != "authorization_code" {
        return Err(ApiError::oauth(
            "unsupported_grant_type",
            "The grant type is not supported.",
        ));
    }
    let secret = req.client_secret.as_deref().filter(|s| !s.is_empty());
    if let Some(secret) = secret {
        let caller = environment_keys::authenticate(&state.db, secret).await?;
        if caller.is_none_or(|c| c.environment_id != env.id) {
            return Err(invalid_client());
        }
    }
    let invalid_grant = || {
        ApiError::oauth(
            "invalid_grant",
            "The code has expired or has already been used.",
        )
    };
    let mut tx = state.db.begin().await?;
    let redeemed = sso::redeem_code(&mut tx, &env.id, &req.code).await?;
    tx.commit().await?;
    let redeemed = redeemed.ok_or_else(invalid_grant)?;
    match (&redeemed.code_challenge, req.code_verifier.as_deref()) {
        (Some(ch), Some(v)) if pkce_matches(ch, redeemed.code_challenge_method.as_deref(), v) => {}
        (Some(_), _) => {
            return Err(ApiError::oauth(
                "invalid_grant",
                "The code_verifier does not match the code_challenge.",
            ));
        }
        (None, _) if secret.is_none() => return Err(invalid_client()),
        (None, _) => {}
    }
    let mut conn = state.db.acquire().await?;
    let profile = sso::find_profile(&mut conn, &env.id, &redeemed.profile_id)
        .await?
        .ok_or_else(invalid_grant)?;
    drop(conn);
    let mut tx = state.db.begin().await?;
    let access = sso::issue_token(
        &mut tx,
        &env.id,
        TokenKind::Access,
        &profile.id,
        ACCESS_TOKEN_TTL,
        None,
        None,
        None,
    )
    .await?;
    tx.commit().await?;
    let mut out = json!({
        "token_type": "Bearer",
        "access_token": access,
        "expires_in": ACCESS_TOKEN_TTL.as_secs(),
        "profile": profile,
    });
    if let Some(t) = redeemed.oauth_tokens {
        out["oauth_tokens"] = t;
    }
    Ok(Json(out))
}

fn unauthorized() -> ApiError {
    ApiError::OAuth {
        status: StatusCode::UNAUTHORIZED,
        error: "Unauthorized",
        description: "The SSO access token is missing, invalid or expired.".into(),
    }
}

/// `GET /sso/profile` with `Authorization: Bearer <SSO access token>`.
async fn get_profile(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(unauthorized)?;
    let mut conn = state.db.acquire().await?;
    let found = sso::find_token(&mut conn, TokenKind::Access, token.trim())
        .await?
        .ok_or_else(unauthorized)?;
    let profile = sso::find_profile(&mut conn, &found.environment_id, &found.profile_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Profile", found.profile_id.as_str()))?;
    Ok(Json(json!(profile)))
}

#[derive(Debug, Deserialize)]
struct LogoutAuthorize {
    profile_id: String,
}

/// `POST /sso/logout/authorize` → `{logout_url, logout_token}` (GenericOIDC only).
async fn logout_authorize(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<LogoutAuthorize>,
) -> ApiResult<Json<Value>> {
    let env = &ctx.environment_id;
    let mut conn = state.db.acquire().await?;
    let profile = match ProfileId::parse_lenient(&body.profile_id) {
        Some(id) => sso::find_profile(&mut conn, env, &id).await?,
        None => None,
    }
    .ok_or_else(|| ApiError::not_found("Profile", &body.profile_id))?;
    if profile.connection_type != "GenericOIDC" {
        return Err(ApiError::oauth(
            "connection_invalid",
            "Single Logout is only supported for GenericOIDC connections.",
        ));
    }
    drop(conn);
    let mut tx = state.db.begin().await?;
    let token = sso::issue_token(
        &mut tx,
        env,
        TokenKind::Logout,
        &profile.id,
        login::CODE_TTL,
        None,
        None,
        None,
    )
    .await?;
    tx.commit().await?;
    let url = with_query(
        &format!("{}/sso/logout", state.settings.public_url),
        &[("token", Some(&token))],
    );
    Ok(Json(json!({ "logout_url": url, "logout_token": token })))
}

/// `GET /sso/logout?token=…` → 302 to the OIDC provider's `end_session_endpoint`, or 200.
async fn logout(State(state): State<AppState>, q: QueryMap) -> ApiResult<Response> {
    let token = q.get("token").unwrap_or_default();
    let mut conn = state.db.acquire().await?;
    let found = sso::find_token(&mut conn, TokenKind::Logout, token)
        .await?
        .ok_or_else(|| ApiError::not_found("Logout token", "token"))?;
    let env = found.environment_id.clone();
    let profile = sso::find_profile(&mut conn, &env, &found.profile_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Profile", found.profile_id.as_str()))?;
    let c = connections::find(&mut conn, &env, &profile.connection_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Connection", &profile.connection_id))?;
    drop(conn);
    let end_session = match &c.settings {
        Settings::Oidc(s) => match &s.discovery_endpoint {
            Some(d) => state
                .sso
                .outbound()?
                .get(d)
                .await
                .ok()
                .and_then(|f| serde_json::from_slice::<Value>(&f.body).ok())
                .and_then(|v| v.get("end_session_endpoint")?.as_str().map(String::from)),
            None => None,
        },
        _ => None,
    };
    Ok(match end_session {
        Some(url) => {
            let client_id = match &c.settings {
                Settings::Oidc(s) => Some(s.client_id.as_str()),
                _ => None,
            };
            let to = with_query(&url, &[("client_id", client_id)]);
            (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
        }
        None => (StatusCode::OK, "Signed out.").into_response(),
    })
}
