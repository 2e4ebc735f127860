//! OpenID Connect relying party (OIDC Core §3.1: authorization code flow; RFC 7636 PKCE;
//! OIDC Discovery §4) for `GenericOIDC` (and `OktaOIDC`, `EntraIdOIDC`, `GoogleOIDC`) through
//! the `openidconnect` crate, and the OAuth 2.0 providers (`GoogleOAuth`, `MicrosoftOAuth`,
//! `GitHubOAuth`, `AppleOAuth`: RFC 6749 §4.1 + PKCE, then the provider's user-info endpoint),
//! with every endpoint overridable per connection.
//!
//! Route: `GET /sso/oidc/callback/{connection_id}` (`code`, `state`, or `error`), the redirect
//! URI registered at the provider. Discovery documents with their JWKS are cached per
//! connection for ten minutes and refetched once when an ID token names an unknown key
//! (rotation). All outbound HTTP goes through [`super::outbound`].

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use serde_json::{Map, Value, json};

use super::login::{self, Client, Completion, Failure};
use super::outbound::{Outbound, OutboundError};
use crate::error::{ApiError, ApiResult};
use crate::http::QueryMap;
use crate::ids::EnvironmentId;
use crate::state::AppState;
use crate::store::connections::{self, ConnectionConfig, OAuthSettings, Settings};
use crate::store::sso::{self, NewProfile};

const CACHE_TTL: Duration = Duration::from_secs(600);

/// Discovery documents (with their JWKS) per connection id.
#[derive(Default)]
pub struct ProviderCache {
    inner: RwLock<HashMap<String, (Instant, CoreProviderMetadata)>>,
}

/// Public OIDC/OAuth routes.
pub fn public_router() -> Router<AppState> {
    Router::new().route("/sso/oidc/callback/{connection_id}", get(callback))
}

async fn send(
    outbound: Outbound,
    req: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, OutboundError> {
    let fetched = outbound.execute(req).await?;
    let mut resp = axum::http::Response::new(fetched.body);
    *resp.status_mut() = fetched.status;
    *resp.headers_mut() = fetched.headers;
    Ok(resp)
}

fn config_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_connection", format!("OIDC configuration: {e}"))
}

/// The issuer URL of a discovery endpoint (`…/.well-known/openid-configuration` removed).
pub fn issuer_of(discovery: &str) -> String {
    discovery
        .trim_end_matches('/')
        .trim_end_matches("/.well-known/openid-configuration")
        .to_string()
}

async fn provider(
    state: &AppState,
    c: &ConnectionConfig,
    s: &OAuthSettings,
    refresh: bool,
) -> ApiResult<CoreProviderMetadata> {
    let key = c.connection.id.clone();
    if !refresh
        && let Some((at, m)) = state
            .sso
            .oidc_cache
            .inner
            .read()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        && at.elapsed() < CACHE_TTL
    {
        return Ok(m);
    }
    let discovery = s
        .discovery_endpoint
        .as_deref()
        .ok_or_else(|| config_error("no discovery_endpoint"))?;
    let issuer = IssuerUrl::new(issuer_of(discovery)).map_err(config_error)?;
    let outbound = state.sso.outbound()?.clone();
    let http = move |req| send(outbound.clone(), req);
    let meta = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .map_err(|e| {
            ApiError::bad_request("invalid_connection", format!("OIDC discovery failed: {e}"))
        })?;
    if let Ok(mut m) = state.sso.oidc_cache.inner.write() {
        m.insert(key, (Instant::now(), meta.clone()));
    }
    Ok(meta)
}

/// Provider endpoints for the OAuth connection types, each overridable per connection.
fn oauth_endpoints(c: &ConnectionConfig, s: &OAuthSettings) -> (String, String, String) {
    let defaults = match c.connection.connection_type.as_str() {
        "GoogleOAuth" => (
            "https://accounts.google.com/o/oauth2/v2/auth",
            "https://oauth2.googleapis.com/token",
            "https://openidconnect.googleapis.com/v1/userinfo",
        ),
        "MicrosoftOAuth" => (
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            "https://login.microsoftonline.com/common/oauth2/v2.0/token",
            "https://graph.microsoft.com/oidc/userinfo",
        ),
        "GitHubOAuth" => (
            "https://github.com/login/oauth/authorize",
            "https://github.com/login/oauth/access_token",
            "https://api.github.com/user",
        ),
        _ => (
            "https://appleid.apple.com/auth/authorize",
            "https://appleid.apple.com/auth/token",
            "",
        ),
    };
    (
        s.authorization_endpoint
            .clone()
            .unwrap_or_else(|| defaults.0.into()),
        s.token_endpoint
            .clone()
            .unwrap_or_else(|| defaults.1.into()),
        s.userinfo_endpoint
            .clone()
            .unwrap_or_else(|| defaults.2.into()),
    )
}

