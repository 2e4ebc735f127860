//! Authentication factors and challenges (spec tags `multi-factor-auth`,
//! `multi-factor-auth.challenges`, `user-management.multi-factor-authentication`; schemas
//! `AuthenticationFactor`, `AuthenticationFactorEnrolled`, `AuthenticationChallenge`).
//!
//! Only TOTP factors exist. Secrets are sealed with the vault and shown once, at enrollment
//! (WORKOS-API-NOTES §8 item 8). A challenge is verified with a code of the factor's current
//! step ±1 ([`crate::crypto::totp`]); `last_used_step` makes every code usable once.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};

use super::one_time_codes::{CodeError, MAX_ATTEMPTS, expires_in};
use super::page::ListParams;
use crate::crypto::totp;
use crate::crypto::vault::Vault;
use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::ids::EnvironmentId;
use crate::ids::{new_id, prefix};

/// Lifetime of a challenge, in minutes.
pub const CHALLENGE_LIFETIME_MINUTES: i64 = 10;

/// `totp` of a factor after enrollment: who it is for.
#[derive(Debug, Clone, Serialize)]
pub struct TotpInfo {
    /// Issuer shown by authenticator apps.
    pub issuer: String,
    /// Account name shown by authenticator apps.
    pub user: String,
}

/// A factor as reads return it (`AuthenticationFactor`).
#[derive(Debug, Clone, Serialize)]
pub struct Factor {
    /// Always `"authentication_factor"`.
    pub object: &'static str,
    /// `auth_factor_…`
    pub id: String,
    /// Always `totp`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The user, for factors enrolled for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Issuer and account name.
    pub totp: TotpInfo,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `totp` at enrollment: adds the secret, its QR code and URI (shown this once).
#[derive(Debug, Clone, Serialize)]
pub struct EnrolledTotp {
    /// Issuer shown by authenticator apps.
    pub issuer: String,
    /// Account name shown by authenticator apps.
    pub user: String,
    /// Base32 secret.
    pub secret: String,
    /// `data:image/png;base64,…` QR code of `uri`.
    pub qr_code: String,
    /// `otpauth://totp/…`
    pub uri: String,
}

/// A factor as enrollment returns it (`AuthenticationFactorEnrolled`).
#[derive(Debug, Clone, Serialize)]
pub struct EnrolledFactor {
    /// Always `"authentication_factor"`.
    pub object: &'static str,
    /// `auth_factor_…`
    pub id: String,
    /// Always `totp`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The user, for factors enrolled for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Secret, QR code and URI.
    pub totp: EnrolledTotp,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// A challenge (`AuthenticationChallenge`); TOTP challenges carry no `code`.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Challenge {
    /// Always `"authentication_challenge"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// `auth_challenge_…`
    pub id: String,
    /// When the challenge stops accepting codes.
    #[serde(with = "crate::timestamp")]
    pub expires_at: DateTime<Utc>,
    /// The factor challenged.
    #[sqlx(rename = "factor_id")]
    pub authentication_factor_id: String,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, FromRow)]
