//! Hosted-login flows (`authkit_flows`): one row per `GET /user_management/authorize` a browser
//! started, found again through the random value in its encrypted flow cookie (stored here as a
//! SHA-256 digest). The row holds the validated authorization request and the progress through
//! the pages (first factor, MFA, organization choice) until an authorization code is issued.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};

use crate::crypto::{random_token, sha256_hex};
use crate::db::Tx;
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::ids::{AuthKitFlowId, EnvironmentId, OrganizationId, UserId};

/// A flow in progress.
#[derive(Debug, Clone, FromRow)]
pub struct Flow {
    /// `authkit_flow_…`
    pub id: AuthKitFlowId,
    /// The environment of the `client_id` the flow started with.
    pub environment_id: EnvironmentId,
    /// Its display name (the product name on the pages).
    pub environment_name: String,
    /// Its client id (carried by links that leave the flow, e.g. password-reset emails).
    pub client_id: String,
    /// Where the authorization code goes (already checked against the environment's list);
    /// empty for a device verification flow.
    pub redirect_uri: String,
    /// The client's opaque `state`, returned with the code.
    pub state: Option<String>,
    /// PKCE S256 challenge, when the client sent one.
    pub code_challenge: Option<String>,
    /// The organization the client asked to sign in to.
    pub organization_id: Option<OrganizationId>,
    /// The email to prefill.
    pub login_hint: Option<String>,
    /// The user, once a first factor succeeded.
    pub user_id: Option<UserId>,
    /// Session vocabulary of that first factor (`password`, `magic_code`).
    pub auth_method: Option<String>,
    /// The address a magic code was sent to.
    pub pending_email: Option<EmailAddress>,
    /// Whether the TOTP step was passed.
    pub mfa_passed: bool,
    /// The organization chosen on the selection page.
    pub selected_organization_id: Option<OrganizationId>,
    /// Failed code and TOTP attempts so far.
    pub failed_attempts: i32,
    /// When the flow (and its cookie) stops working.
    pub expires_at: DateTime<Utc>,
    /// The device authorization's user code (`XXXX-XXXX`) when the flow was started on the
    /// device verification page: it ends on the "Allow device?" page instead of a redirect.
    pub device_user_code: Option<String>,
    /// Radar challenged the first factor: the email-code step must be passed
    /// ([`set_radar_challenge`]).
    pub radar_challenge: bool,
}

/// Columns of [`Flow`] over `authkit_flows f join environments e`.
const COLUMNS: &str = "f.id, f.environment_id, e.name as environment_name, e.client_id, f.redirect_uri, f.state, \
     f.code_challenge, f.organization_id, f.login_hint, f.user_id, f.auth_method, f.pending_email, \
     f.mfa_passed, f.selected_organization_id, f.failed_attempts, f.expires_at, f.device_user_code, \
     f.radar_challenge";

/// The authorization request a flow starts with.
#[derive(Debug, Clone, Default)]
pub struct NewFlow {
    /// Validated redirect URI.
    pub redirect_uri: String,
    /// Client `state`.
    pub state: Option<String>,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// Requested organization (checked to exist).
    pub organization_id: Option<OrganizationId>,
    /// Email to prefill.
    pub login_hint: Option<String>,
    /// The user code of the device authorization this flow approves or denies.
    pub device_user_code: Option<String>,
}

/// Starts a flow valid for `ttl`; returns it with the cookie value (shown once). Expired flows
/// of the environment are deleted on the way.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    new: NewFlow,
    ttl: std::time::Duration,
) -> ApiResult<(Flow, String)> {
    sqlx::query("delete from authkit_flows where environment_id = $1 and expires_at < now()")
        .bind(env)
        .execute(&mut **tx)
        .await?;
    let token = random_token(32);
    let ttl = chrono::Duration::from_std(ttl).map_err(anyhow::Error::from)?;
    let flow: Flow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with f as (
           insert into authkit_flows (id, environment_id, token_hash, redirect_uri, state, code_challenge,
             organization_id, login_hint, expires_at, device_user_code)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning *)
         select {COLUMNS} from f join environments e on e.id = f.environment_id"
    )))
    .bind(AuthKitFlowId::new())
    .bind(env)
    .bind(sha256_hex(&token))
    .bind(&new.redirect_uri)
    .bind(&new.state)
    .bind(&new.code_challenge)
    .bind(&new.organization_id)
    .bind(&new.login_hint)
    .bind(Utc::now() + ttl)
    .bind(&new.device_user_code)
    .fetch_one(&mut **tx)
    .await?;
    Ok((flow, token))
}