fn default_scopes(c: &ConnectionConfig) -> Vec<String> {
    let s: &[&str] = match c.connection.connection_type.as_str() {
        "GitHubOAuth" => &["read:user", "user:email"],
        "AppleOAuth" => &["name", "email"],
        _ => &["openid", "profile", "email"],
    };
    s.iter().map(|x| x.to_string()).collect()
}

/// Inputs of [`authorization_url`].
#[derive(Debug)]
pub struct AuthorizeInput<'a> {
    /// Our `state` (the pending request id).
    pub state: &'a str,
    /// ID-token nonce.
    pub nonce: &'a str,
    /// Our callback URL.
    pub redirect_uri: &'a str,
    /// Forwarded as `login_hint`.
    pub login_hint: Option<&'a str>,
    /// Extra scopes from `provider_scopes`.
    pub extra_scopes: &'a [String],
}

/// The provider's authorization URL and the PKCE verifier to keep.
pub async fn authorization_url(
    state: &AppState,
    _env: &EnvironmentId,
    c: &ConnectionConfig,
    input: &AuthorizeInput<'_>,
) -> ApiResult<(String, String)> {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut scopes = default_scopes(c);
    let configured = match &c.settings {
        Settings::Oidc(s) | Settings::Oauth(s) => s.scopes.clone(),
        Settings::Saml(_) => Vec::new(),
    };
    for s in configured
        .into_iter()
        .chain(input.extra_scopes.iter().cloned())
    {
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    let url = match &c.settings {
        Settings::Oidc(s) => {
            let meta = provider(state, c, s, false).await?;
            let client =
                CoreClient::from_provider_metadata(meta, ClientId::new(s.client_id.clone()), None)
                    .set_redirect_uri(
                        RedirectUrl::new(input.redirect_uri.into()).map_err(config_error)?,
                    );
            let (st, n) = (input.state.to_string(), input.nonce.to_string());
            let mut req = client
                .authorize_url(
                    CoreAuthenticationFlow::AuthorizationCode,
                    move || CsrfToken::new(st.clone()),
                    move || Nonce::new(n.clone()),
                )
                .set_pkce_challenge(challenge);
            for s in scopes.iter().filter(|s| *s != "openid") {
                req = req.add_scope(Scope::new(s.clone()));
            }
            if let Some(h) = input.login_hint {
                req = req.add_extra_param("login_hint", h);
            }
            req.url().0.to_string()
        }
        Settings::Oauth(s) => {
            let (auth, _, _) = oauth_endpoints(c, s);
            login::with_query(
                &auth,
                &[
                    ("response_type", Some("code")),
                    ("client_id", Some(&s.client_id)),
                    ("redirect_uri", Some(input.redirect_uri)),
                    ("scope", Some(&scopes.join(" "))),
                    ("state", Some(input.state)),
                    ("code_challenge", Some(challenge.as_str())),
                    ("code_challenge_method", Some("S256")),
                    ("login_hint", input.login_hint),
                ],
            )
        }
        Settings::Saml(_) => return Err(config_error("not an OIDC connection")),
    };
    Ok((url, verifier.secret().clone()))
}

fn failure(code: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

fn jwt_claims(jwt: &str) -> Map<String, Value> {
    jwt.split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default()
}

async fn userinfo(
    state: &AppState,
    url: &str,
    access_token: &str,
) -> Result<Map<String, Value>, Failure> {
    let req = axum::http::Request::get(url)
        .header("authorization", format!("Bearer {access_token}"))
        .header("accept", "application/json")
        .body(Vec::new())
        .map_err(|e| failure("userinfo_failed", e.to_string()))?;
    let outbound = state
        .sso
        .outbound()
        .map_err(|e| failure("internal_error", e.to_string()))?;
    let resp = outbound
        .execute(req)
        .await
        .map_err(|e| failure("userinfo_failed", e.to_string()))?;
    if !resp.status.is_success() {
        return Err(failure(
            "userinfo_failed",
            format!("The user-info endpoint answered {}.", resp.status),
        ));
    }
    match serde_json::from_slice::<Value>(&resp.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(failure(
            "userinfo_failed",
            "The user-info response is not a JSON object.",
        )),
    }
}

/// Code exchange + ID-token validation (issuer, audience, nonce, signature, expiry with skew),
/// then user-info; returns the merged claims.
async fn exchange_oidc(
    state: &AppState,
    c: &ConnectionConfig,
    s: &OAuthSettings,
    secret: Option<String>,
    request: &sso::SsoRequest,
    code: &str,
) -> Result<Map<String, Value>, Failure> {
    let internal = |e: ApiError| failure("internal_error", e.to_string());
    let redirect = login::sp_urls(&state.settings.public_url, c)
        .redirect_uri
        .unwrap_or_default();
    let outbound = state.sso.outbound().map_err(internal)?.clone();
    let http = move |req| send(outbound.clone(), req);
    let mut meta = provider(state, c, s, false).await.map_err(internal)?;
    let mut refreshed = false;
    let client = CoreClient::from_provider_metadata(
        meta.clone(),
        ClientId::new(s.client_id.clone()),
        secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(
        RedirectUrl::new(redirect).map_err(|e| failure("invalid_connection", e.to_string()))?,
    );
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|e| failure("invalid_connection", e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(
            request.pkce_verifier.clone().unwrap_or_default(),
        ))
        .request_async(&http)
        .await
        .map_err(|e| {
            failure(
                "token_exchange_failed",
                format!("The provider refused the code: {e}"),
            )
        })?;
    let id_token = response
        .extra_fields()
        .id_token()
        .ok_or_else(|| failure("invalid_id_token", "The provider returned no ID token."))?
        .clone();
    let nonce = Nonce::new(request.nonce.clone().unwrap_or_default());
    let skew = chrono::Duration::from_std(state.settings.sso.clock_skew)
        .unwrap_or_else(|_| chrono::Duration::zero());
    loop {
        let client = CoreClient::from_provider_metadata(
            meta.clone(),
            ClientId::new(s.client_id.clone()),
            secret.clone().map(ClientSecret::new),
        );
        let verifier = client
            .id_token_verifier()
            .set_time_fn(move || chrono::Utc::now() - skew);
        match id_token.claims(&verifier, &nonce) {
            Ok(_) => break,
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) if !refreshed => {
                refreshed = true;
                meta = provider(state, c, s, true).await.map_err(internal)?;
            }
            Err(e) => {
                return Err(failure(
                    "invalid_id_token",
                    format!("The ID token was rejected: {e}"),
                ));
            }
        }
    }
    let mut claims = jwt_claims(&id_token.to_string());
    if let Some(ep) = meta.userinfo_endpoint() {
        let info = userinfo(state, ep.as_str(), response.access_token().secret()).await?;
        if info.get("sub") != claims.get("sub") {
            return Err(failure(
                "userinfo_failed",
                "The user-info subject differs from the ID token's.",
            ));
        }
        for (k, v) in info {
            claims.entry(k).or_insert(v);
        }
    }
    Ok(claims)
}

/// OAuth 2.0 code exchange (client_secret_post + PKCE) and user-info.
async fn exchange_oauth(
    state: &AppState,
    c: &ConnectionConfig,
    s: &OAuthSettings,
    secret: Option<String>,
    request: &sso::SsoRequest,
    code: &str,
) -> Result<(Map<String, Value>, Value), Failure> {
    let (_, token_url, userinfo_url) = oauth_endpoints(c, s);
    let redirect = login::sp_urls(&state.settings.public_url, c)
        .redirect_uri
        .unwrap_or_default();
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", &redirect)
        .append_pair("client_id", &s.client_id)
        .append_pair("client_secret", secret.as_deref().unwrap_or_default())
        .append_pair(
            "code_verifier",
            request.pkce_verifier.as_deref().unwrap_or_default(),
        )
        .finish();
    let req = axum::http::Request::post(&token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body.into_bytes())
        .map_err(|e| failure("invalid_connection", e.to_string()))?;
    let outbound = state
        .sso
        .outbound()
        .map_err(|e| failure("internal_error", e.to_string()))?;
    let resp = outbound
        .execute(req)
        .await
        .map_err(|e| failure("token_exchange_failed", e.to_string()))?;
    let tokens: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    let access = tokens.get("access_token").and_then(Value::as_str);
    let (true, Some(access)) = (resp.status.is_success(), access) else {
        return Err(failure(
            "token_exchange_failed",
            format!("The provider refused the code ({}).", resp.status),
        ));
    };
    if userinfo_url.is_empty() {
        return Err(failure(
            "invalid_connection",
            "The connection has no user-info endpoint.",
        ));
    }
    let claims = userinfo(state, &userinfo_url, access).await?;
    let expires_at = chrono::Utc::now().timestamp()
        + tokens
            .get("expires_in")
            .and_then(Value::as_i64)
            .unwrap_or(3600);
    let oauth_tokens = json!({
        "provider": c.connection.connection_type,
        "access_token": access,
        "refresh_token": tokens.get("refresh_token").and_then(Value::as_str).unwrap_or_default(),
        "expires_at": expires_at,
        "scopes": tokens.get("scope").and_then(Value::as_str).map(|s| s.split([' ', ',']).filter(|x| !x.is_empty()).collect::<Vec<_>>()).unwrap_or_default(),
    });
    Ok((claims, oauth_tokens))
}

/// `GET /sso/oidc/callback/{connection_id}`.
async fn callback(
    State(state): State<AppState>,
    Path(id): Path<String>,
    client: Client,
    q: QueryMap,
) -> ApiResult<Response> {
    let mut conn = state.db.acquire().await?;
    let not_found = || ApiError::not_found("Connection", &id);
    let env = connections::environment_of(&mut conn, &id)
        .await?
        .ok_or_else(not_found)?;
    let c = connections::find(&mut conn, &env, &id)
        .await?
        .ok_or_else(not_found)?;
    let request_id = q.get("state").unwrap_or_default().to_string();
    let request = sso::find_request(&mut conn, &env, &id, &request_id).await?;
    drop(conn);
    let Some(request) = request else {
        let f = failure(
            "unsolicited_response",
            "The callback answers a request that is unknown, expired or already used.",
        );
        return login::fail(&state, &env, Some(&c), None, &client, f).await;
    };
    let fail = |f: Failure| login::fail(&state, &env, Some(&c), Some(&request.id), &client, f);
    if let Some(err) = q.get("error") {
        let detail = q.get("error_description").unwrap_or(err).to_string();
        return fail(failure(
            "idp_error",
            format!("The provider answered {err}: {detail}"),
        ))
        .await;
    }
    if c.connection.state != "active" {
        return fail(failure(
            "connection_inactive",
            "The connection is not active.",
        ))
        .await;
    }
    let Some(code) = q.get("code") else {
        return fail(failure("invalid_callback", "The callback carries no code.")).await;
    };
    let secret = {
        let mut conn = state.db.acquire().await?;
        connections::secrets(&mut conn, &state.vault, &env, &id)
            .await?
            .client_secret
    };
    let outcome = match &c.settings {
        Settings::Oidc(s) => exchange_oidc(&state, &c, s, secret, &request, code)
            .await
            .map(|claims| (claims, None)),
        Settings::Oauth(s) => exchange_oauth(&state, &c, s, secret, &request, code)
            .await
            .map(|(claims, tokens)| (claims, Some(tokens))),
        Settings::Saml(_) => Err(failure("invalid_connection", "Not an OIDC connection.")),
    };
    let (claims, oauth_tokens) = match outcome {
        Ok(v) => v,
        Err(f) => return fail(f).await,
    };
    let Some(profile): Option<NewProfile> = super::profile::from_claims(&claims) else {
        return fail(failure(
            "missing_email",
            "The provider sent no subject or email.",
        ))
        .await;
    };
    let done = Completion {
        request_id: Some(&request.id),
        assertion: None,
        oauth_tokens,
        client: client.clone(),
    };
    login::finish(&state, &env, &c, done, profile).await
}