struct Row {
    id: String,
    #[sqlx(rename = "type")]
    kind: String,
    user_id: Option<String>,
    totp_issuer: String,
    totp_user: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, type, user_id, totp_issuer, totp_user, created_at, updated_at";
const CHALLENGE_COLUMNS: &str = "id, expires_at, factor_id, created_at, updated_at";

impl From<Row> for Factor {
    fn from(r: Row) -> Self {
        Self {
            object: "authentication_factor",
            id: r.id,
            kind: r.kind,
            user_id: r.user_id,
            totp: TotpInfo {
                issuer: r.totp_issuer,
                user: r.totp_user,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn tag(mut c: Challenge) -> Challenge {
    c.object = "authentication_challenge";
    c
}

/// Input of [`insert`].
#[derive(Debug)]
pub struct NewFactor<'a> {
    /// The user the factor belongs to, if any.
    pub user_id: Option<&'a str>,
    /// Issuer shown by authenticator apps.
    pub issuer: &'a str,
    /// Account name shown by authenticator apps.
    pub user: &'a str,
    /// The raw secret (≥ 128 bits).
    pub secret: Vec<u8>,
}

/// Enrolls a TOTP factor; the response is the only one that shows the secret.
pub async fn insert(
    tx: &mut Tx,
    vault: &Vault,
    env: &EnvironmentId,
    new: NewFactor<'_>,
) -> ApiResult<EnrolledFactor> {
    let enrollment = totp::enrollment(&new.secret, new.issuer, new.user)?;
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into authentication_factors (id, environment_id, user_id, type, totp_issuer, totp_user, secret_sealed)
         values ($1, $2, $3, 'totp', $4, $5, $6) returning {COLUMNS}"
    )))
    .bind(new_id(prefix::AUTHENTICATION_FACTOR))
    .bind(env)
    .bind(new.user_id)
    .bind(new.issuer)
    .bind(new.user)
    .bind(vault.seal(&new.secret)?)
    .fetch_one(&mut **tx)
    .await?;
    Ok(EnrolledFactor {
        object: "authentication_factor",
        id: row.id,
        kind: row.kind,
        user_id: row.user_id,
        totp: EnrolledTotp {
            issuer: row.totp_issuer,
            user: row.totp_user,
            secret: totp::to_base32(&new.secret),
            qr_code: enrollment.qr_code,
            uri: enrollment.uri,
        },
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// One factor by id.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &str,
) -> ApiResult<Option<Factor>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from authentication_factors where environment_id = $1 and id = $2"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Factor::from))
}

/// One page (`limit + 1` rows) of a user's factors.
pub async fn list_for_user(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    user_id: &str,
    params: &ListParams,
) -> ApiResult<Vec<Factor>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {COLUMNS} from authentication_factors where environment_id = "
    ));
    qb.push_bind(env.to_string())
        .push(" and user_id = ")
        .push_bind(user_id.to_string());
    params.push_keyset(&mut qb, "id");
    let rows: Vec<Row> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(Factor::from).collect())
}

/// Every factor of a user, oldest first (what a sign-in must challenge).
pub async fn all_for_user(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    user_id: &str,
) -> ApiResult<Vec<Factor>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from authentication_factors where environment_id = $1 and user_id = $2 order by id"
    )))
    .bind(env)
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Factor::from).collect())
}

/// Deletes a factor (and its challenges); 404 when absent.
pub async fn delete(tx: &mut Tx, env: &EnvironmentId, id: &str) -> ApiResult<()> {
    let done =
        sqlx::query("delete from authentication_factors where environment_id = $1 and id = $2")
            .bind(env)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("Authentication Factor", id));
    }
    Ok(())
}

/// Creates a challenge for a factor of the environment (checked by the caller).
pub async fn insert_challenge(
    tx: &mut Tx,
    env: &EnvironmentId,
    factor_id: &str,
) -> ApiResult<Challenge> {
    let c: Challenge = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into authentication_challenges (id, environment_id, factor_id, expires_at)
         values ($1, $2, $3, $4) returning {CHALLENGE_COLUMNS}"
    )))
    .bind(new_id(prefix::AUTHENTICATION_CHALLENGE))
    .bind(env)
    .bind(factor_id)
    .bind(expires_in(CHALLENGE_LIFETIME_MINUTES))
    .fetch_one(&mut **tx)
    .await?;
    Ok(tag(c))
}

/// The outcome of [`verify`].
#[derive(Debug)]
pub struct Verification {
    /// The challenge, as it is now.
    pub challenge: Challenge,
    /// The challenged factor.
    pub factor: Factor,
    /// `Ok` when the code was accepted, else why not.
    pub result: Result<(), CodeError>,
}

#[derive(Debug, FromRow)]
struct SealedRow {
    #[sqlx(flatten)]
    row: Row,
    secret_sealed: Vec<u8>,
}

#[derive(Debug, FromRow)]
struct ChallengeState {
    factor_id: String,
    attempts: i32,
    expired: bool,
    verified: bool,
}

