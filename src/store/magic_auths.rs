//! Magic Auth codes (spec tag `user-management.magic-auth`; schema `MagicAuth`) and the
//! `magic_auth.created` event, which leaves out `code`. Codes are six digits, live 10 minutes and
//! work once; they are stored as salted digests and sealed with the vault (`GET
//! /user_management/magic_auth/{id}` returns the code).

use sqlx::{FromRow, PgConnection};

use super::email_outbox;
use super::one_time_codes::{
    self, CODE_COLUMNS, Candidate, CodeError, CodeKind, CodeRow, CodeState, CodeTable, SentCode,
    event_without,
};
use crate::crypto::vault::Vault;
use crate::db::Tx;
use crate::email::Email;
use crate::error::ApiResult;
use crate::ids::{EnvironmentId, InvitationId, MagicAuthId, UserId};
use crate::store::events::{self, names};

/// Lifetime of a code, in minutes.
pub const LIFETIME_MINUTES: i64 = 10;

/// A Magic Auth code as the API returns it (`MagicAuth`).
pub type MagicAuth = SentCode<MagicAuthId>;

/// The `magic_auths` table, scoped by email.
struct Kind;

impl CodeTable for Kind {
    const TABLE: &'static str = "magic_auths";
    const SECRET: &'static str = "code";
    const LIFETIME_MINUTES: i64 = LIFETIME_MINUTES;
    const COLUMNS: &'static str = CODE_COLUMNS;
    type Row = CodeRow<MagicAuthId>;
    type Id = MagicAuthId;
}

impl CodeKind for Kind {
    const SCOPE: &'static str = "email";
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
    let extra = Some(("invitation_id", invitation_id));
    let (row, code) =
        one_time_codes::insert_code::<Kind>(tx, vault, env, &id, user_id, email, extra).await?;
    let magic = row.open(vault, "magic_auth")?;
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
    row.map(|r| r.open(vault, "magic_auth")).transpose()
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
