//! Radar attempts (`radar_attempts`) and per-email sign-in profiles (`radar_profiles`): what
//! `POST /radar/attempts` and Keystead's own sign-ins record, `PUT /radar/attempts/{id}` marks
//! successful, and the windowed counters of the controls read ([`signals`], one round trip).
//!
//! An attempt counts as failed until it is marked successful. Attempts are kept two days (the
//! longest counting window is one day; [`prune`]); a profile holds the last success and at most
//! [`MAX_DEVICES`] recognised devices per email, so memory per email is bounded.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};

use crate::ids::{EnvironmentId, RadarAttemptId};

/// Devices remembered per email (the most recent ones).
pub const MAX_DEVICES: i32 = 20;

/// How long attempts are kept, in hours.
pub const RETENTION_HOURS: i32 = 48;

/// An attempt to record.
#[derive(Debug, Clone)]
pub struct NewAttempt<'a> {
    /// `radar_att_…`
    pub id: &'a RadarAttemptId,
    /// Normalised (lowercase) email.
    pub email: &'a str,
    /// Its domain.
    pub email_domain: &'a str,
    /// Its repeat-sign-up key (no `+tag`).
    pub email_key: &'a str,
    /// Canonical IP address, when known.
    pub ip_address: Option<&'a str>,
    /// User agent, when known.
    pub user_agent: Option<&'a str>,
    /// Device id (signals id or device fingerprint), when known.
    pub device: Option<&'a str>,
    /// `sign-in` or `sign-up`.
    pub action: &'a str,
    /// The spec's `auth_method` (`Password`, `Email_OTP`, `SSO`, …).
    pub auth_method: &'a str,
    /// `allow`, `block` or `challenge`.
    pub verdict: &'a str,
    /// The control that decided, if any.
    pub control: Option<&'a str>,
    /// The list type of a `restriction`.
    pub blocklist_type: Option<&'a str>,
    /// GeoIP country (ISO code), when known.
    pub country: Option<&'a str>,
    /// GeoIP position, when known.
    pub position: Option<(f64, f64)>,
}

/// Records an attempt.
pub async fn insert(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    a: &NewAttempt<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into radar_attempts (environment_id, id, email, email_domain, email_key,
         ip_address, user_agent, device, action, auth_method, verdict, control, blocklist_type,
         country, latitude, longitude)
         values ($1, $2, $3, $4, $5, $6::inet, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(env)
    .bind(a.id)
    .bind(a.email)
    .bind(a.email_domain)
    .bind(a.email_key)
    .bind(a.ip_address)
    .bind(a.user_agent)
    .bind(a.device)
    .bind(a.action)
    .bind(a.auth_method)
    .bind(a.verdict)
    .bind(a.control)
    .bind(a.blocklist_type)
    .bind(a.country)
    .bind(a.position.map(|p| p.0))
    .bind(a.position.map(|p| p.1))
    .execute(conn)
    .await?;
    Ok(())
}

/// What the counters ask about.
#[derive(Debug, Clone)]
pub struct SignalsQuery<'a> {
    /// Normalised email.
    pub email: &'a str,
    /// Its domain.
    pub email_domain: &'a str,
    /// Its repeat-sign-up key.
    pub email_key: &'a str,
    /// Canonical IP address, when known.
    pub ip_address: Option<&'a str>,
    /// Device id, when known.
    pub device: Option<&'a str>,
    /// The sign-in window, in seconds.
    pub window_seconds: u32,
    /// The sign-up window, in seconds.
    pub sign_up_window_seconds: u32,
    /// Device ids (signals id, device fingerprint) for the device lists.
    pub devices: Vec<&'a str>,
    /// User agent, for the user-agent lists.
    pub user_agent: Option<&'a str>,
    /// GeoIP country (uppercase ISO code), for the country lists.
    pub country: Option<&'a str>,
    /// Count in PostgreSQL (`false`: the counters come from Redis and are returned as 0).
    pub count: bool,
}

/// The counters and the profile for one assessment (attempts before this one).
#[derive(Debug, Clone, Default, FromRow)]
pub struct Signals {
    /// Failed sign-ins of the email in the window (any IP).
    pub email_failures: i64,
    /// Distinct emails with failed sign-ins from the IP in the window.
    pub ip_failed_emails: i64,
    /// Sign-ups from the IP in the sign-up window.
    pub ip_sign_ups: i64,
    /// Sign-ups with the email's domain in the sign-up window.
    pub domain_sign_ups: i64,
    /// Other emails signed up with the same email key or device in the sign-up window.
    pub repeat_sign_ups: i64,
    /// The email's last successful sign-in, if it has history.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Where that sign-in came from (GeoIP), when known.
    pub last_latitude: Option<f64>,
    /// See `last_latitude`.
    pub last_longitude: Option<f64>,
    /// The email's recognised devices.
    pub devices: Option<Vec<String>>,
    /// The matching list entries, as `list_type:action`.
    pub lists: Vec<String>,
}

