//! Email verification codes (spec tag `user-management.users`; schema `EmailVerification`) and
//! the `email_verification.created` event, which leaves out `code`. Codes are six digits, live
//! 24 hours and work once; stored as salted digests and sealed with the vault (`GET
//! /user_management/email_verification/{id}` returns the code).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};

use super::email_outbox;
use super::one_time_codes::{
    self, Candidate, CodeError, CodeKind, CodeState, CodeTable, MAX_ATTEMPTS, event_without,
    expires_in, open_sealed,
};
use crate::crypto::vault::Vault;
use crate::crypto::{code_hash, random_digits};
use crate::db::Tx;
use crate::email::Email;
use crate::error::ApiResult;
use crate::ids::{EmailVerificationId, EnvironmentId, UserId};
use crate::store::events::{self, names};

/// Lifetime of a code, in minutes (24 hours).
pub const LIFETIME_MINUTES: i64 = 24 * 60;

/// An email verification as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct EmailVerification {
    /// Always `"email_verification"`.
    pub object: &'static str,
    /// `email_verification_…`
    pub id: EmailVerificationId,
    /// The user.
    pub user_id: UserId,
    /// The address being verified.
    pub email: String,
    /// When the code stops working.
    #[serde(with = "crate::timestamp")]
    pub expires_at: DateTime<Utc>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
    /// The six-digit code.
    pub code: String,
}

#[derive(Debug, FromRow)]
struct Row {
    id: EmailVerificationId,
    user_id: UserId,
    email: String,
    code_sealed: Vec<u8>,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// The `email_verifications` table, scoped by user.
struct Kind;

impl CodeTable for Kind {
    const TABLE: &'static str = "email_verifications";
    const COLUMNS: &'static str =
        "id, user_id, email, code_sealed, expires_at, created_at, updated_at";
    type Row = Row;
    type Id = EmailVerificationId;
}

impl CodeKind for Kind {
    const SCOPE: &'static str = "user_id";
}

fn build(vault: &Vault, r: Row) -> ApiResult<EmailVerification> {
    let code = open_sealed(vault, &r.code_sealed)?;
    Ok(EmailVerification {
        object: "email_verification",
        id: r.id,
        user_id: r.user_id,
        email: r.email,
        expires_at: r.expires_at,
        created_at: r.created_at,
        updated_at: r.updated_at,
        code,
    })
}

/// Creates a code for the user's `email`, records `email_verification.created` and queues the
/// email.
pub async fn insert(
    tx: &mut Tx,
    vault: &Vault,
    env: &EnvironmentId,
    user_id: &UserId,
    email: &str,
) -> ApiResult<EmailVerification> {
    let id = EmailVerificationId::new();
    let code = random_digits(6);
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into email_verifications (id, environment_id, user_id, email, code_hash, code_sealed, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7) returning {}",
        Kind::COLUMNS
    )))
    .bind(&id)
    .bind(env)
    .bind(user_id)
    .bind(email)
    .bind(code_hash(&id, &code))
    .bind(vault.seal(code.as_bytes())?)
    .bind(expires_in(LIFETIME_MINUTES))
    .fetch_one(&mut **tx)
    .await?;
    let verification = build(vault, row)?;
    let event = event_without(&verification, "code")?;
    events::record(tx, env, names::EMAIL_VERIFICATION_CREATED, &event, None).await?;
    email_outbox::enqueue(tx, env, email, &Email::EmailVerification { code }).await?;
    Ok(verification)
}

/// One email verification by id.
pub async fn find(
    conn: &mut PgConnection,
    vault: &Vault,
    env: &EnvironmentId,
    id: &EmailVerificationId,
) -> ApiResult<Option<EmailVerification>> {
    let row = one_time_codes::find_row::<Kind>(conn, env, id).await?;
    row.map(|r| build(vault, r)).transpose()
}

/// Whether the user has a live code for `email` (unspent, unexpired, attempts left), so a step
/// asking for one need not send another.
pub async fn live_exists(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    user_id: &UserId,
    email: &str,
) -> ApiResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists(select 1 from email_verifications where environment_id = $1 and user_id = $2
           and email = $3 and consumed_at is null and expires_at > now() and attempts < $4)",
    )
    .bind(env)
    .bind(user_id)
    .bind(email)
    .bind(MAX_ATTEMPTS)
    .fetch_one(conn)
    .await?)
}

#[derive(Debug, FromRow)]
struct VerificationCandidate {
    #[sqlx(flatten)]
    state: CodeState<EmailVerificationId>,
}

impl Candidate for VerificationCandidate {
    type Id = EmailVerificationId;

    fn state(&self) -> &CodeState<EmailVerificationId> {
        &self.state
    }
}

/// Checks `code` against the user's recent codes for `email`. On success every live code of the
/// user is spent and the accepted code's id is returned; a wrong code counts an attempt.
pub async fn redeem(
    tx: &mut Tx,
    env: &EnvironmentId,
    user_id: &UserId,
    email: &str,
    code: &str,
) -> ApiResult<Result<EmailVerificationId, CodeError>> {
    let outcome = one_time_codes::redeem::<Kind, VerificationCandidate>(
        tx,
        env,
        user_id,
        Some(email),
        "",
        code,
    )
    .await?;
    Ok(match outcome {
        Ok(c) => Ok(c.state.id),
        Err(e) => Err(e),
    })
}
