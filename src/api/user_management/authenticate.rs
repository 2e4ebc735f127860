//! `POST /user_management/authenticate` (operation `UserlandSessionsController_authenticate`):
//! the `password`, `refresh_token` and `authorization_code` (in [`super::authorization_code`])
//! grants here; Magic Auth, email verification, MFA TOTP, organization selection and device code
//! in [`super::grants`]. The client authenticates with `client_id` and `client_secret` (an API
//! key of that environment) in the body, as the SDKs send them (the device code grant takes no
//! secret, RFC 8628; an `authorization_code` exchange with a PKCE `code_verifier` may omit it);
//! JSON and form bodies are accepted (WORKOS-API-NOTES §4, §8 item 2). A correct password
//! continues through [`super::sign_in::complete`] (email verification, MFA, organization
//! selection).
//!
//! Password sign-ins are limited per email (failures count) and per end-user `ip_address`
//! (`KEYSTEAD_RATE_LIMITS` classes `authenticate_email`, `authenticate_ip`).
//!
//! Errors: 400 `{error: invalid_client}` for a wrong client, 400 `{error:
//! unsupported_grant_type}`, 400 `{code: invalid_credentials}` for a wrong email or password
//! (same path and cost for both), 400 `{error: invalid_grant}` for a bad refresh token, 422 for
//! missing fields.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::authorization_code::authorization_code_grant;
use crate::crypto::access_token::AccessClaims;
use crate::error::{ApiError, ApiResult};
use crate::http::AppJson;
use crate::http::extract::from_value;
use crate::http::rate_limit::Class;
use crate::ids::{EnvironmentId, OrganizationId, UserId};
use crate::password;
use crate::state::AppState;
use crate::store::events::{self, names};
use crate::store::sessions::{self, Rotation, Session};
use crate::store::users::{self, User};
use crate::store::{environment_keys, environments, jwt_templates, organization_memberships};

use super::sign_in::{self, SignIn, Step};
use super::{grants, invitations, jwt_template};

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
}

/// `grant_type=refresh_token`.
#[derive(Debug, Deserialize)]
struct RefreshGrant {
    refresh_token: String,
    #[serde(default)]
    organization_id: Option<String>,
}

/// `UserlandAuthenticateResponse`.
#[derive(Debug, Serialize)]
pub struct AuthenticateResponse {
    /// The signed-in user.
    pub user: User,
    /// The organization the session is scoped to, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// RS256 JWT.
    pub access_token: String,
    /// Opaque refresh token (single use; rotated).
    pub refresh_token: String,
    /// `Password`, `MagicAuth`, `SSO`, … (authentication-method vocabulary).
    pub authentication_method: &'static str,
}

/// Maps the session `auth_method` vocabulary to `authentication_method`.
pub fn authentication_method(auth_method: &str) -> &'static str {
    match auth_method {
        "password" => "Password",
        "magic_code" => "MagicAuth",
        "sso" => "SSO",
        "passkey" => "Passkey",
        "impersonation" => "Impersonation",
        "migrated_session" => "MigratedSession",
        "cross_app_auth" => "CrossAppAuth",
        "external_auth" => "ExternalAuth",
        _ => "Password",
    }
}

async fn authenticate(
    State(state): State<AppState>,
    AppJson(body): AppJson<Value>,
) -> ApiResult<Json<AuthenticateResponse>> {
    let creds: ClientCredentials = from_value(body.clone())?;
    let env = environments::find_by_client_id(&mut *state.db.acquire().await?, &creds.client_id)
        .await?
        .ok_or_else(|| ApiError::oauth("invalid_client", "Invalid client ID."))?;
    if creds.grant_type == grants::DEVICE_CODE {
        let issuer = format!(
            "{}/user_management/{}",
            state.settings.public_url, env.client_id
        );
        return grants::device_code(&state, &env.id, issuer, body)
            .await
            .map(Json);
    }
    // A public client (no secret) may only exchange an authorization code with a PKCE verifier.
    let public_pkce = creds.grant_type == "authorization_code"
        && creds.client_secret.is_none()
        && body.get("code_verifier").is_some_and(Value::is_string);
    if !public_pkce {
        let secret = creds.client_secret.as_deref().unwrap_or_default();
        let caller = environment_keys::authenticate(&state.db, secret).await?;
        if caller.is_none_or(|c| c.environment_id != env.id) {
            return Err(ApiError::oauth("invalid_client", "Invalid client secret."));
        }
    }
    let issuer = format!(
        "{}/user_management/{}",
        state.settings.public_url, env.client_id
    );
    match creds.grant_type.as_str() {
        "password" => password_grant(&state, &env.id, issuer, from_value(body)?).await,
        "refresh_token" => refresh_grant(&state, &env.id, issuer, from_value(body)?).await,
        "authorization_code" => {
            authorization_code_grant(&state, &env.id, issuer, from_value(body)?).await
        }
        other => grants::dispatch(&state, &env.id, issuer, other, body).await,
    }
    .map(Json)
}

