//! Sign-ins waiting for a further step: the `pending_authentication_token` of the 403
//! `email_verification_required`, `mfa_challenge` and `organization_selection_required`
//! responses (WORKOS-API-NOTES §4.4). Tokens are random, stored as SHA-256 digests, live 10
//! minutes and work once: each continuation grant spends its token (and a further step issues a
//! new one).

use sqlx::FromRow;

use crate::crypto::{random_token, sha256_hex};
use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::{
    EmailVerificationId, EnvironmentId, OrganizationId, PendingAuthenticationId, UserId,
};

/// Lifetime of a pending authentication, in minutes.
pub const LIFETIME_MINUTES: i64 = 10;

/// The step a pending sign-in waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// An email verification code (`…:email-verification:code` grant).
    EmailVerification,
    /// A TOTP code for a challenge (`…:mfa-totp` grant).
    MfaChallenge,
    /// The organization to sign in to (`…:organization-selection` grant).
    OrganizationSelection,
}

impl Stage {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailVerification => "email_verification",
            Self::MfaChallenge => "mfa_challenge",
            Self::OrganizationSelection => "organization_selection",
        }
    }
}

/// A sign-in in progress.
#[derive(Debug, Clone, FromRow)]
pub struct Pending {
    /// Row id.
    pub id: PendingAuthenticationId,
    /// The user signing in.
    pub user_id: UserId,
    /// Session vocabulary auth method of the first factor (`password`, `magic_code`, …).
    pub auth_method: String,
    /// Whether an MFA challenge was already passed.
    pub mfa_verified: bool,
    /// Organization the sign-in is already bound to (e.g. by an invitation).
    pub organization_id: Option<OrganizationId>,
    /// The email verification sent for this sign-in.
    pub email_verification_id: Option<EmailVerificationId>,
    /// End user's IP address.
    pub ip_address: Option<String>,
    /// End user's user agent.
    pub user_agent: Option<String>,
}

/// Input of [`create`].
#[derive(Debug, Clone)]
pub struct NewPending<'a> {
    /// What the sign-in waits for.
    pub stage: Stage,
    /// The user.
    pub user_id: &'a UserId,
    /// First-factor auth method.
    pub auth_method: &'a str,
    /// Whether MFA was passed.
    pub mfa_verified: bool,
    /// Bound organization.
    pub organization_id: Option<&'a OrganizationId>,
    /// Email verification sent.
    pub email_verification_id: Option<&'a EmailVerificationId>,
    /// IP address.
    pub ip_address: Option<&'a str>,
    /// User agent.
    pub user_agent: Option<&'a str>,
}

/// Stores a pending sign-in; returns its token (shown once).
pub async fn create(tx: &mut Tx, env: &EnvironmentId, new: NewPending<'_>) -> ApiResult<String> {
    let token = random_token(32);
    sqlx::query(
        "insert into pending_authentications (id, environment_id, user_id, token_hash, stage, auth_method,
           mfa_verified, organization_id, email_verification_id, ip_address, user_agent, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now() + make_interval(mins => $12::int))",
    )
    .bind(PendingAuthenticationId::new())
    .bind(env)
    .bind(new.user_id)
    .bind(sha256_hex(&token))
    .bind(new.stage.as_str())
    .bind(new.auth_method)
    .bind(new.mfa_verified)
    .bind(new.organization_id)
    .bind(new.email_verification_id)
    .bind(new.ip_address)
    .bind(new.user_agent)
    .bind(i32::try_from(LIFETIME_MINUTES).unwrap_or(10))
    .execute(&mut **tx)
    .await?;
    Ok(token)
}

/// The live pending sign-in of `token` waiting for `stage`, locked; `None` when the token is
/// unknown, spent, expired or waits for another step.
pub async fn find(
    tx: &mut Tx,
    env: &EnvironmentId,
    token: &str,
    stage: Stage,
) -> ApiResult<Option<Pending>> {
    Ok(sqlx::query_as(
        "select id, user_id, auth_method, mfa_verified, organization_id, email_verification_id, ip_address,
           user_agent
         from pending_authentications where environment_id = $1 and token_hash = $2 and stage = $3
           and consumed_at is null and expires_at > now() for update",
    )
    .bind(env)
    .bind(sha256_hex(token))
    .bind(stage.as_str())
    .fetch_optional(&mut **tx)
    .await?)
}

/// Spends a pending sign-in's token.
pub async fn consume(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &PendingAuthenticationId,
) -> ApiResult<()> {
    sqlx::query("update pending_authentications set consumed_at = now() where environment_id = $1 and id = $2")
        .bind(env)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
