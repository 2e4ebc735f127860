//! Password resets (spec tag `user-management.users`; schema `PasswordReset`) and the
//! `password_reset.created` / `password_reset.succeeded` events, which leave out the token and
//! URL. Tokens live one hour and work once; stored as SHA-256 digests and sealed with the vault
//! (`GET /user_management/password_reset/{id}` returns the token).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};

use super::email_outbox;
use super::one_time_codes::{self, CodeError, CodeTable, NewSecret, open_sealed};
use crate::crypto::vault::Vault;
use crate::crypto::{random_token, sha256_hex};
use crate::db::Tx;
use crate::email::Email;
use crate::error::ApiResult;
use crate::ids::{EnvironmentId, PasswordResetId, UserId};
use crate::store::events::{self, EventName, names};

/// Lifetime of a reset token, in minutes.
pub const LIFETIME_MINUTES: i64 = 60;

/// A password reset as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct PasswordReset {
    /// Always `"password_reset"`.
    pub object: &'static str,
    /// `password_reset_…`
    pub id: PasswordResetId,
    /// The user.
    pub user_id: UserId,
    /// The user's email.
    pub email: String,
    /// When the token stops working.
    #[serde(with = "crate::timestamp")]
    pub expires_at: DateTime<Utc>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// The secret token.
    pub password_reset_token: String,
    /// `{public_url}/user_management/password_reset?token=…`
    pub password_reset_url: String,
}

/// The `password_reset.*` event payload.
#[derive(Debug, Serialize)]
struct PasswordResetEvent<'a> {
    object: &'static str,
    id: &'a PasswordResetId,
    user_id: &'a UserId,
    email: &'a str,
    #[serde(with = "crate::timestamp")]
    expires_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp")]
    created_at: DateTime<Utc>,
}

#[derive(Debug, FromRow)]
struct Row {
    id: PasswordResetId,
    user_id: UserId,
    email: String,
    token_sealed: Vec<u8>,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, user_id, email, token_sealed, expires_at, created_at";

/// The `password_resets` table (tokens found by digest, no attempts).
struct Kind;

impl CodeTable for Kind {
    const TABLE: &'static str = "password_resets";
    const SECRET: &'static str = "token";
    const LIFETIME_MINUTES: i64 = LIFETIME_MINUTES;
    const COLUMNS: &'static str = COLUMNS;
    type Row = Row;
    type Id = PasswordResetId;
}

fn build(vault: &Vault, public_url: &str, r: Row) -> ApiResult<PasswordReset> {
    let token = open_sealed(vault, &r.token_sealed)?;
    Ok(PasswordReset {
        object: "password_reset",
        password_reset_url: format!("{public_url}/user_management/password_reset?token={token}"),
        password_reset_token: token,
        id: r.id,
        user_id: r.user_id,
        email: r.email,
        expires_at: r.expires_at,
        created_at: r.created_at,
    })
}

async fn record(
    tx: &mut Tx,
    env: &EnvironmentId,
    name: EventName,
    r: &PasswordReset,
) -> ApiResult<()> {
    let event = PasswordResetEvent {
        object: "password_reset",
        id: &r.id,
        user_id: &r.user_id,
        email: &r.email,
        expires_at: r.expires_at,
        created_at: r.created_at,
    };
    events::record(tx, env, name, &event, None).await
}

/// Creates a reset token for the user, records `password_reset.created` and queues the email
/// with the reset's `password_reset_url`.
pub async fn insert(
    tx: &mut Tx,
    vault: &Vault,
    public_url: &str,
    env: &EnvironmentId,
    user_id: &UserId,
    email: &str,
) -> ApiResult<PasswordReset> {
    insert_with_link(tx, vault, public_url, env, user_id, email, |r| {
        r.password_reset_url.clone()
    })
    .await
}

/// Like [`insert`], but the email carries `link(&reset)` (the hosted pages send their own
/// reset page).
pub async fn insert_with_link(
    tx: &mut Tx,
    vault: &Vault,
    public_url: &str,
    env: &EnvironmentId,
    user_id: &UserId,
    email: &str,
    link: impl FnOnce(&PasswordReset) -> String,
) -> ApiResult<PasswordReset> {
    let token = random_token(24);
    let new = NewSecret {
        id: &PasswordResetId::new(),
        user_id,
        email,
        secret: &token,
        digest: sha256_hex(&token),
        extra: None,
    };
    let row = one_time_codes::insert::<Kind>(tx, vault, env, new).await?;
    let reset = build(vault, public_url, row)?;
    record(tx, env, names::PASSWORD_RESET_CREATED, &reset).await?;
    let url = link(&reset);
    email_outbox::enqueue(tx, env, email, &Email::PasswordReset { url }).await?;
    Ok(reset)
}

/// Whether `token` is a live (unspent, unexpired) reset token of `env`; spends nothing.
pub async fn is_live(conn: &mut PgConnection, env: &EnvironmentId, token: &str) -> ApiResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists(select 1 from password_resets where environment_id = $1 and token_hash = $2
           and consumed_at is null and expires_at > now())",
    )
    .bind(env)
    .bind(sha256_hex(token))
    .fetch_one(conn)
    .await?)
}

/// One password reset by id.
pub async fn find(
    conn: &mut PgConnection,
    vault: &Vault,
    public_url: &str,
    env: &EnvironmentId,
    id: &PasswordResetId,
) -> ApiResult<Option<PasswordReset>> {
    let row = one_time_codes::find_row::<Kind>(conn, env, id).await?;
    row.map(|r| build(vault, public_url, r)).transpose()
}

/// Spends a token: the reset it belongs to, or why it does not work. Records
/// `password_reset.succeeded`; the caller sets the password in the same transaction.
pub async fn redeem(
    tx: &mut Tx,
    vault: &Vault,
    public_url: &str,
    env: &EnvironmentId,
    token: &str,
) -> ApiResult<Result<PasswordReset, CodeError>> {
    let row: Option<(String, bool, bool)> = sqlx::query_as(
        "select id, expires_at <= now(), consumed_at is not null from password_resets
         where environment_id = $1 and token_hash = $2 for update",
    )
    .bind(env)
    .bind(sha256_hex(token))
    .fetch_optional(&mut **tx)
    .await?;
    let id = match row {
        None => return Ok(Err(CodeError::Incorrect)),
        Some((_, _, true)) => return Ok(Err(CodeError::PreviouslyUsed)),
        Some((_, true, _)) => return Ok(Err(CodeError::Expired)),
        Some((id, false, false)) => id,
    };
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update password_resets set consumed_at = now() where environment_id = $1 and id = $2 returning {COLUMNS}"
    )))
    .bind(env)
    .bind(&id)
    .fetch_one(&mut **tx)
    .await?;
    let reset = build(vault, public_url, row)?;
    record(tx, env, names::PASSWORD_RESET_SUCCEEDED, &reset).await?;
    Ok(Ok(reset))
}
