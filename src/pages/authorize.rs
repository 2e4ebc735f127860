//! `GET /user_management/authorize` (operation `UserlandSsoController_authorize`, spec tag
//! `user-management.authentication`): validates the authorization request, starts a hosted
//! login flow and answers `302` to the sign-in (or, with `screen_hint=sign-up`, sign-up) page.
//!
//! With `connection_id`, a `provider` other than `authkit` (a connection type such as
//! `GoogleOAuth`), or an `organization_id` whose organization has an active SSO connection, it
//! starts that connection's SSO login instead ([`login::start`], the machinery of
//! `/sso/authorize`), marked as a User Management login: when the IdP answers, the profile's
//! user is found by linked identity, else by email (and linked), else created, and an
//! authorization code for the `authorization_code` grant (session `auth_method` `sso`,
//! organization = the connection's, which the user joins as a `member` when not yet one) goes
//! to `redirect_uri?code=…&state=…`. An unknown, inactive or other environment's connection,
//! or a provider without an active connection, goes back to the redirect URI with
//! `error=connection_invalid`.
//!
//! An unknown `client_id`, or a `redirect_uri` that is not exactly one of the environment's
//! registered URIs ([`crate::store::redirect_uris::is_allowed`]), renders an error page and never
//! redirects. Once the redirect URI is trusted, other request errors go back to it the OAuth way
//! (`?error=…&error_description=…&state=…`): `unsupported_response_type` unless
//! `response_type=code`; `invalid_request` for a `domain_hint`, a PKCE method other than `S256`,
//! a malformed `code_challenge`, or an unknown `organization_id`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::browser::Browser;
use super::error::PageError;
use super::flow_cookie::{FLOW_TTL, flow_cookie};
use crate::auth::sso::{self as login, Selector, StartParams, select_connection};
use crate::error::ApiError;
use crate::http::OAuthQuery;
use crate::state::AppState;
use crate::store::authkit_flows::{self, NewFlow};
use crate::store::{environment_settings, environments, organizations, redirect_uris};

/// The route.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/user_management/authorize", get(authorize))
}

/// Longest accepted `state` / `login_hint`.
const MAX_PARAM: usize = 2048;

/// `302` back to the client with an OAuth error.
fn redirect_error(
    redirect_uri: &url::Url,
    error: &str,
    description: &str,
    state: Option<&str>,
) -> Response {
    let mut url = redirect_uri.clone();
    url.query_pairs_mut()
        .append_pair("error", error)
        .append_pair("error_description", description);
    if let Some(s) = state {
        url.query_pairs_mut().append_pair("state", s);
    }
    found(url.as_str())
}

/// `302 Found` with `Location` (the status the spec declares for this operation).
fn found(location: &str) -> Response {
    (
        StatusCode::FOUND,
        [(axum::http::header::LOCATION, location.to_string())],
    )
        .into_response()
}

