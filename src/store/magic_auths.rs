//! Magic Auth codes (spec tag `user-management.magic-auth`; schema `MagicAuth`) and the
//! `magic_auth.created` event, which leaves out `code`. Codes are six digits, live 10 minutes and
//! work once; they are stored as salted digests and sealed with the vault (`GET
//! /user_management/magic_auth/{id}` returns the code).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};

use super::email_outbox;
use super::one_time_codes::{
    self, Candidate, CodeError, CodeKind, CodeState, CodeTable, event_without, expires_in,
    open_sealed,
};
use crate::crypto::vault::Vault;
use crate::crypto::{code_hash, random_digits};
use crate::db::Tx;
use crate::email::Email;
use crate::error::ApiResult;
use crate::ids::{EnvironmentId, InvitationId, MagicAuthId, UserId};
use crate::store::events::{self, names};

/// Lifetime of a code, in minutes.
pub const LIFETIME_MINUTES: i64 = 10;

/// A Magic Auth code as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct MagicAuth {
    /// Always `"magic_auth"`.
    pub object: &'static str,
    /// `magic_auth_…`
    pub id: MagicAuthId,
    /// The user, or the id the user gets when this code signs them up.
    pub user_id: UserId,
    /// The email the code was sent to.
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
    id: MagicAuthId,
    user_id: UserId,
    email: String,
    code_sealed: Vec<u8>,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// The `magic_auths` table, scoped by email.
struct Kind;

impl CodeTable for Kind {
    const TABLE: &'static str = "magic_auths";
    const COLUMNS: &'static str =
        "id, user_id, email, code_sealed, expires_at, created_at, updated_at";
    type Row = Row;
    type Id = MagicAuthId;
}

impl CodeKind for Kind {
    const SCOPE: &'static str = "email";
}

fn build(vault: &Vault, r: Row) -> ApiResult<MagicAuth> {
    let code = open_sealed(vault, &r.code_sealed)?;
    Ok(MagicAuth {
        object: "magic_auth",
        id: r.id,
        user_id: r.user_id,
        email: r.email,
        expires_at: r.expires_at,
        created_at: r.created_at,
        updated_at: r.updated_at,
        code,
    })
}

/// Creates a code for `email` (lowercased) and `user_id`, records `magic_auth.created` and queues
/// the email.
pub async fn insert(
    tx: &mut Tx,
    vault: &Vault,
    env: &EnvironmentId,
    email: &str,
    user_id: &UserId,
    invitation_id: Option<&str>,
) -> ApiResult<MagicAuth> {
    let id = MagicAuthId::new();
    let code = random_digits(6);
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into magic_auths (id, environment_id, user_id, email, code_hash, code_sealed, invitation_id, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning {}",
        Kind::COLUMNS
    )))
    .bind(&id)
    .bind(env)
    .bind(user_id)
    .bind(email)
    .bind(code_hash(&id, &code))
    .bind(vault.seal(code.as_bytes())?)
    .bind(invitation_id)
    .bind(expires_in(LIFETIME_MINUTES))
    .fetch_one(&mut **tx)
    .await?;
    let magic = build(vault, row)?;
    let event = event_without(&magic, "code")?;
    events::record(tx, env, names::MAGIC_AUTH_CREATED, &event, None).await?;
    email_outbox::enqueue(tx, env, email, &Email::MagicAuth { code }).await?;
    Ok(magic)
}

/// One code by id.
pub async fn find(
    conn: &mut PgConnection,
    vault: &Vault,
    env: &EnvironmentId,
    id: &MagicAuthId,
) -> ApiResult<Option<MagicAuth>> {
    let row = one_time_codes::find_row::<Kind>(conn, env, id).await?;
    row.map(|r| build(vault, r)).transpose()
}

/// The user id reserved by an earlier live code for an email that has no user yet, so repeated
/// sends before the first sign-in name the same future user.
pub async fn reserved_user_id(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    email: &str,
) -> ApiResult<Option<UserId>> {
    Ok(sqlx::query_scalar(
        "select user_id from magic_auths where environment_id = $1 and email = $2
           and consumed_at is null and expires_at > now() order by id desc limit 1",
    )
    .bind(env)
    .bind(email)
    .fetch_optional(conn)
    .await?)
}

/// A code that was accepted.
#[derive(Debug, Clone)]
pub struct Redeemed {
    /// The code's id.
    pub id: MagicAuthId,
    /// The user it names.
    pub user_id: UserId,
    /// The invitation it was sent with.
    pub invitation_id: Option<InvitationId>,
}

#[derive(Debug, FromRow)]
struct MagicCandidate {
    #[sqlx(flatten)]
    state: CodeState<MagicAuthId>,
    user_id: UserId,
    invitation_id: Option<InvitationId>,
}

impl Candidate for MagicCandidate {
    type Id = MagicAuthId;

    fn state(&self) -> &CodeState<MagicAuthId> {
        &self.state
    }
}

/// Checks `code` against the recent codes of `email`. On success every live code of the email is
/// spent (codes work once). A wrong code counts an attempt against the live ones.
pub async fn redeem(
    tx: &mut Tx,
    env: &EnvironmentId,
    email: &str,
    code: &str,
) -> ApiResult<Result<Redeemed, CodeError>> {
    let outcome = one_time_codes::redeem::<Kind, MagicCandidate>(
        tx,
        env,
        email,
        None,
        ", user_id, invitation_id",
        code,
    )
    .await?;
    Ok(match outcome {
        Ok(c) => Ok(Redeemed {
            id: c.state.id,
            user_id: c.user_id,
            invitation_id: c.invitation_id,
        }),
        Err(e) => Err(e),
    })
}
