//! The shared life of an SSO login: [`start`] sends the browser to the IdP (SAML
//! AuthnRequest, OIDC/OAuth authorization request) and records the pending request;
//! [`finish`] turns a verified identity into a Profile and a one-time code and redirects to the
//! application (`redirect_uri?code=…&state=…`); [`fail`] records `authentication.sso_failed`
//! and redirects with `error` and `error_description` when the request is known (WORKOS-API-NOTES
//! §5.1), or answers 400 otherwise.
//!
//! Events (WORKOS-API-NOTES §3.2, `AuthAttempt` with `type: "sso"`): `authentication.sso_started`
//! in the transaction that records the pending request, then `authentication.sso_succeeded` or
//! `authentication.sso_failed`, each with the browser's `ip_address` and `user_agent`
//! ([`Client`]).
//!
//! The IdP-facing routes that call [`finish`] and [`fail`] are [`crate::idp`]; the protocol
//! engines behind [`start`] are [`crate::protocols`].
//!
//! A connection of an organization admits only profiles whose email domain is one of the
//! organization's verified domains, unless the organization sets
//! `allow_profiles_outside_organization` (error `profile_not_allowed_outside_organization`).
//! A User Management login also makes the user an active `member` of that organization when
//! they have no membership yet (`organization_membership.created`, same transaction).

use std::time::Duration;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::auth::hooks::{self, Attempt as Screened, Verdict};
use crate::auth::users;
use crate::crypto::random_token;
use crate::db::Tx;
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::http::Client;
use crate::ids::{EnvironmentId, OrganizationId, SsoRequestId, UserId};
use crate::protocols::{Failure, oidc, saml, with_query};
use crate::state::AppState;
use crate::store::authorization_codes::{self, NewCode};
use crate::store::connections::{ConnectionConfig, Settings};
use crate::store::sso::{self, Attempt, NewProfile, NewSsoRequest, Profile, SsoRequest, TokenKind};
use crate::store::user_identities::{self, Issuer};
use crate::store::users::NewUser;
use crate::store::{connections, organization_memberships, organizations, redirect_uris, roles};

/// Lifetime of an authorization code (single use).
pub const CODE_TTL: Duration = Duration::from_secs(600);

/// The SP-side URLs of a connection.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SpUrls {
    /// SAML SP entity id (also the metadata URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// SAML Assertion Consumer Service (HTTP-POST).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acs_url: Option<String>,
    /// Public SP metadata XML.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_url: Option<String>,
    /// OIDC/OAuth redirect URI to register at the provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
}

/// The URLs the IdP must be configured with for this connection.
pub fn sp_urls(public_url: &str, c: &ConnectionConfig) -> SpUrls {
    let id = &c.connection.id;
    match c.settings {
        Settings::Saml(_) => {
            let metadata = format!("{public_url}/sso/saml/metadata/{id}");
            SpUrls {
                entity_id: Some(metadata.clone()),
                acs_url: Some(format!("{public_url}/sso/saml/acs/{id}")),
                metadata_url: Some(metadata),
                redirect_uri: None,
            }
        }
        Settings::Oidc(_) | Settings::Oauth(_) => SpUrls {
            entity_id: None,
            acs_url: None,
            metadata_url: None,
            redirect_uri: Some(format!("{public_url}/sso/oidc/callback/{id}")),
        },
    }
}

/// What the application asked for at `/sso/authorize`.
#[derive(Debug, Default)]
pub struct StartParams<'a> {
    /// Checked redirect URI.
    pub redirect_uri: &'a str,
    /// Returned untouched.
    pub client_state: Option<&'a str>,
    /// Passed to the IdP.
    pub login_hint: Option<&'a str>,
    /// PKCE challenge the application will prove at `/sso/token`.
    pub code_challenge: Option<&'a str>,
    /// `S256` (or `plain`).
    pub code_challenge_method: Option<&'a str>,
    /// Extra scopes (OIDC/OAuth).
    pub provider_scopes: Vec<String>,
    /// Started by `GET /user_management/authorize`: [`finish`] signs a Keystead user in and
    /// answers with a User Management authorization code.
    pub user_management: bool,
    /// The browser's IP address (for `authentication.sso_started`).
    pub ip_address: Option<&'a str>,
    /// The browser's user agent.
    pub user_agent: Option<&'a str>,
}