/// Whether `challenge` looks like a base64url SHA-256 digest (43 characters).
fn well_formed_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `GET /user_management/authorize`.
async fn authorize(
    State(state): State<AppState>,
    browser: Browser,
    OAuthQuery(q): OAuthQuery,
) -> Result<Response, PageError> {
    let client_id = q
        .get("client_id")
        .ok_or_else(|| PageError::BadRequest("The client_id parameter is missing.".into()))?;
    let mut conn = state.db.acquire().await?;
    let env = environments::find_by_client_id(&mut conn, client_id)
        .await?
        .ok_or_else(|| PageError::BadRequest(format!("Unknown client_id '{client_id}'.")))?;
    tracing::Span::current().record("environment_id", env.id.as_str());
    let raw_redirect = q
        .get("redirect_uri")
        .ok_or_else(|| PageError::BadRequest("The redirect_uri parameter is missing.".into()))?;
    let redirect_uri = url::Url::parse(raw_redirect)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.fragment().is_none())
        .ok_or_else(|| PageError::BadRequest("The redirect_uri is not a valid URL.".into()))?;
    if !redirect_uris::is_allowed(&mut conn, &env.id, raw_redirect).await? {
        return Err(PageError::BadRequest(
            "The redirect_uri is not registered for this application.".into(),
        ));
    }
    let settings = environment_settings::get(&mut conn, &env.id, &state.settings).await?;
    if redirect_uri.scheme() == "http" && !settings.allow_http_redirect_uris {
        return Err(PageError::BadRequest(
            "http:// redirect URIs are not allowed in this environment.".into(),
        ));
    }

    // From here on errors go back to the (trusted) redirect URI.
    let client_state = q.get("state");
    let back = |error: &str, description: &str| {
        Ok(redirect_error(
            &redirect_uri,
            error,
            description,
            client_state,
        ))
    };
    if q.get("response_type") != Some("code") {
        return back("unsupported_response_type", "response_type must be 'code'.");
    }
    if q.get("domain_hint").is_some() {
        return back(
            "invalid_request",
            "domain_hint is not supported; pass connection_id or organization_id.",
        );
    }
    let code_challenge = q.get("code_challenge");
    match (code_challenge, q.get("code_challenge_method")) {
        (None, None) => {}
        (Some(c), Some("S256")) if well_formed_challenge(c) => {}
        (Some(_), Some("S256")) => {
            return back(
                "invalid_request",
                "code_challenge is not a base64url SHA-256 digest.",
            );
        }
        _ => {
            return back(
                "invalid_request",
                "code_challenge requires code_challenge_method=S256 (the only method).",
            );
        }
    }
    if client_state.is_some_and(|s| s.len() > MAX_PARAM)
        || q.get("login_hint").is_some_and(|s| s.len() > MAX_PARAM)
    {
        return back("invalid_request", "state or login_hint is too long.");
    }
    let organization_id = match q.get("organization_id") {
        None => None,
        Some(org) => {
            let found = match crate::ids::OrganizationId::parse_lenient(org) {
                Some(id) => organizations::find(&mut conn, &env.id, &id).await?,
                None => None,
            };
            match found {
                Some(o) => Some(o.id),
                None => {
                    return back(
                        "invalid_request",
                        &format!("Unknown organization_id '{org}'."),
                    );
                }
            }
        }
    };
    drop(conn);

    // SSO: a connection, an OAuth provider, or an organization with an active connection.
    let provider = q.get("provider").filter(|p| *p != "authkit");
    let selector = if let Some(id) = q.get("connection_id") {
        Some(Selector {
            connection: Some(id),
            ..Selector::default()
        })
    } else {
        provider.map(|p| Selector {
            provider: Some(p),
            ..Selector::default()
        })
    };
    // The environment's sign_in_methods: an explicitly requested connection or provider that
    // is disabled goes back as `authentication_method_not_allowed`; an organization's disabled
    // connection is skipped (the hosted pages take over).
    let methods = &settings.sign_in_methods;
    if let Some(p) = provider.filter(|p| !methods.allows_connection_type(p)) {
        return back(
            "authentication_method_not_allowed",
            &format!("Sign-in with {p} is disabled for this environment."),
        );
    }
    let chosen = match (selector, &organization_id) {
        (Some(sel), _) => match select_connection(&state, &env.id, sel).await? {
            Ok(c) if methods.allows_connection_type(&c.connection.connection_type) => Some(c),
            Ok(c) => {
                return back(
                    "authentication_method_not_allowed",
                    &format!(
                        "Sign-in with {} is disabled for this environment.",
                        c.connection.connection_type
                    ),
                );
            }
            Err(f) => return back(f.code, &f.message),
        },
        (None, Some(org)) if q.get("provider").is_none() => {
            let sel = Selector {
                organization: Some(org.as_str()),
                ..Selector::default()
            };
            select_connection(&state, &env.id, sel)
                .await?
                .ok()
                .filter(|c| methods.allows_connection_type(&c.connection.connection_type))
        }
        (None, _) => None,
    };
    if let Some(c) = chosen {
        let params = StartParams {
            redirect_uri: raw_redirect,
            client_state,
            login_hint: q.get("login_hint"),
            code_challenge,
            code_challenge_method: code_challenge.map(|_| "S256"),
            provider_scopes: q.list("provider_scopes"),
            user_management: true,
            ip_address: browser.client.ip_address.as_deref(),
            user_agent: browser.client.user_agent.as_deref(),
        };
        return match login::start(&state, &env.id, &c, params).await {
            Ok(url) => Ok((
                StatusCode::FOUND,
                [
                    (axum::http::header::LOCATION, url),
                    (axum::http::header::CACHE_CONTROL, "no-store".to_string()),
                ],
            )
                .into_response()),
            Err(ApiError::BadRequest { message, .. }) => back("connection_invalid", &message),
            Err(e) => Err(e.into()),
        };
    }

    let mut tx = state.db.begin().await?;
    let (_, token) = authkit_flows::insert(
        &mut tx,
        &env.id,
        NewFlow {
            redirect_uri: raw_redirect.to_string(),
            state: client_state.map(String::from),
            code_challenge: code_challenge.map(String::from),
            organization_id,
            login_hint: q.get("login_hint").map(|h| h.trim().to_string()),
            device_user_code: None,
        },
        FLOW_TTL,
    )
    .await?;
    tx.commit().await?;
    let page = if q.get("screen_hint") == Some("sign-up") {
        "/authkit/sign-up"
    } else {
        "/authkit/sign-in"
    };
    let jar = browser.jar.add(flow_cookie(&state, token));
    Ok((jar, found(page)).into_response())
}

#[cfg(test)]
mod tests {
    use super::well_formed_challenge;

    #[test]
    fn challenges_must_be_s256_digests() {
        assert!(well_formed_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!well_formed_challenge("plain-verifier"));
        assert!(!well_formed_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"
        ));
    }
}
