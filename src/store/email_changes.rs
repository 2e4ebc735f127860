//! Email changes (spec tag `user-management.users`; schema `EmailChange`): a six-digit code sent
//! to the new address, valid for an hour; confirming it moves the user to that address. The
//! code is stored only as a salted digest (no read returns it).

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::email_outbox;
use super::one_time_codes::{CodeError, MAX_ATTEMPTS, expires_in};
use crate::crypto::{code_hash, ct_eq, random_digits};
use crate::db::Tx;
use crate::email::Email;
use crate::email::EmailAddress;
use crate::error::ApiResult;
use crate::ids::{EmailChangeId, EnvironmentId, UserId};

/// Lifetime of a code, in minutes.
pub const LIFETIME_MINUTES: i64 = 60;

/// A started email change.
#[derive(Debug, Clone, FromRow)]
pub struct PendingChange {
    /// The new address.
    pub new_email: String,
    /// When the code stops working.
    pub expires_at: DateTime<Utc>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Starts a change to `new_email` and queues the code to that address. Earlier pending changes
/// of the user stop working.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    user_id: &UserId,
    new_email: &str,
) -> ApiResult<PendingChange> {
    sqlx::query(
        "update email_changes set consumed_at = now() where environment_id = $1 and user_id = $2
           and consumed_at is null",
    )
    .bind(env)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    let id = EmailChangeId::new();
    let code = random_digits(6);
    let change: PendingChange = sqlx::query_as(
        "insert into email_changes (id, environment_id, user_id, new_email, code_hash, expires_at)
         values ($1, $2, $3, $4, $5, $6) returning new_email, expires_at, created_at",
    )
    .bind(&id)
    .bind(env)
    .bind(user_id)
    .bind(new_email)
    .bind(code_hash(&id, &code))
    .bind(expires_in(LIFETIME_MINUTES))
    .fetch_one(&mut **tx)
    .await?;
    email_outbox::enqueue(
        tx,
        env,
        new_email,
        &Email::EmailChange {
            code,
            new_email: new_email.to_string(),
        },
    )
    .await?;
    Ok(change)
}

/// What confirming a code led to.
#[derive(Debug)]
pub enum Confirmation {
    /// The code is right: change the user's email to this address.
    Confirmed(EmailAddress),
    /// The user has no email change started.
    NothingPending,
    /// The code was not accepted.
    Rejected(CodeError),
}

#[derive(Debug, FromRow)]
struct Candidate {
    id: String,
    new_email: EmailAddress,
    code_hash: String,
    attempts: i32,
    expired: bool,
    consumed: bool,
}

/// Checks `code` against the user's latest email change.
pub async fn confirm(
    tx: &mut Tx,
    env: &EnvironmentId,
    user_id: &UserId,
    code: &str,
) -> ApiResult<Confirmation> {
    let latest: Option<Candidate> = sqlx::query_as(
        "select id, new_email, code_hash, attempts, expires_at <= now() as expired,
           consumed_at is not null as consumed
         from email_changes where environment_id = $1 and user_id = $2 order by id desc limit 1 for update",
    )
    .bind(env)
    .bind(user_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(c) = latest else {
        return Ok(Confirmation::NothingPending);
    };
    let right = ct_eq(
        c.code_hash.as_bytes(),
        code_hash(&c.id, code.trim()).as_bytes(),
    );
    if c.consumed {
        return Ok(if right {
            Confirmation::Rejected(CodeError::PreviouslyUsed)
        } else {
            Confirmation::NothingPending
        });
    }
    if c.attempts >= MAX_ATTEMPTS {
        return Ok(Confirmation::Rejected(CodeError::TooManyAttempts));
    }
    if !right {
        sqlx::query("update email_changes set attempts = attempts + 1 where environment_id = $1 and id = $2")
            .bind(env)
            .bind(&c.id)
            .execute(&mut **tx)
            .await?;
        return Ok(Confirmation::Rejected(CodeError::Incorrect));
    }
    if c.expired {
        return Ok(Confirmation::Rejected(CodeError::Expired));
    }
    sqlx::query(
        "update email_changes set consumed_at = now() where environment_id = $1 and id = $2",
    )
    .bind(env)
    .bind(&c.id)
    .execute(&mut **tx)
    .await?;
    Ok(Confirmation::Confirmed(c.new_email))
}
