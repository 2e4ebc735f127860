//! What checking a one-time code or token can end in, shared by Magic Auth codes, email
//! verification codes, password reset tokens, email change codes and MFA challenges; and the
//! SQL the code tables share ([`CodeTable`], [`CodeKind`]: insert, find by id, redeem with
//! attempts, expiry and single use), so each kind's file keeps only its payload, event and
//! email.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection};

use crate::crypto::vault::Vault;
use crate::crypto::{code_hash, ct_eq, random_digits};
use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::{EnvironmentId, TypedId, UserId};

/// Wrong attempts a code survives; the next check answers [`CodeError::TooManyAttempts`].
pub const MAX_ATTEMPTS: i32 = 5;

/// Why a code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    /// No live code matches (wrong code, or none was issued).
    Incorrect,
    /// The code matched but its lifetime is over.
    Expired,
    /// The code matched but was already used.
    PreviouslyUsed,
    /// Too many wrong attempts: the code no longer works.
    TooManyAttempts,
}

impl CodeError {
    /// The `authenticate` error code (WORKOS-API-NOTES §4.3).
    pub fn grant_code(self) -> &'static str {
        match self {
            Self::Incorrect => "invalid_one_time_code",
            Self::Expired => "one_time_code_expired",
            Self::PreviouslyUsed => "one_time_code_previously_used",
            Self::TooManyAttempts => "one_time_code_too_many_attempts",
        }
    }

    /// A human-readable message.
    pub fn message(self) -> &'static str {
        match self {
            Self::Incorrect => "The code is incorrect.",
            Self::Expired => "The code has expired.",
            Self::PreviouslyUsed => "The code has already been used.",
            Self::TooManyAttempts => "Too many incorrect attempts; request a new code.",
        }
    }
}

/// Adds `minutes` to now.
pub fn expires_in(minutes: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::minutes(minutes)
}

/// A table of one-time secrets (codes or tokens) sealed with the vault: `id`,
/// `environment_id`, `user_id`, `email`, `<secret>_hash`, `<secret>_sealed`, `expires_at`,
/// `consumed_at`, plus the kind's own columns. Each kind's file names its table and row here
/// and keeps only its specifics (payload, event, email).
pub trait CodeTable {
    /// The table.
    const TABLE: &'static str;
    /// What the secret is called in the column names: `code` (`code_hash`, `code_sealed`) or
    /// `token`.
    const SECRET: &'static str;
    /// How long a new secret lives, in minutes.
    const LIFETIME_MINUTES: i64;
    /// The columns [`find_row`] reads into [`CodeTable::Row`].
    const COLUMNS: &'static str;
    /// A row as [`find_row`] reads it.
    type Row: for<'r> FromRow<'r, PgRow> + Send + Unpin;
    /// The row id (`MagicAuthId`, …).
    type Id: TypedId;
}

/// A [`CodeTable`] of six-digit codes stored as salted digests ([`code_hash`]) with wrong
/// attempts counted (`code_hash`, `attempts`), redeemed by [`redeem`].
pub trait CodeKind: CodeTable {
    /// The column whose live codes are spent together on success and share wrong attempts
    /// (`user_id` or `email`).
    const SCOPE: &'static str;
}