/// The windowed counters, the profile and the matching allow/block list entries
/// (`radar_list_entries`; IP entries are networks matched with `>>=`), in one statement.
pub async fn signals(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    q: &SignalsQuery<'_>,
) -> sqlx::Result<Signals> {
    sqlx::query_as(
        "select
           case when $12 then (select count(*) from radar_attempts where environment_id = $1 and email = $2
              and action = 'sign-in' and not succeeded
              and created_at > now() - make_interval(secs => $4)) else 0 end as email_failures,
           case when $12 then (select count(distinct email) from radar_attempts where environment_id = $1
              and ip_address = $3::inet and action = 'sign-in' and not succeeded
              and created_at > now() - make_interval(secs => $4)) else 0 end as ip_failed_emails,
           case when $12 then (select count(*) from radar_attempts where environment_id = $1
              and ip_address = $3::inet and action = 'sign-up'
              and created_at > now() - make_interval(secs => $5)) else 0 end as ip_sign_ups,
           case when $12 then (select count(*) from radar_attempts where environment_id = $1 and email_domain = $6
              and action = 'sign-up'
              and created_at > now() - make_interval(secs => $5)) else 0 end as domain_sign_ups,
           case when $12 then (select count(distinct email) from radar_attempts where environment_id = $1
              and action = 'sign-up' and email <> $2
              and created_at > now() - make_interval(secs => $5)
              and (email_key = $7 or device = $8)) else 0 end as repeat_sign_ups,
           p.last_success_at, p.last_latitude, p.last_longitude, p.devices,
           array(select l.list_type || ':' || l.action from radar_list_entries l
             where l.environment_id = $1 and (
               (l.list_type = 'ip_address' and l.network >>= $3::inet)
               or (l.list_type = 'domain' and l.entry = $6)
               or (l.list_type = 'email' and l.entry = $2)
               or (l.list_type in ('device', 'device_fingerprint') and l.entry = any($9))
               or (l.list_type = 'user_agent' and l.entry = $10)
               or (l.list_type = 'country' and l.entry = $11))) as lists
         from (select 1) as one
         left join radar_profiles p on p.environment_id = $1 and p.email = $2",
    )
    .bind(env)
    .bind(q.email)
    .bind(q.ip_address)
    .bind(f64::from(q.window_seconds))
    .bind(f64::from(q.sign_up_window_seconds))
    .bind(q.email_domain)
    .bind(q.email_key)
    .bind(q.device)
    .bind(&q.devices)
    .bind(q.user_agent)
    .bind(q.country)
    .bind(q.count)
    .fetch_one(conn)
    .await
}

/// A recorded attempt, as [`mark_succeeded`] returns it.
#[derive(Debug, Clone, FromRow)]
pub struct MarkedAttempt {
    /// `radar_att_…`
    pub id: RadarAttemptId,
    /// `sign-in` or `sign-up`.
    pub action: String,
    /// The IP address, when known.
    pub ip: Option<String>,
    /// The email.
    pub email: String,
    /// Device id, when known.
    pub device: Option<String>,
    /// User agent, when known.
    pub user_agent: Option<String>,
    /// GeoIP position, when known.
    pub latitude: Option<f64>,
    /// See `latitude`.
    pub longitude: Option<f64>,
    /// When the attempt was made.
    pub created_at: DateTime<Utc>,
}

/// Marks the attempt successful (`attempt`) and/or its challenge passed (`challenge`); `None`
/// when the environment has no such attempt.
pub async fn mark_succeeded(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &RadarAttemptId,
    attempt: bool,
    challenge: bool,
) -> sqlx::Result<Option<MarkedAttempt>> {
    sqlx::query_as(
        "update radar_attempts set succeeded = succeeded or $3,
         challenge_succeeded = challenge_succeeded or $4
         where environment_id = $1 and id = $2
         returning id, action, host(ip_address) as ip, email, device, user_agent, latitude,
           longitude, created_at",
    )
    .bind(env)
    .bind(id)
    .bind(attempt)
    .bind(challenge)
    .fetch_optional(conn)
    .await
}

/// Marks the email's latest unsuccessful sign-in attempt of the last `window_seconds`
/// successful (a Keystead sign-in that went through); `None` when there is none.
pub async fn mark_latest_succeeded(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    email: &str,
    window_seconds: u32,
) -> sqlx::Result<Option<MarkedAttempt>> {
    sqlx::query_as(
        "update radar_attempts set succeeded = true
         where environment_id = $1 and id = (
           select id from radar_attempts where environment_id = $1 and email = $2
             and action = 'sign-in' and not succeeded
             and created_at > now() - make_interval(secs => $3)
           order by created_at desc limit 1)
         returning id, action, host(ip_address) as ip, email, device, user_agent, latitude,
           longitude, created_at",
    )
    .bind(env)
    .bind(email)
    .bind(f64::from(window_seconds))
    .fetch_optional(conn)
    .await
}

/// Records a successful sign-in in the email's profile: its time and position (when known),
/// and its device signature `device` first among at most [`MAX_DEVICES`].
pub async fn record_success(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    m: &MarkedAttempt,
    device: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into radar_profiles (environment_id, email, last_success_at, last_latitude,
           last_longitude, devices)
         values ($1, $2, $3, $4, $5, case when $6::text is null then '{}'::text[] else array[$6::text] end)
         on conflict (environment_id, email) do update set
           last_success_at = greatest(radar_profiles.last_success_at, excluded.last_success_at),
           last_latitude = coalesce(excluded.last_latitude, radar_profiles.last_latitude),
           last_longitude = coalesce(excluded.last_longitude, radar_profiles.last_longitude),
           devices = case when $6::text is null then radar_profiles.devices
             else (array[$6::text] || array_remove(radar_profiles.devices, $6::text))[1:$7] end",
    )
    .bind(env)
    .bind(&m.email)
    .bind(m.created_at)
    .bind(m.latitude)
    .bind(m.longitude)
    .bind(device)
    .bind(MAX_DEVICES)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes up to 1,000 attempts older than [`RETENTION_HOURS`]; returns how many.
pub async fn prune(conn: &mut PgConnection) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "delete from radar_attempts where ctid = any(array(
           select ctid from radar_attempts
           where created_at < now() - make_interval(hours => $1) limit 1000))",
    )
    .bind(RETENTION_HOURS)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
