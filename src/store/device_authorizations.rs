//! Device authorizations (RFC 8628): `POST /user_management/authorize/device` creates one, a
//! person approves or denies it on the verification page by its user code ([`approve`],
//! [`deny`]), and the device polls the `urn:ietf:params:oauth:grant-type:device_code` grant
//! ([`poll`]) until it is approved, denied or expired.
//!
//! The device code is random and stored as a SHA-256 digest. User codes are eight characters
//! from a 20-letter consonant alphabet shown as `XXXX-XXXX` (RFC 8628 §6.1), unique among
//! pending authorizations.

use chrono::{DateTime, Utc};
use rand::Rng;
use sqlx::{FromRow, PgConnection};

use crate::crypto::{random_token, sha256_hex};
use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::{DeviceAuthorizationId, EnvironmentId, OrganizationId, UserId};

/// Seconds a device authorization lives.
pub const LIFETIME_SECS: i32 = 600;
/// Seconds a device waits between polls at first.
pub const INTERVAL_SECS: i32 = 5;

/// RFC 8628 §6.1: consonants only, no vowels (no words), no look-alikes.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// A new authorization: the values shown once.
#[derive(Debug, Clone)]
pub struct Created {
    /// The secret the device polls with.
    pub device_code: String,
    /// The code a person types, `XXXX-XXXX`.
    pub user_code: String,
    /// Seconds until it expires.
    pub expires_in: i32,
    /// Seconds to wait between polls.
    pub interval: i32,
}

fn user_code() -> String {
    let mut rng = rand::rng();
    let mut code = String::with_capacity(9);
    for i in 0..8 {
        if i == 4 {
            code.push('-');
        }
        let c = USER_CODE_ALPHABET[rng.random_range(0..USER_CODE_ALPHABET.len())];
        code.push(char::from(c));
    }
    code
}

/// Normalises a typed user code: uppercase, dashes and spaces dropped, then `XXXX-XXXX`.
pub fn normalize_user_code(typed: &str) -> String {
    let raw: String = typed
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if raw.len() == 8 {
        format!("{}-{}", &raw[..4], &raw[4..])
    } else {
        raw
    }
}

/// Starts a device authorization.
pub async fn insert(tx: &mut Tx, env: &EnvironmentId) -> ApiResult<Created> {
    let device_code = random_token(32);
    // 20^8 codes: a clash with a pending one is rare; pick again when it happens.
    let mut code = user_code();
    for _ in 0..5 {
        let taken: bool = sqlx::query_scalar(
            "select exists(select 1 from device_authorizations where user_code = $1 and state = 'pending')",
        )
        .bind(&code)
        .fetch_one(&mut **tx)
        .await?;
        if !taken {
            break;
        }
        code = user_code();
    }
    sqlx::query(
        "insert into device_authorizations (id, environment_id, device_code_hash, user_code, state,
           interval_secs, expires_at)
         values ($1, $2, $3, $4, 'pending', $5, now() + make_interval(secs => $6))",
    )
    .bind(DeviceAuthorizationId::new())
    .bind(env)
    .bind(sha256_hex(&device_code))
    .bind(&code)
    .bind(INTERVAL_SECS)
    .bind(f64::from(LIFETIME_SECS))
    .execute(&mut **tx)
    .await?;
    Ok(Created {
        device_code,
        user_code: code,
        expires_in: LIFETIME_SECS,
        interval: INTERVAL_SECS,
    })
}

/// What a poll of the device-code grant finds (RFC 8628 §3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// No person has decided yet: `authorization_pending`.
    Pending,
    /// Polled faster than the interval (which grows by 5 s): `slow_down`.
    SlowDown,
    /// Past its lifetime: `expired_token`.
    Expired,
    /// The person denied it: `access_denied`.
    Denied,
    /// Unknown or already exchanged device code: `invalid_grant`.
    Invalid,
    /// Approved: issue tokens for this user (the authorization is now spent).
    Approved {
        /// The user who approved.
        user_id: UserId,
        /// The organization they chose, if any.
        organization_id: Option<OrganizationId>,
        /// How they signed in (session vocabulary).
        auth_method: String,
    },
}

