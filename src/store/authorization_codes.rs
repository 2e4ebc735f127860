//! Authorization codes issued by the hosted login pages (`redirect_uri?code=…`) and redeemed by
//! `grant_type=authorization_code` on `POST /user_management/authenticate`: single use, 10
//! minutes, stored as SHA-256 digests, optionally bound to a PKCE S256 challenge.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use crate::crypto::{random_token, sha256_hex};
use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::{AuthorizationCodeId, EnvironmentId, OrganizationId, SessionId, UserId};

/// Input of [`insert`].
#[derive(Debug, Clone)]
pub struct NewCode<'a> {
    /// The signed-in user.
    pub user_id: &'a UserId,
    /// The organization the session will be scoped to.
    pub organization_id: Option<&'a OrganizationId>,
    /// Session vocabulary (`password`, `magic_code`).
    pub auth_method: &'a str,
    /// The redirect URI the code is sent to.
    pub redirect_uri: &'a str,
    /// PKCE challenge the exchange must satisfy.
    pub code_challenge: Option<&'a str>,
    /// The browser's IP address.
    pub ip_address: Option<&'a str>,
    /// The browser's user agent.
    pub user_agent: Option<&'a str>,
    /// Lifetime.
    pub ttl: std::time::Duration,
}

/// Issues a code; returns its value (shown once, in the redirect). Expired codes of the
/// environment are deleted on the way.
pub async fn insert(tx: &mut Tx, env: &EnvironmentId, new: NewCode<'_>) -> ApiResult<String> {
    sqlx::query(
        "delete from authorization_codes where environment_id = $1
           and expires_at < now() - interval '1 day'",
    )
    .bind(env)
    .execute(&mut **tx)
    .await?;
    let code = random_token(32);
    let ttl = chrono::Duration::from_std(new.ttl).map_err(anyhow::Error::from)?;
    sqlx::query(
        "insert into authorization_codes (id, environment_id, code_hash, user_id, organization_id,
           auth_method, redirect_uri, code_challenge, ip_address, user_agent, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(AuthorizationCodeId::new())
    .bind(env)
    .bind(sha256_hex(&code))
    .bind(new.user_id)
    .bind(new.organization_id)
    .bind(new.auth_method)
    .bind(new.redirect_uri)
    .bind(new.code_challenge)
    .bind(new.ip_address)
    .bind(new.user_agent)
    .bind(Utc::now() + ttl)
    .execute(&mut **tx)
    .await?;
    Ok(code)
}

/// A code being redeemed.
#[derive(Debug, Clone, FromRow)]
pub struct Issued {
    /// `authorization_code_…`
    pub id: AuthorizationCodeId,
    /// The user.
    pub user_id: UserId,
    /// Organization scope.
    pub organization_id: Option<OrganizationId>,
    /// Session vocabulary auth method.
    pub auth_method: String,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// Browser IP address at sign-in.
    pub ip_address: Option<String>,
    /// Browser user agent at sign-in.
    pub user_agent: Option<String>,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    session_id: Option<SessionId>,
}

/// What presenting a code led to.
#[derive(Debug)]
pub enum Redemption {
    /// Valid and now spent.
    Valid(Box<Issued>),
    /// Already spent: the session it created (if any) should be revoked.
    Reused {
        /// The session the first exchange created.
        session_id: Option<SessionId>,
    },
    /// Unknown or expired.
    Invalid,
}

/// Spends a code (row-locked, so two concurrent exchanges cannot both succeed).
pub async fn redeem(tx: &mut Tx, env: &EnvironmentId, code: &str) -> ApiResult<Redemption> {
    let row: Option<Issued> = sqlx::query_as(
        "select id, user_id, organization_id, auth_method, code_challenge, ip_address, user_agent,
                expires_at, used_at, session_id
         from authorization_codes where environment_id = $1 and code_hash = $2 for update",
    )
    .bind(env)
    .bind(sha256_hex(code))
    .fetch_optional(&mut **tx)
    .await?;
    let Some(issued) = row else {
        return Ok(Redemption::Invalid);
    };
    if issued.used_at.is_some() {
        return Ok(Redemption::Reused {
            session_id: issued.session_id,
        });
    }
    sqlx::query(
        "update authorization_codes set used_at = now() where environment_id = $1 and id = $2",
    )
    .bind(env)
    .bind(&issued.id)
    .execute(&mut **tx)
    .await?;
    if issued.expires_at <= Utc::now() {
        return Ok(Redemption::Invalid);
    }
    Ok(Redemption::Valid(Box::new(issued)))
}

/// Remembers the session an exchange created (revoked if the code is replayed).
pub async fn attach_session(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &AuthorizationCodeId,
    session_id: &SessionId,
) -> ApiResult<()> {
    sqlx::query(
        "update authorization_codes set session_id = $3 where environment_id = $1 and id = $2",
    )
    .bind(env)
    .bind(id)
    .bind(session_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
