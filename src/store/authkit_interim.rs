//! INTERIM storage of the hosted login pages, to be replaced by the User Management stores
//! (magic auth, email verification, password reset, authentication factors, memberships) when
//! they land: one-time codes and reset tokens sent by email, TOTP factors, and the
//! organizations a user can pick. Only `pages::flows` calls this module.
//!
//! Codes and tokens are stored as SHA-256 digests; a code allows [`MAX_CODE_ATTEMPTS`] wrong
//! guesses. TOTP secrets are vault-encrypted and each time step is accepted once.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};

use crate::crypto::{ct_eq, sha256_hex};
use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::new_id;

/// Wrong guesses a code survives.
pub const MAX_CODE_ATTEMPTS: i32 = 5;

/// What a one-time secret is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 6-digit sign-in code (`magic_auth_…`).
    MagicAuth,
    /// 6-digit email verification code (`email_verification_…`).
    EmailVerification,
    /// Password-reset token (`password_reset_…`).
    PasswordReset,
}

impl Kind {
    /// The stored kind, also the id prefix and the WorkOS `object`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::MagicAuth => "magic_auth",
            Kind::EmailVerification => "email_verification",
            Kind::PasswordReset => "password_reset",
        }
    }
}

/// A one-time code as its `*.created` / `*.succeeded` events show it (never the secret).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct OneTimeCode {
    /// `magic_auth`, `email_verification` or `password_reset`.
    #[sqlx(rename = "kind")]
    pub object: String,
    /// `magic_auth_…`, `email_verification_…`, `password_reset_…`
    pub id: String,
    /// The user, or `null` for a magic code sent to an address without an account yet.
    pub user_id: Option<String>,
    /// The address the secret was sent to.
    pub email: String,
    /// When the secret stops working.
    #[serde(with = "crate::timestamp")]
    pub expires_at: DateTime<Utc>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Equal to `created_at` (codes do not change).
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    code_hash: String,
    #[serde(skip)]
    attempts: i32,
}

const COLUMNS: &str = "kind, id, user_id, email, expires_at, created_at, created_at as updated_at, \
                       code_hash, attempts";

/// Stores a new secret (`secret` is the code or token the email carries).
pub async fn insert_code(
    tx: &mut Tx,
    env: &str,
    kind: Kind,
    user_id: Option<&str>,
    email: &str,
    secret: &str,
    ttl: std::time::Duration,
) -> ApiResult<OneTimeCode> {
    let ttl = chrono::Duration::from_std(ttl).map_err(anyhow::Error::from)?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into authkit_one_time_codes (id, environment_id, kind, user_id, email, code_hash, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7) returning {COLUMNS}"
    )))
    .bind(new_id(kind.as_str()))
    .bind(env)
    .bind(kind.as_str())
    .bind(user_id)
    .bind(email)
    .bind(sha256_hex(secret))
    .bind(Utc::now() + ttl)
    .fetch_one(&mut **tx)
    .await?)
}

/// The outcome of checking a code.
#[derive(Debug)]
pub enum CodeCheck {
    /// Right code: it is now spent.
    Valid(Box<OneTimeCode>),
    /// Wrong code (one attempt counted).
    Wrong,
    /// No usable code: none sent, expired, spent, or too many wrong guesses.
    Unavailable,
}

/// Checks `code` against the latest unspent code of `kind` sent to `email`.
pub async fn check_code(
    tx: &mut Tx,
    env: &str,
    kind: Kind,
    email: &str,
    code: &str,
) -> ApiResult<CodeCheck> {
    let row: Option<OneTimeCode> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from authkit_one_time_codes
         where environment_id = $1 and kind = $2 and email = $3 and used_at is null
         order by id desc limit 1 for update"
    )))
    .bind(env)
    .bind(kind.as_str())
    .bind(email)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Ok(CodeCheck::Unavailable);
    };
    if row.expires_at <= Utc::now() || row.attempts >= MAX_CODE_ATTEMPTS {
        return Ok(CodeCheck::Unavailable);
    }
    let given = sha256_hex(code.trim());
    if !ct_eq(given.as_bytes(), row.code_hash.as_bytes()) {
        sqlx::query(
            "update authkit_one_time_codes set attempts = attempts + 1
             where environment_id = $1 and id = $2",
        )
        .bind(env)
        .bind(&row.id)
        .execute(&mut **tx)
        .await?;
        return Ok(CodeCheck::Wrong);
    }
    spend(tx, env, &row.id).await?;
    Ok(CodeCheck::Valid(Box::new(row)))
}

async fn spend(tx: &mut Tx, env: &str, id: &str) -> ApiResult<()> {
    sqlx::query(
        "update authkit_one_time_codes set used_at = now() where environment_id = $1 and id = $2",
    )
    .bind(env)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether a usable (unspent, unexpired, not locked) code of `kind` was sent to `email`.
pub async fn pending_code_exists(
    conn: &mut PgConnection,
    env: &str,
    kind: Kind,
    email: &str,
) -> ApiResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists(select 1 from authkit_one_time_codes
           where environment_id = $1 and kind = $2 and email = $3 and used_at is null
             and expires_at > now() and attempts < $4)",
    )
    .bind(env)
    .bind(kind.as_str())
    .bind(email)
    .bind(MAX_CODE_ATTEMPTS)
    .fetch_one(conn)
    .await?)
}

/// The unspent, unexpired reset token with this value, if any (does not spend it).
pub async fn find_token(
    conn: &mut PgConnection,
    env: &str,
    token: &str,
) -> ApiResult<Option<OneTimeCode>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from authkit_one_time_codes
         where environment_id = $1 and kind = 'password_reset' and code_hash = $2
           and used_at is null and expires_at > now()"
    )))
    .bind(env)
    .bind(sha256_hex(token))
    .fetch_optional(conn)
    .await?)
}

/// Spends a reset token; `None` when it is unknown, spent or expired.
pub async fn redeem_token(tx: &mut Tx, env: &str, token: &str) -> ApiResult<Option<OneTimeCode>> {
    let row = find_token(tx, env, token).await?;
    if let Some(r) = &row {
        spend(tx, env, &r.id).await?;
    }
    Ok(row)
}

/// An organization a user can sign in to.
#[derive(Debug, Clone, FromRow)]
pub struct OrganizationChoice {
    /// `org_…`
    pub id: String,
    /// Display name.
    pub name: String,
}

/// The organizations where the user has an active membership, by name.
pub async fn user_organizations(
    conn: &mut PgConnection,
    env: &str,
    user_id: &str,
) -> ApiResult<Vec<OrganizationChoice>> {
    Ok(sqlx::query_as(
        "select o.id, o.name from organization_memberships m
         join organizations o on o.environment_id = m.environment_id and o.id = m.organization_id
         where m.environment_id = $1 and m.user_id = $2 and m.status = 'active'
         order by o.name, o.id",
    )
    .bind(env)
    .bind(user_id)
    .fetch_all(conn)
    .await?)
}
