//! OpenID Connect relying party (OIDC Core §3.1: authorization code flow; RFC 7636 PKCE;
//! OIDC Discovery §4) for `GenericOIDC` (and `OktaOIDC`, `EntraIdOIDC`, `GoogleOIDC`) through
//! the `openidconnect` crate, and the OAuth 2.0 providers (`GoogleOAuth`, `MicrosoftOAuth`,
//! `GitHubOAuth`, `AppleOAuth`: RFC 6749 §4.1 + PKCE, then the provider's user-info endpoint),
//! with every endpoint overridable per connection.
//!
//! [`authorization_url`] starts a login; [`exchange`] turns the code the provider sent to our
//! callback (`crate::idp::oidc`) into the merged claims. Discovery documents with their JWKS
//! are cached per connection for ten minutes ([`super::runtime::ProviderCache`]) and refetched
//! once when an ID token names an unknown key (rotation). All outbound HTTP goes through
//! [`super::outbound`].

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use serde_json::{Map, Value, json};

use super::connection::{OAuthSettings, Settings};
use super::outbound::{Outbound, OutboundError};
use super::runtime::SsoRuntime;
use super::{Failure, with_query};
use crate::error::{ApiError, ApiResult};

const CACHE_TTL: Duration = Duration::from_secs(600);

/// The connection a login goes through, as the engine sees it.
#[derive(Debug, Clone, Copy)]
pub struct Provider<'a> {
    /// The connection id (the discovery cache key).
    pub connection_id: &'a str,
    /// `GenericOIDC`, `GoogleOAuth`, `GitHubOAuth`, … (the OAuth endpoint and scope defaults).
    pub connection_type: &'a str,
    /// The connection's protocol settings.
    pub settings: &'a Settings,
    /// Our callback URL, as registered at the provider.
    pub redirect_uri: &'a str,
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

async fn discover(
    rt: &SsoRuntime,
    p: &Provider<'_>,
    s: &OAuthSettings,
    refresh: bool,
) -> ApiResult<CoreProviderMetadata> {
    if !refresh && let Some(m) = rt.oidc_cache.get(p.connection_id, CACHE_TTL) {
        return Ok(m);
    }
    let discovery = s
        .discovery_endpoint
        .as_deref()
        .ok_or_else(|| config_error("no discovery_endpoint"))?;
    let issuer = IssuerUrl::new(issuer_of(discovery)).map_err(config_error)?;
    let outbound = rt.outbound()?.clone();
    let http = move |req| send(outbound.clone(), req);
    let meta = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .map_err(|e| {
            ApiError::bad_request("invalid_connection", format!("OIDC discovery failed: {e}"))
        })?;
    rt.oidc_cache.put(p.connection_id, meta.clone());
    Ok(meta)
}

