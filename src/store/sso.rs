//! SSO login state: in-flight requests (SAML AuthnRequest IDs, OIDC `state`), the SAML
//! assertion replay cache, WorkOS `Profile`s, and the one-time codes, access tokens and logout
//! tokens of the SSO API (spec tag `sso`; WORKOS-API-NOTES §5.2–§5.4), plus the
//! `authentication.sso_*` events.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sqlx::{AssertSqlSafe, FromRow, PgConnection};

use crate::crypto::{random_token, sha256_hex};
use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::{ConnectionId, EnvironmentId, OrganizationId, ProfileId, SsoRequestId, UserId};
use crate::store::events::{self, names};

pub use crate::protocols::profile::NewProfile;

/// A login started at `/sso/authorize`, waiting for the IdP's answer.
#[derive(Debug, Clone, FromRow)]
pub struct SsoRequest {
    /// `sso_req_…`: the AuthnRequest `ID` / OIDC `state`.
    pub id: SsoRequestId,
    /// The connection the login goes through.
    pub connection_id: ConnectionId,
    /// Where the application wants the code.
    pub redirect_uri: String,
    /// The application's `state`, returned untouched.
    pub client_state: Option<String>,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// OIDC/OAuth PKCE verifier (ours, towards the IdP).
    pub pkce_verifier: Option<String>,
    /// The application's PKCE challenge (towards `/sso/token`).
    pub code_challenge: Option<String>,
    /// `S256` or `plain`.
    pub code_challenge_method: Option<String>,
    /// Started by `GET /user_management/authorize`: the answer is a User Management
    /// authorization code for a linked user, not an SSO code.
    pub user_management: bool,
}

/// Input of [`insert_request`].
#[derive(Debug)]
pub struct NewSsoRequest<'a> {
    /// The id, made with `SsoRequestId::new()` (it goes into the IdP URL first).
    pub id: &'a SsoRequestId,
    /// The connection.
    pub connection_id: &'a ConnectionId,
    /// The application's redirect URI (already checked).
    pub redirect_uri: &'a str,
    /// The application's `state`.
    pub client_state: Option<&'a str>,
    /// OIDC nonce.
    pub nonce: Option<&'a str>,
    /// Our PKCE verifier towards the IdP.
    pub pkce_verifier: Option<&'a str>,
    /// The application's PKCE challenge.
    pub code_challenge: Option<&'a str>,
    /// Its method.
    pub code_challenge_method: Option<&'a str>,
    /// Started by `GET /user_management/authorize`.
    pub user_management: bool,
    /// How long the IdP may take.
    pub ttl: Duration,
}

const REQUEST_COLUMNS: &str = "id, connection_id, redirect_uri, client_state, nonce, pkce_verifier, \
                               code_challenge, code_challenge_method, user_management";

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Records a started login; returns it with its new id.
pub async fn insert_request(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    new: NewSsoRequest<'_>,
) -> ApiResult<SsoRequest> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "insert into sso_requests (id, environment_id, connection_id, redirect_uri, client_state, nonce,
           pkce_verifier, code_challenge, code_challenge_method, user_management, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11, now() + make_interval(secs => $10))
         returning {REQUEST_COLUMNS}"
    )))
    .bind(new.id)
    .bind(env)
    .bind(new.connection_id)
    .bind(new.redirect_uri)
    .bind(new.client_state)
    .bind(new.nonce)
    .bind(new.pkce_verifier)
    .bind(new.code_challenge)
    .bind(new.code_challenge_method)
    .bind(secs(new.ttl))
    .bind(new.user_management)
    .fetch_one(conn)
    .await?)
}

/// Looks up a pending login of `connection_id` without consuming it (to know where to send
/// errors); `None` when unknown, expired or already used.
pub async fn find_request(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    connection_id: &ConnectionId,
    id: &SsoRequestId,
) -> ApiResult<Option<SsoRequest>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "select {REQUEST_COLUMNS} from sso_requests where environment_id = $1 and connection_id = $2
           and id = $3 and consumed_at is null and expires_at > now()"
    )))
    .bind(env)
    .bind(connection_id)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Marks a pending login used; `None` when unknown, expired or already used (single use).
