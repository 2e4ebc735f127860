//! Email verification codes (spec tag `user-management.users`; schema `EmailVerification`) and
//! the `email_verification.created` event, which leaves out `code`. Codes are six digits, live
//! 24 hours and work once; stored as salted digests and sealed with the vault (`GET
//! /user_management/email_verification/{id}` returns the code).

use sqlx::{FromRow, PgConnection};

use super::email_outbox;
use super::one_time_codes::{
    self, CODE_COLUMNS, Candidate, CodeError, CodeKind, CodeRow, CodeState, CodeTable,
    MAX_ATTEMPTS, SentCode, event_without,
};
use crate::crypto::vault::Vault;
use crate::db::Tx;
use crate::email::Email;
use crate::error::ApiResult;
use crate::ids::{EmailVerificationId, EnvironmentId, UserId};
use crate::store::events::{self, names};

/// Lifetime of a code, in minutes (24 hours).
pub const LIFETIME_MINUTES: i64 = 24 * 60;

/// An email verification as the API returns it (`EmailVerification`).
pub type EmailVerification = SentCode<EmailVerificationId>;

/// The `email_verifications` table, scoped by user.
struct Kind;

impl CodeTable for Kind {
    const TABLE: &'static str = "email_verifications";
    const SECRET: &'static str = "code";
    const LIFETIME_MINUTES: i64 = LIFETIME_MINUTES;
    const COLUMNS: &'static str = CODE_COLUMNS;
    type Row = CodeRow<EmailVerificationId>;
    type Id = EmailVerificationId;
}

impl CodeKind for Kind {
    const SCOPE: &'static str = "user_id";
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
    let (row, code) =
        one_time_codes::insert_code::<Kind>(tx, vault, env, &id, user_id, email, None).await?;
    let verification = row.open(vault, "email_verification")?;
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
    row.map(|r| r.open(vault, "email_verification")).transpose()
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