/// Checks `code` against a challenge. An accepted code spends its TOTP step for the factor and
/// verifies the challenge; a verified challenge accepts nothing more. Wrong codes count attempts.
/// Errors: 404 unknown challenge.
pub async fn verify(
    tx: &mut Tx,
    vault: &Vault,
    env: &EnvironmentId,
    challenge_id: &str,
    code: &str,
) -> ApiResult<Verification> {
    let state: ChallengeState = sqlx::query_as(
        "select factor_id, attempts, expires_at <= now() as expired, verified_at is not null as verified
         from authentication_challenges where environment_id = $1 and id = $2 for update",
    )
    .bind(env)
    .bind(challenge_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| ApiError::not_found("Authentication Challenge", challenge_id))?;
    let SealedRow { row, secret_sealed } = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS}, secret_sealed from authentication_factors where environment_id = $1 and id = $2 for update"
    )))
    .bind(env)
    .bind(&state.factor_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| ApiError::not_found("Authentication Challenge", challenge_id))?;
    let result = if state.verified {
        Err(CodeError::PreviouslyUsed)
    } else if state.attempts >= MAX_ATTEMPTS {
        Err(CodeError::TooManyAttempts)
    } else if state.expired {
        Err(CodeError::Expired)
    } else {
        let secret = vault.open(&secret_sealed)?;
        match totp::check(&secret, code, totp::now()) {
            None => Err(CodeError::Incorrect),
            Some(step) => {
                let step = i64::try_from(step).map_err(anyhow::Error::from)?;
                let spent = sqlx::query(
                    "update authentication_factors set last_used_step = $3 where environment_id = $1 and id = $2
                       and (last_used_step is null or last_used_step < $3)",
                )
                .bind(env)
                .bind(&row.id)
                .bind(step)
                .execute(&mut **tx)
                .await?;
                if spent.rows_affected() == 1 {
                    Ok(())
                } else {
                    Err(CodeError::PreviouslyUsed)
                }
            }
        }
    };
    let update = if result.is_ok() {
        "update authentication_challenges set verified_at = now() where environment_id = $1 and id = $2"
    } else {
        "update authentication_challenges set attempts = attempts + 1 where environment_id = $1 and id = $2"
    };
    let counts = !matches!(result, Err(CodeError::TooManyAttempts | CodeError::Expired));
    if counts && !state.verified {
        sqlx::query(update)
            .bind(env)
            .bind(challenge_id)
            .execute(&mut **tx)
            .await?;
    }
    let challenge: Challenge = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {CHALLENGE_COLUMNS} from authentication_challenges where environment_id = $1 and id = $2"
    )))
    .bind(env)
    .bind(challenge_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Verification {
        challenge: tag(challenge),
        factor: Factor::from(row),
        result,
    })
}

/// Checks a TOTP `code` against every factor of a user (the hosted login's TOTP step): the
/// first factor that accepts it spends that time step, so each code works once. `false` when
/// no factor accepts it.
pub async fn verify_for_user(
    tx: &mut Tx,
    vault: &Vault,
    env: &EnvironmentId,
    user_id: &str,
    code: &str,
) -> ApiResult<bool> {
    let factors: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "select id, secret_sealed from authentication_factors
         where environment_id = $1 and user_id = $2 order by id for update",
    )
    .bind(env)
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await?;
    for (id, sealed) in factors {
        let secret = vault.open(&sealed)?;
        let Some(step) = totp::check(&secret, code, totp::now()) else {
            continue;
        };
        let step = i64::try_from(step).map_err(anyhow::Error::from)?;
        let spent = sqlx::query(
            "update authentication_factors set last_used_step = $3 where environment_id = $1 and id = $2
               and (last_used_step is null or last_used_step < $3)",
        )
        .bind(env)
        .bind(&id)
        .bind(step)
        .execute(&mut **tx)
        .await?;
        if spent.rows_affected() == 1 {
            return Ok(true);
        }
    }
    Ok(false)
}