pub async fn consume_request(
    tx: &mut Tx,
    env: &EnvironmentId,
    connection_id: &ConnectionId,
    id: &SsoRequestId,
) -> ApiResult<Option<SsoRequest>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "update sso_requests set consumed_at = now() where environment_id = $1 and connection_id = $2
           and id = $3 and consumed_at is null and expires_at > now() returning {REQUEST_COLUMNS}"
    )))
    .bind(env)
    .bind(connection_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Remembers a SAML assertion id until `expires_at`; `false` when it was seen before (replay).
/// Expired ids of the environment are purged on the way.
pub async fn remember_assertion(
    tx: &mut Tx,
    env: &EnvironmentId,
    connection_id: &ConnectionId,
    assertion_id: &str,
    expires_at: DateTime<Utc>,
) -> ApiResult<bool> {
    sqlx::query("delete from saml_assertion_ids where environment_id = $1 and expires_at < now()")
        .bind(env)
        .execute(&mut **tx)
        .await?;
    let done = sqlx::query(
        "insert into saml_assertion_ids (environment_id, connection_id, assertion_id, expires_at)
         values ($1, $2, $3, $4) on conflict do nothing",
    )
    .bind(env)
    .bind(connection_id)
    .bind(assertion_id)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// `{slug}` of a profile's role.
#[derive(Debug, Clone, Serialize)]
pub struct SlimRole {
    /// Role slug.
    pub slug: String,
}

/// The WorkOS Profile (spec schema `Profile`).
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// Always `"profile"`.
    pub object: &'static str,
    /// `prof_…`, stable per connection and IdP user.
    pub id: ProfileId,
    /// The connection's organization.
    pub organization_id: Option<OrganizationId>,
    /// The connection.
    pub connection_id: ConnectionId,
    /// The connection's type.
    pub connection_type: String,
    /// The user's id at the IdP (NameID / `sub`).
    pub idp_id: String,
    /// Email address.
    pub email: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Full name.
    pub name: Option<String>,
    /// Role from the IdP's role attribute, when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<SlimRole>,
    /// Group names.
    pub groups: Vec<String>,
    /// No custom attribute mappings are configured: always `{}`.
    pub custom_attributes: Map<String, Value>,
    /// Every attribute the IdP sent.
    pub raw_attributes: Map<String, Value>,
}

#[derive(Debug, FromRow)]
struct ProfileRow {
    id: ProfileId,
    organization_id: Option<OrganizationId>,
    connection_id: ConnectionId,
    connection_type: String,
    idp_id: String,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    name: Option<String>,
    role_slug: Option<String>,
    groups: Value,
    raw_attributes: Value,
}

const PROFILE_COLUMNS: &str = "id, organization_id, connection_id, connection_type, idp_id, email, \
                               first_name, last_name, name, role_slug, groups, raw_attributes";

impl From<ProfileRow> for Profile {
    fn from(r: ProfileRow) -> Self {
        Self {
            object: "profile",
            id: r.id,
            organization_id: r.organization_id,
            connection_id: r.connection_id,
            connection_type: r.connection_type,
            idp_id: r.idp_id,
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            name: r.name,
            role: r.role_slug.map(|slug| SlimRole { slug }),
            groups: serde_json::from_value(r.groups).unwrap_or_default(),
            custom_attributes: Map::new(),
            raw_attributes: match r.raw_attributes {
                Value::Object(m) => m,
                _ => Map::new(),
            },
        }
    }
}

/// Creates or refreshes the profile of (connection, IdP user).
pub async fn upsert_profile(
    tx: &mut Tx,
    env: &EnvironmentId,
    connection_id: &ConnectionId,
    connection_type: &str,
    organization_id: Option<&OrganizationId>,
    p: &NewProfile,
) -> ApiResult<Profile> {
    let row: ProfileRow = sqlx::query_as(AssertSqlSafe(format!(
        "insert into sso_profiles (id, environment_id, connection_id, organization_id, connection_type, idp_id,
           email, first_name, last_name, name, role_slug, groups, raw_attributes)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         on conflict (environment_id, connection_id, idp_id) do update set organization_id = excluded.organization_id,
           connection_type = excluded.connection_type, email = excluded.email, first_name = excluded.first_name,
           last_name = excluded.last_name, name = excluded.name, role_slug = excluded.role_slug,
           groups = excluded.groups, raw_attributes = excluded.raw_attributes
         returning {PROFILE_COLUMNS}"
    )))
    .bind(ProfileId::new())
    .bind(env)
    .bind(connection_id)
    .bind(organization_id)
    .bind(connection_type)
    .bind(&p.idp_id)
    .bind(&p.email)
    .bind(&p.first_name)
    .bind(&p.last_name)
    .bind(&p.name)
    .bind(&p.role)
    .bind(json!(p.groups))
    .bind(Value::Object(p.raw_attributes.clone()))
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.into())
}

/// One profile by id.
pub async fn find_profile(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &ProfileId,
) -> ApiResult<Option<Profile>> {
    let row: Option<ProfileRow> = sqlx::query_as(AssertSqlSafe(format!(
        "select {PROFILE_COLUMNS} from sso_profiles where environment_id = $1 and id = $2"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Into::into))
}

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Authorization code (single use).
    Code,
    /// SSO access token for `GET /sso/profile`.
    Access,
    /// Logout token for `GET /sso/logout`.
    Logout,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Access => "access",
            Self::Logout => "logout",
        }
    }
}