#[derive(Debug, FromRow)]
struct Row {
    id: DeviceAuthorizationId,
    state: String,
    user_id: Option<UserId>,
    organization_id: Option<OrganizationId>,
    auth_method: Option<String>,
    expired: bool,
    too_fast: bool,
}

/// Polls with a device code, recording the poll time.
pub async fn poll(tx: &mut Tx, env: &EnvironmentId, device_code: &str) -> ApiResult<Poll> {
    let row: Option<Row> = sqlx::query_as(
        "select id, state, user_id, organization_id, auth_method, expires_at <= now() as expired,
           coalesce(last_polled_at > now() - make_interval(secs => interval_secs), false) as too_fast
         from device_authorizations where environment_id = $1 and device_code_hash = $2 for update",
    )
    .bind(env)
    .bind(sha256_hex(device_code))
    .fetch_optional(&mut **tx)
    .await?;
    let Some(r) = row else {
        return Ok(Poll::Invalid);
    };
    let outcome = match r.state.as_str() {
        "consumed" => Poll::Invalid,
        "denied" => Poll::Denied,
        _ if r.expired => Poll::Expired,
        "approved" => match (r.user_id, r.auth_method) {
            (Some(user_id), Some(auth_method)) => {
                sqlx::query(
                    "update device_authorizations set state = 'consumed', last_polled_at = now()
                     where environment_id = $1 and id = $2",
                )
                .bind(env)
                .bind(&r.id)
                .execute(&mut **tx)
                .await?;
                return Ok(Poll::Approved {
                    user_id,
                    organization_id: r.organization_id,
                    auth_method,
                });
            }
            _ => Poll::Invalid,
        },
        _ if r.too_fast => {
            sqlx::query(
                "update device_authorizations set interval_secs = interval_secs + 5, last_polled_at = now()
                 where environment_id = $1 and id = $2",
            )
            .bind(env)
            .bind(&r.id)
            .execute(&mut **tx)
            .await?;
            return Ok(Poll::SlowDown);
        }
        _ => Poll::Pending,
    };
    sqlx::query("update device_authorizations set last_polled_at = now() where environment_id = $1 and id = $2")
        .bind(env)
        .bind(&r.id)
        .execute(&mut **tx)
        .await?;
    Ok(outcome)
}

/// A pending authorization as the verification page shows it.
#[derive(Debug, Clone, FromRow)]
pub struct Waiting {
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
    /// Its user code.
    pub user_code: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// The live pending authorization with this user code, in any environment: the verification
/// page is reached without a client id (user codes are unique among pending ones).
pub async fn find_pending(conn: &mut PgConnection, user_code: &str) -> ApiResult<Option<Waiting>> {
    Ok(sqlx::query_as(
        "select environment_id, user_code, expires_at from device_authorizations
         where user_code = $1 and state = 'pending' and expires_at > now()",
    )
    .bind(normalize_user_code(user_code))
    .fetch_optional(conn)
    .await?)
}

/// Approves the live pending authorization `user_code` of `env` for a signed-in user; false when
/// there is none.
pub async fn approve(
    tx: &mut Tx,
    env: &EnvironmentId,
    user_code: &str,
    user_id: &UserId,
    organization_id: Option<&OrganizationId>,
    auth_method: &str,
) -> ApiResult<bool> {
    let done = sqlx::query(
        "update device_authorizations set state = 'approved', user_id = $3, organization_id = $4, auth_method = $5
         where environment_id = $1 and user_code = $2 and state = 'pending' and expires_at > now()",
    )
    .bind(env)
    .bind(normalize_user_code(user_code))
    .bind(user_id)
    .bind(organization_id)
    .bind(auth_method)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Denies the live pending authorization `user_code` of `env`; false when there is none.
pub async fn deny(tx: &mut Tx, env: &EnvironmentId, user_code: &str) -> ApiResult<bool> {
    let done = sqlx::query(
        "update device_authorizations set state = 'denied'
         where environment_id = $1 and user_code = $2 and state = 'pending' and expires_at > now()",
    )
    .bind(env)
    .bind(normalize_user_code(user_code))
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