/// Records the pending login with its `authentication.sso_started` event (one transaction)
/// and returns the IdP URL to redirect the browser to.
pub async fn start(
    state: &AppState,
    env: &EnvironmentId,
    c: &ConnectionConfig,
    p: StartParams<'_>,
) -> ApiResult<String> {
    let id = SsoRequestId::new();
    let urls = sp_urls(&state.settings.public_url, c);
    let mut nonce = None;
    let mut verifier = None;
    let url = match &c.settings {
        Settings::Saml(s) => {
            let key = if s.sign_requests {
                let mut conn = state.db.acquire().await?;
                connections::secrets(&mut conn, &state.vault, env, &c.connection.id)
                    .await?
                    .sp_private_key
            } else {
                None
            };
            let request = saml::request::AuthnRequest {
                id: &id,
                sp_entity_id: urls.entity_id.as_deref().unwrap_or_default(),
                acs_url: urls.acs_url.as_deref().unwrap_or_default(),
                idp_sso_url: &s.idp_sso_url,
                now: Utc::now(),
                login_hint: p.login_hint,
            };
            request
                .redirect_url(Some(&id), key.as_deref())
                .map_err(|e| ApiError::Internal(anyhow::anyhow!(e.message)))?
        }
        Settings::Oidc(_) | Settings::Oauth(_) => {
            let n = random_token(24);
            let provider = oidc::Provider {
                connection_id: &c.connection.id,
                connection_type: &c.connection.connection_type,
                settings: &c.settings,
                redirect_uri: urls.redirect_uri.as_deref().unwrap_or_default(),
            };
            let input = oidc::AuthorizeInput {
                state: &id,
                nonce: &n,
                login_hint: p.login_hint,
                extra_scopes: &p.provider_scopes,
            };
            let (url, v) = oidc::authorization_url(&state.sso, &provider, &input).await?;
            nonce = Some(n);
            verifier = Some(v);
            url
        }
    };
    let mut tx = state.db.begin().await?;
    sso::insert_request(
        &mut tx,
        env,
        NewSsoRequest {
            id: &id,
            connection_id: &c.connection.id,
            redirect_uri: p.redirect_uri,
            client_state: p.client_state,
            nonce: nonce.as_deref(),
            pkce_verifier: verifier.as_deref(),
            code_challenge: p.code_challenge,
            code_challenge_method: p.code_challenge_method,
            user_management: p.user_management,
            ttl: state.settings.sso.request_ttl,
        },
    )
    .await?;
    let started = Attempt {
        connection_id: Some(&c.connection.id),
        organization_id: c.connection.organization_id.as_ref(),
        ip_address: p.ip_address,
        user_agent: p.user_agent,
        ..Attempt::default()
    };
    sso::record_started(&mut tx, env, &started).await?;
    tx.commit().await?;
    Ok(url)
}

fn redirect(to: &str) -> Response {
    (
        StatusCode::FOUND,
        [(header::LOCATION, to), (header::CACHE_CONTROL, "no-store")],
    )
        .into_response()
}

/// Where a finished login is bound: the pending request it answers (`None`: IdP-initiated),
/// and for SAML the assertion id to remember until when.
#[derive(Debug, Default)]
pub struct Completion<'a> {
    /// The request id this login answers.
    pub request_id: Option<&'a str>,
    /// `(assertion id, remember until)` for the replay cache.
    pub assertion: Option<(&'a str, DateTime<Utc>)>,
    /// Provider tokens to return with the code (OAuth).
    pub oauth_tokens: Option<Value>,
    /// The browser that brought the IdP's answer.
    pub client: Client,
}