/// A redeemed token: whose profile, and the PKCE challenge a code was bound to.
#[derive(Debug, Clone, FromRow)]
pub struct Redeemed {
    /// The environment.
    pub environment_id: EnvironmentId,
    /// The profile.
    pub profile_id: ProfileId,
    /// PKCE challenge (codes only).
    pub code_challenge: Option<String>,
    /// PKCE method (codes only).
    pub code_challenge_method: Option<String>,
    /// Provider tokens to hand back with the code (OAuth).
    pub oauth_tokens: Option<Value>,
}

/// Issues a random token of `kind` for a profile; returns its value (stored only as a digest).
#[expect(clippy::too_many_arguments, reason = "one column per argument")]
pub async fn issue_token(
    tx: &mut Tx,
    env: &EnvironmentId,
    kind: TokenKind,
    profile_id: &ProfileId,
    ttl: Duration,
    code_challenge: Option<&str>,
    code_challenge_method: Option<&str>,
    oauth_tokens: Option<&Value>,
) -> ApiResult<String> {
    let value = random_token(32);
    sqlx::query(
        "insert into sso_tokens (token_hash, environment_id, kind, profile_id, code_challenge, code_challenge_method,
           oauth_tokens, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))",
    )
    .bind(sha256_hex(&value))
    .bind(env)
    .bind(kind.as_str())
    .bind(profile_id)
    .bind(code_challenge)
    .bind(code_challenge_method)
    .bind(oauth_tokens)
    .bind(secs(ttl))
    .execute(&mut **tx)
    .await?;
    Ok(value)
}

/// Uses a code of `env` once: `None` when unknown, expired or already used.
pub async fn redeem_code(
    tx: &mut Tx,
    env: &EnvironmentId,
    code: &str,
) -> ApiResult<Option<Redeemed>> {
    Ok(sqlx::query_as(
        "update sso_tokens set used_at = now() where token_hash = $1 and environment_id = $2 and kind = 'code'
           and used_at is null and expires_at > now()
         returning environment_id, profile_id, code_challenge, code_challenge_method, oauth_tokens",
    )
    .bind(sha256_hex(code))
    .bind(env)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Resolves a live access or logout token (the token itself names its environment).
pub async fn find_token(
    conn: &mut PgConnection,
    kind: TokenKind,
    value: &str,
) -> ApiResult<Option<Redeemed>> {
    Ok(sqlx::query_as(
        "select environment_id, profile_id, code_challenge, code_challenge_method, oauth_tokens from sso_tokens
         where token_hash = $1 and kind = $2 and used_at is null and expires_at > now()",
    )
    .bind(sha256_hex(value))
    .bind(kind.as_str())
    .fetch_optional(conn)
    .await?)
}

/// The `sso` block and identity of an `authentication.sso_*` event.
#[derive(Debug, Default)]
pub struct Attempt<'a> {
    /// The connection, when known.
    pub connection_id: Option<&'a ConnectionId>,
    /// Its organization.
    pub organization_id: Option<&'a OrganizationId>,
    /// The Keystead user, when the login signs one in (User Management).
    pub user_id: Option<&'a UserId>,
    /// The user's email, when known.
    pub email: Option<&'a str>,
    /// The browser's IP address (see `KEYSTEAD_TRUSTED_PROXIES`).
    pub ip_address: Option<&'a str>,
    /// The browser's user agent.
    pub user_agent: Option<&'a str>,
}

/// An `authentication.sso_*` payload (spec `AuthAttempt` with `type: "sso"`).
fn attempt_data(a: &Attempt<'_>, status: &str) -> Value {
    json!({
        "type": "sso",
        "status": status,
        "user_id": a.user_id,
        "email": a.email,
        "ip_address": a.ip_address,
        "user_agent": a.user_agent,
        "sso": { "organization_id": a.organization_id, "connection_id": a.connection_id, "session_id": null },
    })
}

/// Records `authentication.sso_started` (a login was sent to the IdP).
pub async fn record_started(tx: &mut Tx, env: &EnvironmentId, a: &Attempt<'_>) -> ApiResult<()> {
    let data = attempt_data(a, "started");
    events::record(
        tx,
        env,
        names::AUTHENTICATION_SSO_STARTED,
        &data,
        a.organization_id,
    )
    .await
}

/// Records `authentication.sso_succeeded`.
pub async fn record_succeeded(tx: &mut Tx, env: &EnvironmentId, a: &Attempt<'_>) -> ApiResult<()> {
    let data = attempt_data(a, "succeeded");
    events::record(
        tx,
        env,
        names::AUTHENTICATION_SSO_SUCCEEDED,
        &data,
        a.organization_id,
    )
    .await
}

/// Records `authentication.sso_failed` with an error code and message.
pub async fn record_failed(
    tx: &mut Tx,
    env: &EnvironmentId,
    a: &Attempt<'_>,
    code: &str,
    message: &str,
) -> ApiResult<()> {
    let mut data = attempt_data(a, "failed");
    data["error"] = json!({ "code": code, "message": message });
    events::record(
        tx,
        env,
        names::AUTHENTICATION_SSO_FAILED,
        &data,
        a.organization_id,
    )
    .await
}
