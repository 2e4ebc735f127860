//! The Connect token endpoint, `POST /oauth2/token` (public: the client authenticates itself),
//! with the `client_credentials` grant (RFC 6749 §4.4) for machine-to-machine applications.
//!
//! Client authentication is `client_secret_basic` (`Authorization: Basic`, id and secret
//! form-urlencoded first, RFC 6749 §2.3.1) or `client_secret_post` (`client_id` and
//! `client_secret` in the body, form or JSON); one of them, not both. The secret is compared by
//! its SHA-256 digest in constant time against each of the application's secrets, and the
//! matching secret's `last_used_at` is recorded.
//!
//! The access token is an RS256 JWT signed with the environment's current key (its `kid` in the
//! header; verifiable with `GET /sso/jwks/{client_id of the environment}`): `iss` (the public
//! URL), `aud` (the environment's client id), `sub` and `client_id` (the application's client
//! id), `org_id` (its organization), `scope` (space-delimited), `jti`, `iat`, `exp`. `scope`
//! narrows the application's scopes; without it the token gets them all.
//!
//! Errors are RFC 6749 §5.2 `{error, error_description}`: 401 `invalid_client` for any failed
//! client authentication, 400 `invalid_request`, `unsupported_grant_type`,
//! `unauthorized_client` (an OAuth application) and `invalid_scope`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::http::OAuthJson;
use crate::http::extract::from_value;
use crate::ids::new_id;
use crate::state::AppState;
use crate::store::connect_applications::{self, ApplicationType};
use crate::store::connect_client_secrets;

/// Longest client id or secret looked at.
const CREDENTIAL_MAX: usize = 256;

/// Public routes of the token endpoint.
pub fn public_router() -> Router<AppState> {
    Router::new().route("/oauth2/token", post(token))
}

/// The body of a token request.
#[derive(Debug, Deserialize)]
struct TokenRequest {
    #[serde(default)]
    grant_type: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

/// The claims of an M2M access token.
#[derive(Debug, Serialize)]
pub struct M2mClaims {
    /// Issuer: the public URL.
    pub iss: String,
    /// Audience: the environment's client id.
    pub aud: String,
    /// The application's client id.
    pub sub: String,
    /// The application's client id.
    pub client_id: String,
    /// The application's organization.
    pub org_id: Option<String>,
    /// Granted scopes, space-delimited.
    pub scope: String,
    /// Unique token id.
    pub jti: String,
    /// Issue time, seconds since the epoch.
    pub iat: i64,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
}

fn invalid_client() -> ApiError {
    ApiError::OAuth {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_client",
        description: "Client authentication failed.".into(),
    }
}

/// `(client_id, client_secret)` of an `Authorization: Basic` header, if there is one. Errors:
/// `invalid_client` for a malformed one.
fn basic_credentials(headers: &HeaderMap) -> ApiResult<Option<(String, String)>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| invalid_client())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(invalid_client());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid_client());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| invalid_client())?;
    let text = String::from_utf8(decoded).map_err(|_| invalid_client())?;
    let (id, secret) = text.split_once(':').ok_or_else(invalid_client)?;
    let unescape = |s: &str| -> ApiResult<String> {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .ok_or_else(invalid_client)
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}

/// `POST /oauth2/token` with `grant_type=client_credentials` → 200 `{access_token, token_type,
/// expires_in, scope}`. Errors: see the module documentation.
async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    OAuthJson(body): OAuthJson<Value>,
) -> ApiResult<impl IntoResponse> {
    let req: TokenRequest = from_value(body)
        .map_err(|_| ApiError::oauth("invalid_request", "The request is malformed."))?;
    let basic = basic_credentials(&headers)?;
    let (client_id, secret) = match (basic, req.client_id, req.client_secret) {
        (Some(creds), None, None) => creds,
        (Some((id, secret)), Some(body_id), None) if body_id == id => (id, secret),
        (Some(_), _, _) => {
            return Err(ApiError::oauth(
                "invalid_request",
                "Use one client authentication method.",
            ));
        }
        (None, Some(id), Some(secret)) => (id, secret),
        (None, _, _) => return Err(invalid_client()),
    };
    let grant_type = req
        .grant_type
        .ok_or_else(|| ApiError::oauth("invalid_request", "grant_type is required."))?;
    if client_id.len() > CREDENTIAL_MAX || secret.len() > CREDENTIAL_MAX {
        return Err(invalid_client());
    }
    let (env, env_client_id, app) = connect_applications::find_client(&state.db, &client_id)
        .await?
        .ok_or_else(invalid_client)?;
    if !connect_client_secrets::authenticate(&state.db, &env, &app.id, &secret).await? {
        return Err(invalid_client());
    }
    if grant_type != "client_credentials" {
        return Err(ApiError::oauth(
            "unsupported_grant_type",
            format!("The grant type '{grant_type}' is not supported."),
        ));
    }
    if app.application_type != ApplicationType::M2m {
        return Err(ApiError::oauth(
            "unauthorized_client",
            "Only M2M applications may use the client_credentials grant.",
        ));
    }
    let scopes: Vec<String> = match req.scope.as_deref().map(str::trim) {
        None | Some("") => app.scopes.clone(),
        Some(requested) => {
            let wanted: Vec<String> = requested
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            if let Some(s) = wanted.iter().find(|s| !app.scopes.contains(s)) {
                return Err(ApiError::oauth(
                    "invalid_scope",
                    format!("The application may not request the scope '{s}'."),
                ));
            }
            wanted
        }
    };
    let ttl = state.settings.access_token_ttl;
    let now = chrono::Utc::now().timestamp();
    let claims = M2mClaims {
        iss: state.settings.public_url.trim_end_matches('/').to_string(),
        aud: env_client_id,
        sub: app.client_id.clone(),
        client_id: app.client_id.clone(),
        org_id: app.organization_id.as_ref().map(ToString::to_string),
        scope: scopes.join(" "),
        jti: new_id("jti").trim_start_matches("jti_").to_string(),
        iat: now,
        exp: now + i64::try_from(ttl.as_secs()).unwrap_or(300),
    };
    let keys = state.signing_keys(&env).await?;
    let key = keys
        .first()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no signing key")))?;
    let access_token = key.sign(&claims).map_err(ApiError::Internal)?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ttl.as_secs(),
            "scope": claims.scope,
        })),
    ))
}