/// Issues a profile and code for a verified identity and redirects to the application. The
/// sign-in hooks screen the attempt first (`kind: "sso"`, the profile's email, the browser);
/// a block fails the login with the hook's code ([`fail`]).
pub async fn finish(
    state: &AppState,
    env: &EnvironmentId,
    c: &ConnectionConfig,
    done: Completion<'_>,
    profile: NewProfile,
) -> ApiResult<Response> {
    let conn_id = &c.connection.id;
    let org = c.connection.organization_id.as_ref();
    let client = &done.client;
    let screened = Screened {
        environment_id: env,
        kind: "sso",
        email: Some(&profile.email),
        user_id: None,
        ip_address: client.ip_address.as_deref(),
        user_agent: client.user_agent.as_deref(),
        radar: Default::default(),
    };
    if let Verdict::Block { code, message } | Verdict::Forbid { code, message } =
        hooks::screen(state, &screened).await?
    {
        let blocked = Failure { code, message };
        return fail(state, env, Some(c), done.request_id, client, blocked).await;
    }
    let mut tx = state.db.begin().await?;
    // A request id the IdP echoes that is not an `sso_req_…` id answers no request: unsolicited.
    let request_id = done.request_id.map(SsoRequestId::parse_lenient);
    let request: Option<SsoRequest> = match request_id {
        Some(id) => match match id {
            Some(id) => sso::consume_request(&mut tx, env, conn_id, &id).await?,
            None => None,
        } {
            Some(r) => Some(r),
            None => {
                drop(tx);
                return fail(state, env, Some(c), None, client, unsolicited()).await;
            }
        },
        None => None,
    };
    if let Some((assertion_id, until)) = done.assertion
        && !sso::remember_assertion(&mut tx, env, conn_id, assertion_id, until).await?
    {
        drop(tx);
        let replay = Failure {
            code: "replayed_assertion",
            message: "This assertion was already used.".into(),
        };
        return fail_with_request(state, env, Some(c), request, client, replay).await;
    }
    let target = match &request {
        Some(r) => r.redirect_uri.clone(),
        None => match redirect_uris::default_uri(&mut tx, env).await? {
            Some(u) => u,
            None => {
                drop(tx);
                let no_target = Failure {
                    code: "invalid_redirect_uri",
                    message: "IdP-initiated login needs a default redirect URI.".into(),
                };
                return fail(state, env, Some(c), None, client, no_target).await;
            }
        },
    };
    if let Some(org) = org
        && organizations::admits_profile_email(&mut tx, env, org, &profile.email).await?
            != Some(true)
    {
        // The request and the assertion stay spent.
        let outside = Failure {
            code: "profile_not_allowed_outside_organization",
            message: "The profile's email domain is not one of the organization's verified \
                      domains, and the organization does not allow profiles outside it."
                .into(),
        };
        return reject(
            tx,
            env,
            Some(c),
            request,
            client,
            Some(&profile.email),
            outside,
        )
        .await;
    }
    let stored = sso::upsert_profile(
        &mut tx,
        env,
        conn_id,
        &c.connection.connection_type,
        org,
        &profile,
    )
    .await?;
    let mut attempt = Attempt {
        connection_id: Some(conn_id),
        organization_id: org,
        user_id: None,
        email: Some(&stored.email),
        ip_address: client.ip_address.as_deref(),
        user_agent: client.user_agent.as_deref(),
    };
    if let Some(r) = request.as_ref().filter(|r| r.user_management) {
        let user_id = sign_in_user(&mut tx, env, c, &stored).await?;
        let session_org = match org {
            Some(org) => join_organization(&mut tx, env, &user_id, org).await?,
            None => None,
        };
        let code = authorization_codes::insert(
            &mut tx,
            env,
            NewCode {
                user_id: &user_id,
                organization_id: session_org.as_ref(),
                auth_method: "sso",
                redirect_uri: &r.redirect_uri,
                code_challenge: r.code_challenge.as_deref(),
                ip_address: client.ip_address.as_deref(),
                user_agent: client.user_agent.as_deref(),
                ttl: CODE_TTL,
            },
        )
        .await?;
        attempt.user_id = Some(&user_id);
        sso::record_succeeded(&mut tx, env, &attempt).await?;
        tx.commit().await?;
        return Ok(redirect(&with_query(
            &r.redirect_uri,
            &[("code", Some(&code)), ("state", r.client_state.as_deref())],
        )));
    }
    let code = sso::issue_token(
        &mut tx,
        env,
        TokenKind::Code,
        &stored.id,
        CODE_TTL,
        request.as_ref().and_then(|r| r.code_challenge.as_deref()),
        request
            .as_ref()
            .and_then(|r| r.code_challenge_method.as_deref()),
        done.oauth_tokens.as_ref(),
    )
    .await?;
    sso::record_succeeded(&mut tx, env, &attempt).await?;
    tx.commit().await?;
    let client_state = request.as_ref().and_then(|r| r.client_state.as_deref());
    Ok(redirect(&with_query(
        &target,
        &[("code", Some(&code)), ("state", client_state)],
    )))
}

/// The organization an SSO sign-in's session is scoped to: the connection's, after making the
/// user an active member with the default role (`organization_membership.created`) when they
/// have no membership there. A `pending` or `inactive` membership is left alone and the
/// session is not scoped to the organization.
async fn join_organization(
    tx: &mut Tx,
    env: &EnvironmentId,
    user_id: &UserId,
    organization_id: &OrganizationId,
) -> ApiResult<Option<OrganizationId>> {
    let organization_id = organization_id.clone();
    match organization_memberships::find_for(tx, env, user_id, &organization_id).await? {
        Some(m) if m.status == "active" => Ok(Some(organization_id)),
        Some(_) => Ok(None),
        None => {
            let role = [roles::DEFAULT_ROLE.to_string()];
            organization_memberships::insert(tx, env, user_id, &organization_id, &role, "active")
                .await?;
            Ok(Some(organization_id))
        }
    }
}