/// The unexpired flow whose cookie value is `token`. The cookie is the credential that names
/// the environment, so this lookup (like an API key's) is not scoped by one.
pub async fn find_by_token(conn: &mut PgConnection, token: &str) -> ApiResult<Option<Flow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from authkit_flows f join environments e on e.id = f.environment_id
         where f.token_hash = $1 and f.expires_at > now()"
    )))
    .bind(sha256_hex(token))
    .fetch_optional(conn)
    .await?)
}

/// The flow by id, re-read after a change (expired flows read as absent).
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &AuthKitFlowId,
) -> ApiResult<Option<Flow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from authkit_flows f join environments e on e.id = f.environment_id
         where f.environment_id = $1 and f.id = $2 and f.expires_at > now()"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

async fn update(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &AuthKitFlowId,
    set: &str,
    value: Option<&str>,
) -> ApiResult<()> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "update authkit_flows set {set} where environment_id = $1 and id = $2"
    )))
    .bind(env)
    .bind(id)
    .bind(value)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("Flow", id.as_str()));
    }
    Ok(())
}

/// Records a successful first factor; later steps start over (MFA, organization choice). The
/// failed-attempt count is kept, so signing in again does not buy more code guesses.
pub async fn set_user(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &AuthKitFlowId,
    user_id: &UserId,
    auth_method: &str,
) -> ApiResult<()> {
    let done = sqlx::query(
        "update authkit_flows set user_id = $3, auth_method = $4, mfa_passed = false,
           selected_organization_id = null, radar_challenge = false
         where environment_id = $1 and id = $2",
    )
    .bind(env)
    .bind(id)
    .bind(user_id)
    .bind(auth_method)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("Flow", id.as_str()));
    }
    Ok(())
}

/// Sets or clears the flow's Radar challenge (the email-code step after a challenged first
/// factor).
pub async fn set_radar_challenge(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &AuthKitFlowId,
    on: bool,
) -> ApiResult<()> {
    sqlx::query(
        "update authkit_flows set radar_challenge = $3 where environment_id = $1 and id = $2",
    )
    .bind(env)
    .bind(id)
    .bind(on)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Remembers the address a magic code was sent to.
pub async fn set_pending_email(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &AuthKitFlowId,
    email: &EmailAddress,
) -> ApiResult<()> {
    update(tx, env, id, "pending_email = $3", Some(email.as_str())).await
}

/// Marks the TOTP step passed.
pub async fn pass_mfa(tx: &mut Tx, env: &EnvironmentId, id: &AuthKitFlowId) -> ApiResult<()> {
    update(
        tx,
        env,
        id,
        "mfa_passed = true, failed_attempts = 0, pending_email = coalesce($3, pending_email)",
        None,
    )
    .await
}

/// Records the organization chosen on the selection page.
pub async fn select_organization(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &AuthKitFlowId,
    org: &OrganizationId,
) -> ApiResult<()> {
    update(tx, env, id, "selected_organization_id = $3", Some(org)).await
}

/// Counts one failed attempt; returns the new count.
pub async fn record_failure(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &AuthKitFlowId,
) -> ApiResult<i32> {
    Ok(sqlx::query_scalar(
        "update authkit_flows set failed_attempts = failed_attempts + 1
         where environment_id = $1 and id = $2 returning failed_attempts",
    )
    .bind(env)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .unwrap_or(i32::MAX))
}

/// Ends a flow (completed, or abandoned after too many failures).
pub async fn delete(tx: &mut Tx, env: &EnvironmentId, id: &AuthKitFlowId) -> ApiResult<()> {
    sqlx::query("delete from authkit_flows where environment_id = $1 and id = $2")
        .bind(env)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