/// Signs an access token for `session` and builds the response. Scoped sessions carry `role`
/// and `roles`; the environment's JWT template adds its claims ([`jwt_template::render`]).
pub async fn respond(
    state: &AppState,
    env: &EnvironmentId,
    issuer: String,
    user: User,
    session: &Session,
    refresh_token: String,
) -> ApiResult<AuthenticateResponse> {
    let mut conn = state.db.acquire().await?;
    let organization = session
        .organization_id
        .as_deref()
        .map(str::parse::<OrganizationId>);
    let roles = match organization {
        Some(Ok(org)) => {
            organization_memberships::active_roles(&mut conn, env, &user.id, &org).await?
        }
        _ => None,
    };
    let claims = AccessClaims::new(
        issuer,
        &user.id,
        &session.id,
        session.organization_id.clone(),
        roles.as_ref().and_then(|r| r.first().cloned()),
        state.settings.access_token_ttl,
    );
    let mut token_claims = serde_json::to_value(&claims).map_err(anyhow::Error::from)?;
    if let Some(map) = token_claims.as_object_mut() {
        if let Some(roles) = &roles {
            map.insert("roles".into(), json!(roles));
        }
        if let Some(template) = jwt_templates::find(&mut conn, env).await? {
            let ctx = jwt_template::context(
                &mut conn,
                env,
                &user,
                session.organization_id.as_deref(),
                roles.as_deref(),
            )
            .await?;
            match jwt_template::render(&template.content, &ctx) {
                Ok(extra) => {
                    for (k, v) in extra {
                        map.entry(k).or_insert(v);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "JWT template skipped"),
            }
        }
    }
    drop(conn);
    let keys = state.signing_keys(env).await?;
    let key = keys
        .first()
        .ok_or_else(|| anyhow::anyhow!("no signing key"))?;
    Ok(AuthenticateResponse {
        user,
        organization_id: session.organization_id.clone(),
        access_token: key.sign(&token_claims)?,
        refresh_token,
        authentication_method: authentication_method(&session.auth_method),
    })
}

async fn password_grant(
    state: &AppState,
    env: &EnvironmentId,
    issuer: String,
    grant: PasswordGrant,
) -> ApiResult<AuthenticateResponse> {
    let email = grant.email.trim().to_lowercase();
    // Counted before the password is checked, so failures count too (throttles guessing).
    let by_email = state
        .limiter
        .check(Class::AuthenticateEmail, &format!("{env}:{email}"))
        .await;
    if !by_email.allowed {
        return Err(by_email.error());
    }
    if let Some(ip) = grant.ip_address.as_deref() {
        let by_ip = state
            .limiter
            .check(Class::AuthenticateIp, &format!("{env}:{ip}"))
            .await;
        if !by_ip.allowed {
            return Err(by_ip.error());
        }
    }
    let client = (grant.ip_address.as_deref(), grant.user_agent.as_deref());
    let Some(PasswordChecked { user_id, rehash }) =
        check_password(state, env, &email, grant.password, client).await?
    else {
        return Err(ApiError::bad_request(
            "invalid_credentials",
            "Invalid credentials.",
        ));
    };
    let mut tx = state.db.begin().await?;
    if let Some(hash) = rehash {
        users::set_password_hash(&mut tx, env, &user_id, &hash).await?;
    }
    let user = users::find(&mut tx, env, &user_id)
        .await?
        .ok_or_else(|| ApiError::bad_request("invalid_credentials", "Invalid credentials."))?;
    let organization_id = match grant.invitation_token.as_deref() {
        Some(token) => invitations::accept_for_sign_in(state, &mut tx, env, token, &user).await?,
        None => None,
    };
    let step = sign_in::complete(
        state,
        &mut tx,
        env,
        SignIn {
            user,
            auth_method: "password".into(),
            ip_address: grant.ip_address.clone(),
            user_agent: grant.user_agent.clone(),
            mfa_verified: false,
            organization_id,
        },
    )
    .await?;
    let data = sign_in::attempt(
        "password",
        Some(user_id.as_str()),
        Some(&email),
        client.0,
        client.1,
        None,
    );
    events::record(
        &mut tx,
        env,
        names::AUTHENTICATION_PASSWORD_SUCCEEDED,
        &data,
        None,
    )
    .await?;
    tx.commit().await?;
    finish(state, env, issuer, step).await
}

/// A correct password: its user, and the argon2id re-hash to store when the stored hash is an
/// imported one.
#[derive(Debug)]
pub struct PasswordChecked {
    /// The user.
    pub user_id: UserId,
    /// The new hash to store in the sign-in's transaction, if any.
    pub rehash: Option<String>,
}

/// The credential check of the `password` grant, shared with the hosted sign-in page: `email`
/// (normalised) and `password` against the stored hash. An unknown email or a user without a
/// password is verified against a dummy hash (same cost, same answer). A failure records
/// `authentication.password_failed` (with the end user's `(ip_address, user_agent)`) in its own
/// transaction and returns `None`; the caller records `authentication.password_succeeded`.
pub async fn check_password(
    state: &AppState,
    env: &EnvironmentId,
    email: &str,
    password: String,
    (ip, ua): (Option<&str>, Option<&str>),
) -> ApiResult<Option<PasswordChecked>> {
    let found = users::credentials_by_email(&mut *state.db.acquire().await?, env, email).await?;
    let (user_id, stored) = match found {
        Some((id, hash)) => (Some(id), hash),
        None => (None, None),
    };
    let valid = state
        .passwords
        .verify(password.clone(), stored.clone())
        .await?
        && user_id.is_some();
    let (Some(user_id), true) = (user_id.clone(), valid) else {
        let error = Some(("invalid_credentials", "Invalid credentials."));
        let data = sign_in::attempt("password", user_id.as_deref(), Some(email), ip, ua, error);
        let mut tx = state.db.begin().await?;
        let name = names::AUTHENTICATION_PASSWORD_FAILED;
        events::record(&mut tx, env, name, &data, None).await?;
        tx.commit().await?;
        return Ok(None);
    };
    // Imported hashes are upgraded to argon2id on the first successful sign-in.
    let rehash = match stored.as_deref() {
        Some(s) if password::needs_rehash(s) => Some(state.passwords.hash(password).await?),
        _ => None,
    };
    Ok(Some(PasswordChecked { user_id, rehash }))
}

/// Answers a [`Step`] once its transaction is committed: the tokens, or the pending 403.
pub async fn finish(
    state: &AppState,
    env: &EnvironmentId,
    issuer: String,
    step: Step,
) -> ApiResult<AuthenticateResponse> {
    match step {
        Step::SignedIn {
            user,
            session,
            refresh_token,
        } => respond(state, env, issuer, *user, &session, refresh_token).await,
        Step::Pending(e) => Err(e),
    }
}

async fn refresh_grant(
    state: &AppState,
    env: &EnvironmentId,
    issuer: String,
    grant: RefreshGrant,
) -> ApiResult<AuthenticateResponse> {
    let mut tx = state.db.begin().await?;
    let (mut session, refresh_token) = match sessions::rotate(
        &mut tx,
        env,
        &grant.refresh_token,
        state.settings.refresh_reuse_grace,
    )
    .await?
    {
        Rotation::Rotated(session, token) => (*session, token),
        Rotation::Invalid => {
            return Err(ApiError::oauth(
                "invalid_grant",
                "Refresh token is invalid or its session has ended.",
            ));
        }
        Rotation::ReuseDetected => {
            // Commit the revocation before answering: the replayed token has burned the session.
            tx.commit().await?;
            return Err(ApiError::oauth(
                "invalid_grant",
                "Refresh token was already used; the session has been revoked.",
            ));
        }
    };
    if let Some(org) = grant
        .organization_id
        .as_deref()
        .filter(|o| session.organization_id.as_deref() != Some(*o))
    {
        let member: bool = sqlx::query_scalar(
            "select exists(select 1 from organization_memberships where environment_id = $1 and user_id = $2
               and organization_id = $3 and status = 'active')",
        )
        .bind(env)
        .bind(&session.user_id)
        .bind(org)
        .fetch_one(&mut *tx)
        .await?;
        if !member {
            return Err(ApiError::oauth(
                "organization_membership_not_found",
                format!("The user is not a member of organization '{org}'."),
            ));
        }
        session = sessions::set_organization(&mut tx, env, &session.id, org).await?;
    }
    let user = users::find_by_raw_id(&mut tx, env, &session.user_id)
        .await?
        .ok_or_else(|| ApiError::oauth("invalid_grant", "The session's user no longer exists."))?;
    tx.commit().await?;
    respond(state, env, issuer, user, &session, refresh_token).await
}