/// The Keystead user behind an SSO profile: the one holding the identity, else the one with
/// the profile's email, else a new user (`user.created`) whose email is verified unless the IdP
/// says otherwise ([`users::find_or_create`]); the identity is linked to the last two.
async fn sign_in_user(
    tx: &mut Tx,
    env: &EnvironmentId,
    c: &ConnectionConfig,
    profile: &Profile,
) -> ApiResult<UserId> {
    let issuer = match c.settings {
        // The identities API spells GitHub `GithubOAuth`.
        Settings::Oauth(_) if c.connection.connection_type == "GitHubOAuth" => {
            Issuer::Provider("GithubOAuth")
        }
        Settings::Oauth(_) => Issuer::Provider(&c.connection.connection_type),
        Settings::Saml(_) | Settings::Oidc(_) => {
            Issuer::Connection(&c.connection.id, &c.connection.connection_type)
        }
    };
    if let Some(id) = user_identities::find_user(tx, env, issuer, &profile.idp_id).await? {
        return Ok(id);
    }
    let unverified = profile
        .raw_attributes
        .get("email_verified")
        .is_some_and(|v| v == &Value::Bool(false) || v == "false");
    let new = NewUser {
        email: EmailAddress::new(&profile.email),
        email_verified: !unverified,
        first_name: profile.first_name.clone(),
        last_name: profile.last_name.clone(),
        ..NewUser::default()
    };
    let user = users::find_or_create(tx, env, new).await?;
    user_identities::link_issuer(tx, env, &user.id, issuer, &profile.idp_id).await?;
    Ok(user.id)
}

fn unsolicited() -> Failure {
    Failure {
        code: "unsolicited_response",
        message: "The response answers a request that is unknown, expired or already used.".into(),
    }
}

/// Records `authentication.sso_failed`; consumes the pending request `request_id` (when still
/// pending) and redirects to its `redirect_uri` with the error, else answers 400.
pub async fn fail(
    state: &AppState,
    env: &EnvironmentId,
    c: Option<&ConnectionConfig>,
    request_id: Option<&str>,
    client: &Client,
    failure: Failure,
) -> ApiResult<Response> {
    let request = match (c, request_id.and_then(SsoRequestId::parse_lenient)) {
        (Some(c), Some(id)) => {
            let mut tx = state.db.begin().await?;
            let r = sso::consume_request(&mut tx, env, &c.connection.id, &id).await?;
            tx.commit().await?;
            r
        }
        _ => None,
    };
    fail_with_request(state, env, c, request, client, failure).await
}

async fn fail_with_request(
    state: &AppState,
    env: &EnvironmentId,
    c: Option<&ConnectionConfig>,
    request: Option<SsoRequest>,
    client: &Client,
    failure: Failure,
) -> ApiResult<Response> {
    let tx = state.db.begin().await?;
    reject(tx, env, c, request, client, None, failure).await
}

/// Records `authentication.sso_failed` in `tx`, commits it, and answers with the error
/// redirect (or 400 without a request).
async fn reject(
    mut tx: Tx,
    env: &EnvironmentId,
    c: Option<&ConnectionConfig>,
    request: Option<SsoRequest>,
    client: &Client,
    email: Option<&str>,
    failure: Failure,
) -> ApiResult<Response> {
    tracing::info!(code = failure.code, message = %failure.message, "sso login failed");
    let attempt = Attempt {
        connection_id: c.map(|c| &c.connection.id),
        organization_id: c.and_then(|c| c.connection.organization_id.as_ref()),
        user_id: None,
        email,
        ip_address: client.ip_address.as_deref(),
        user_agent: client.user_agent.as_deref(),
    };
    sso::record_failed(&mut tx, env, &attempt, failure.code, &failure.message).await?;
    tx.commit().await?;
    Ok(match request {
        Some(r) => redirect(&with_query(
            &r.redirect_uri,
            &[
                ("error", Some(failure.code)),
                ("error_description", Some(&failure.message)),
                ("state", r.client_state.as_deref()),
            ],
        )),
        None => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": failure.code, "error_description": failure.message })),
        )
            .into_response(),
    })
}