/// Provider endpoints for the OAuth connection types, each overridable per connection.
fn oauth_endpoints(p: &Provider<'_>, s: &OAuthSettings) -> (String, String, String) {
    let defaults = match p.connection_type {
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

fn default_scopes(p: &Provider<'_>) -> Vec<String> {
    let s: &[&str] = match p.connection_type {
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
    /// Forwarded as `login_hint`.
    pub login_hint: Option<&'a str>,
    /// Extra scopes from `provider_scopes`.
    pub extra_scopes: &'a [String],
}

/// The provider's authorization URL and the PKCE verifier to keep.
pub async fn authorization_url(
    rt: &SsoRuntime,
    p: &Provider<'_>,
    input: &AuthorizeInput<'_>,
) -> ApiResult<(String, String)> {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut scopes = default_scopes(p);
    let configured = match p.settings {
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
    let url = match p.settings {
        Settings::Oidc(s) => {
            let meta = discover(rt, p, s, false).await?;
            let client =
                CoreClient::from_provider_metadata(meta, ClientId::new(s.client_id.clone()), None)
                    .set_redirect_uri(
                        RedirectUrl::new(p.redirect_uri.into()).map_err(config_error)?,
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
            let (auth, _, _) = oauth_endpoints(p, s);
            with_query(
                &auth,
                &[
                    ("response_type", Some("code")),
                    ("client_id", Some(&s.client_id)),
                    ("redirect_uri", Some(p.redirect_uri)),
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
    Failure::new(code, message)
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
    rt: &SsoRuntime,
    url: &str,
    access_token: &str,
) -> Result<Map<String, Value>, Failure> {
    let req = axum::http::Request::get(url)
        .header("authorization", format!("Bearer {access_token}"))
        .header("accept", "application/json")
        .body(Vec::new())
        .map_err(|e| failure("userinfo_failed", e.to_string()))?;
    let outbound = rt
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
    rt: &SsoRuntime,
    p: &Provider<'_>,
    s: &OAuthSettings,
    cb: &Callback<'_>,
) -> Result<Map<String, Value>, Failure> {
    let internal = |e: ApiError| failure("internal_error", e.to_string());
    let secret = cb.client_secret.map(str::to_string);
    let outbound = rt.outbound().map_err(internal)?.clone();
    let http = move |req| send(outbound.clone(), req);
    let mut meta = discover(rt, p, s, false).await.map_err(internal)?;
    let mut refreshed = false;
    let client = CoreClient::from_provider_metadata(
        meta.clone(),
        ClientId::new(s.client_id.clone()),
        secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(
        RedirectUrl::new(p.redirect_uri.to_string())
            .map_err(|e| failure("invalid_connection", e.to_string()))?,
    );
    let response = client
        .exchange_code(AuthorizationCode::new(cb.code.to_string()))
        .map_err(|e| failure("invalid_connection", e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(
            cb.pkce_verifier.unwrap_or_default().to_string(),
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
    let nonce = Nonce::new(cb.nonce.unwrap_or_default().to_string());
    let skew =
        chrono::Duration::from_std(cb.clock_skew).unwrap_or_else(|_| chrono::Duration::zero());
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
                meta = discover(rt, p, s, true).await.map_err(internal)?;
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
        let info = userinfo(rt, ep.as_str(), response.access_token().secret()).await?;
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
    rt: &SsoRuntime,
    p: &Provider<'_>,
    s: &OAuthSettings,
    cb: &Callback<'_>,
) -> Result<(Map<String, Value>, Value), Failure> {
    let (_, token_url, userinfo_url) = oauth_endpoints(p, s);
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", cb.code)
        .append_pair("redirect_uri", p.redirect_uri)
        .append_pair("client_id", &s.client_id)
        .append_pair("client_secret", cb.client_secret.unwrap_or_default())
        .append_pair("code_verifier", cb.pkce_verifier.unwrap_or_default())
        .finish();
    let req = axum::http::Request::post(&token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body.into_bytes())
        .map_err(|e| failure("invalid_connection", e.to_string()))?;
    let outbound = rt
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
    let claims = userinfo(rt, &userinfo_url, access).await?;
    let expires_at = chrono::Utc::now().timestamp()
        + tokens
            .get("expires_in")
            .and_then(Value::as_i64)
            .unwrap_or(3600);
    let oauth_tokens = json!({
        "provider": p.connection_type,
        "access_token": access,
        "refresh_token": tokens.get("refresh_token").and_then(Value::as_str).unwrap_or_default(),
        "expires_at": expires_at,
        "scopes": tokens.get("scope").and_then(Value::as_str).map(|s| s.split([' ', ',']).filter(|x| !x.is_empty()).collect::<Vec<_>>()).unwrap_or_default(),
    });
    Ok((claims, oauth_tokens))
}

/// What the provider's redirect to our callback brought, with what the pending request kept.
#[derive(Debug, Clone, Copy)]
pub struct Callback<'a> {
    /// The authorization code.
    pub code: &'a str,
    /// The connection's client secret.
    pub client_secret: Option<&'a str>,
    /// The PKCE verifier kept with the pending request.
    pub pkce_verifier: Option<&'a str>,
    /// The ID-token nonce kept with the pending request (OIDC).
    pub nonce: Option<&'a str>,
    /// Clock skew tolerated on the ID token's times.
    pub clock_skew: Duration,
}

/// Redeems the callback's code: OIDC code exchange with ID-token validation (issuer, audience,
/// nonce, signature, expiry with skew) then user-info, or the OAuth code exchange then
/// user-info. Returns the merged claims and, for OAuth, the provider tokens to hand back with
/// the profile (`oauth_tokens`).
pub async fn exchange(
    rt: &SsoRuntime,
    p: &Provider<'_>,
    cb: &Callback<'_>,
) -> Result<(Map<String, Value>, Option<Value>), Failure> {
    match p.settings {
        Settings::Oidc(s) => exchange_oidc(rt, p, s, cb)
            .await
            .map(|claims| (claims, None)),
        Settings::Oauth(s) => exchange_oauth(rt, p, s, cb)
            .await
            .map(|(claims, tokens)| (claims, Some(tokens))),
        Settings::Saml(_) => Err(failure("invalid_connection", "Not an OIDC connection.")),
    }
}
