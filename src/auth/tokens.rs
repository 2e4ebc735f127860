//! Token issuance: the access token (an RS256 JWT signed with the environment's newest key,
//! claims from the [`super::claims`] contributors) and the refresh token of a session, as the
//! `UserlandAuthenticateResponse` of `POST /user_management/authenticate`; refresh-token
//! rotation with reuse detection (`grant_type=refresh_token`).
//!
//! Errors of [`refresh`]: 400 `{error: invalid_grant}` for an unknown, ended or replayed
//! refresh token (a replay revokes the session), 400 `{error: organization_membership_not_found}`,
//! 400 `{error: invalid_client}` for a token presented without a secret that is not of a session
//! the presenting public client started.

use serde::Serialize;

use super::claims::{self, ClaimsContext};
use super::sign_in::Step;
use crate::error::{ApiError, ApiResult};
use crate::ids::{EnvironmentId, OrganizationId};
use crate::state::AppState;
use crate::store::sessions::{self, Presenter, Rotation, Session};
use crate::store::users::{self, User};
use crate::store::{environment_settings, organization_memberships};

/// `UserlandAuthenticateResponse`.
#[derive(Debug, Serialize)]
pub struct AuthenticateResponse {
    /// The signed-in user.
    pub user: User,
    /// The organization the session is scoped to, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<OrganizationId>,
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

/// Signs an access token for `session` (claims from the registered contributors: scoped
/// sessions carry `role` and `roles`, the environment's JWT template adds its claims) and
/// builds the response.
pub async fn issue(
    state: &AppState,
    env: &EnvironmentId,
    issuer: String,
    user: User,
    session: &Session,
    refresh_token: String,
) -> ApiResult<AuthenticateResponse> {
    let mut conn = state.db.acquire().await?;
    let roles = match &session.organization_id {
        Some(org) => organization_memberships::active_roles(&mut conn, env, &user.id, org).await?,
        None => None,
    };
    let ctx = ClaimsContext {
        issuer: &issuer,
        environment_id: env,
        user: &user,
        session,
        roles: roles.as_deref(),
        ttl: environment_settings::get(&mut conn, env, &state.settings)
            .await?
            .access_token_ttl(),
    };
    let contributors = state.auth.claims_contributors();
    let token_claims = claims::build(&contributors, &ctx, &mut conn).await?;
    drop(conn);
    let keys = state.signing_keys(env).await?;
    let key = keys
        .first()
        .ok_or_else(|| anyhow::anyhow!("no signing key"))?;
    Ok(AuthenticateResponse {
        access_token: key.sign(&token_claims)?,
        organization_id: session.organization_id.clone(),
        user,
        refresh_token,
        authentication_method: authentication_method(&session.auth_method),
    })
}

/// Answers a [`Step`] once its transaction is committed: the tokens, or the pending 403.
pub async fn answer(
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
        } => issue(state, env, issuer, *user, &session, refresh_token).await,
        Step::Pending(e) => Err(e),
    }
}

/// A rotated refresh token: the session (possibly re-scoped), its user and the new token.
#[derive(Debug)]
pub struct Refreshed {
    /// The user.
    pub user: User,
    /// The session.
    pub session: Session,
    /// The new refresh token.
    pub refresh_token: String,
}

/// Rotates `refresh_token` (a replay past the grace period revokes the session) and, with
/// `organization_id`, re-scopes the session to an organization the user is an active member of.
/// A [`Presenter::Public`] client (no secret) may only present tokens of sessions it started.
pub async fn refresh(
    state: &AppState,
    env: &EnvironmentId,
    refresh_token: &str,
    organization_id: Option<&str>,
    presenter: Presenter<'_>,
) -> ApiResult<Refreshed> {
    let mut tx = state.db.begin().await?;
    let grace = state.settings.refresh_reuse_grace;
    let (mut session, refresh_token) =
        match sessions::rotate(&mut tx, env, refresh_token, grace, presenter).await? {
            Rotation::Rotated(session, token) => (*session, token),
            Rotation::ClientUnauthenticated => {
                return Err(ApiError::oauth("invalid_client", "Invalid client secret."));
            }
            Rotation::Invalid => {
                return Err(ApiError::oauth(
                    "invalid_grant",
                    "Refresh token is invalid or its session has ended.",
                ));
            }
            Rotation::ReuseDetected => {
                // Commit the revocation before answering: the replayed token has burned the
                // session.
                tx.commit().await?;
                return Err(ApiError::oauth(
                    "invalid_grant",
                    "Refresh token was already used; the session has been revoked.",
                ));
            }
        };
    if let Some(raw) = organization_id.filter(|o| session.organization_id.as_deref() != Some(*o)) {
        let member = match OrganizationId::parse_lenient(raw) {
            Some(org) => {
                organization_memberships::active_roles(&mut tx, env, &session.user_id, &org)
                    .await?
                    .is_some()
                    .then_some(org)
            }
            None => None,
        };
        let Some(org) = member else {
            return Err(ApiError::oauth(
                "organization_membership_not_found",
                format!("The user is not a member of organization '{raw}'."),
            ));
        };
        session = sessions::set_organization(&mut tx, env, &session.id, &org).await?;
    }
    let user = users::find(&mut tx, env, &session.user_id)
        .await?
        .ok_or_else(|| ApiError::oauth("invalid_grant", "The session's user no longer exists."))?;
    tx.commit().await?;
    Ok(Refreshed {
        user,
        session,
        refresh_token,
    })
}