/// A six-digit code as the API returns it (`MagicAuth`, `EmailVerification`).
#[derive(Debug, Clone, Serialize)]
pub struct SentCode<Id> {
    /// `"magic_auth"` or `"email_verification"`.
    pub object: &'static str,
    /// The code's id.
    pub id: Id,
    /// The user (for a Magic Auth code, maybe the id the user gets when it signs them up).
    pub user_id: UserId,
    /// The address the code was sent to.
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

/// A stored six-digit code as [`insert_code`] and [`find_row`] read it ([`CODE_COLUMNS`]).
#[derive(Debug, FromRow)]
pub struct CodeRow<Id> {
    id: Id,
    user_id: UserId,
    email: String,
    code_sealed: Vec<u8>,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// The columns of [`CodeRow`].
pub const CODE_COLUMNS: &str =
    "id, user_id, email, code_sealed, expires_at, created_at, updated_at";

impl<Id> CodeRow<Id> {
    /// The code as the API returns it (`object` names its kind), its code opened with `vault`.
    pub fn open(self, vault: &Vault, object: &'static str) -> ApiResult<SentCode<Id>> {
        let code = open_sealed(vault, &self.code_sealed)?;
        Ok(SentCode {
            object,
            id: self.id,
            user_id: self.user_id,
            email: self.email,
            expires_at: self.expires_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            code,
        })
    }
}

/// A new secret for [`insert`].
#[derive(Debug)]
pub struct NewSecret<'a> {
    /// The row's id.
    pub id: &'a str,
    /// The user it is for (or the id a new user will get).
    pub user_id: &'a UserId,
    /// The address it is sent to.
    pub email: &'a str,
    /// The secret (sealed with the vault, so reads can return it).
    pub secret: &'a str,
    /// Its stored digest ([`code_hash`] for codes, SHA-256 for tokens found by digest).
    pub digest: String,
    /// One column of the kind's own and its value (`invitation_id`), if any.
    pub extra: Option<(&'static str, Option<&'a str>)>,
}

/// Inserts a secret that expires after [`CodeTable::LIFETIME_MINUTES`]; returns its row.
pub async fn insert<K: CodeTable>(
    tx: &mut Tx,
    vault: &Vault,
    env: &EnvironmentId,
    new: NewSecret<'_>,
) -> ApiResult<K::Row> {
    let (table, secret, columns) = (K::TABLE, K::SECRET, K::COLUMNS);
    let (extra_column, extra_param) = match new.extra {
        Some((column, _)) => (format!(", {column}"), ", $8"),
        None => (String::new(), ""),
    };
    let sql = format!(
        "insert into {table} (id, environment_id, user_id, email, {secret}_hash, {secret}_sealed,
           expires_at{extra_column})
         values ($1, $2, $3, $4, $5, $6, $7{extra_param}) returning {columns}"
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(new.id)
        .bind(env)
        .bind(new.user_id)
        .bind(new.email)
        .bind(new.digest)
        .bind(vault.seal(new.secret.as_bytes())?)
        .bind(expires_in(K::LIFETIME_MINUTES));
    if let Some((_, value)) = new.extra {
        query = query.bind(value);
    }
    Ok(query.fetch_one(&mut **tx).await?)
}

/// Inserts a new six-digit code of kind `K` ([`insert`], digest [`code_hash`]); returns its row
/// and the code.
pub async fn insert_code<K: CodeKind>(
    tx: &mut Tx,
    vault: &Vault,
    env: &EnvironmentId,
    id: &str,
    user_id: &UserId,
    email: &str,
    extra: Option<(&'static str, Option<&str>)>,
) -> ApiResult<(K::Row, String)> {
    let code = random_digits(6);
    let new = NewSecret {
        id,
        user_id,
        email,
        secret: &code,
        digest: code_hash(id, &code),
        extra,
    };
    let row = insert::<K>(tx, vault, env, new).await?;
    Ok((row, code))
}

/// One row of the table by id.
pub async fn find_row<K: CodeTable>(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &K::Id,
) -> ApiResult<Option<K::Row>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {} from {} where environment_id = $1 and id = $2",
        K::COLUMNS,
        K::TABLE
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// The plaintext of a sealed code or token.
pub fn open_sealed(vault: &Vault, sealed: &[u8]) -> ApiResult<String> {
    Ok(String::from_utf8(vault.open(sealed)?).map_err(anyhow::Error::from)?)
}

/// `value` as a JSON event payload without its `secret` field (`*.created` events never carry
/// the code).
pub fn event_without<T: Serialize>(value: &T, secret: &str) -> ApiResult<Value> {
    let mut event = serde_json::to_value(value).map_err(anyhow::Error::from)?;
    if let Some(m) = event.as_object_mut() {
        m.remove(secret);
    }
    Ok(event)
}

/// What a redemption needs to know of a code row; candidates flatten it in
/// (`#[sqlx(flatten)]`) beside their kind's own columns.
#[derive(Debug, Clone, FromRow)]
pub struct CodeState<I> {
    /// The code's id.
    pub id: I,
    /// Its salted digest.
    pub code_hash: String,
    /// Wrong attempts so far.
    pub attempts: i32,
    /// Whether its lifetime is over.
    pub expired: bool,
    /// Whether it was spent.
    pub consumed: bool,
}

/// A candidate row of a redemption.
pub trait Candidate: for<'r> FromRow<'r, PgRow> + Send + Unpin {
    /// The code's id type.
    type Id: TypedId;
    /// Its [`CodeState`].
    fn state(&self) -> &CodeState<Self::Id>;
}

/// Checks `code` against the 20 newest codes of `scope` (the kind's [`CodeKind::SCOPE`] column)
/// and, when given, `email`, locking them. On success every live code of `scope` is spent (codes
/// work once) and the matching candidate returned; a wrong code counts an attempt against the
/// live ones. `extra` lists the candidate's own columns (`", user_id, invitation_id"`).
pub async fn redeem<K: CodeKind, C: Candidate>(
    tx: &mut Tx,
    env: &EnvironmentId,
    scope: &str,
    email: Option<&str>,
    extra: &str,
    code: &str,
) -> ApiResult<Result<C, CodeError>> {
    let (table, column) = (K::TABLE, K::SCOPE);
    let email_filter = if email.is_some() {
        " and email = $3"
    } else {
        ""
    };
    let sql = format!(
        "select id, code_hash, attempts, expires_at <= now() as expired,
           consumed_at is not null as consumed{extra}
         from {table} where environment_id = $1 and {column} = $2{email_filter}
         order by id desc limit 20 for update"
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(env)
        .bind(scope);
    if let Some(email) = email {
        query = query.bind(email);
    }
    let rows: Vec<C> = query.fetch_all(&mut **tx).await?;
    let matched = rows.into_iter().find(|r| {
        let s = r.state();
        ct_eq(
            s.code_hash.as_bytes(),
            code_hash(s.id.as_ref(), code.trim()).as_bytes(),
        )
    });
    Ok(match matched {
        Some(r) if r.state().consumed => Err(CodeError::PreviouslyUsed),
        Some(r) if r.state().attempts >= MAX_ATTEMPTS => Err(CodeError::TooManyAttempts),
        Some(r) if r.state().expired => Err(CodeError::Expired),
        Some(r) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "update {table} set consumed_at = now() where environment_id = $1 and {column} = $2
                   and consumed_at is null"
            )))
            .bind(env)
            .bind(scope)
            .execute(&mut **tx)
            .await?;
            Ok(r)
        }
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "update {table} set attempts = attempts + 1 where environment_id = $1 and {column} = $2
                   and consumed_at is null and expires_at > now()"
            )))
            .bind(env)
            .bind(scope)
            .execute(&mut **tx)
            .await?;
            Err(CodeError::Incorrect)
        }
    })
}
