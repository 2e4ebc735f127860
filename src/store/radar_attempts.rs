//! Radar attempts (`radar_attempts`) and per-email sign-in profiles (`radar_profiles`): what
//! `POST /radar/attempts` and Keystead's own sign-ins record, `PUT /radar/attempts/{id}` marks
//! successful, and the windowed counters the controls read.
//!
//! An assessment is one statement ([`assess`]): it reads the environment's Radar settings,
//! records the attempt (when Radar screens it), and returns the counters of the attempts
//! before it, the email's profile and the matching list entries. Each counter reads only the
//! current action's rows through an index holding exactly the rows it counts, and stops at its
//! control's threshold, so an assessment costs the same however many attempts the window holds.
//! The verdict, decided afterwards, is stored as `allow` and corrected by [`set_verdict`] when it
//! is not. Marking an attempt successful also remembers it in the profile, in one statement
//! ([`mark_succeeded`], [`mark_latest_succeeded`]).
//!
//! An attempt counts as failed until it is marked successful. Attempts are kept two days (the
//! longest counting window is one day; [`prune`]); a profile holds the last success and at most
//! [`MAX_DEVICES`] recognised devices per email, so memory per email is bounded.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, FromRow, PgConnection};

use super::radar_settings::{RadarStored, THRESHOLDS};
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
    /// The device signature a success remembers in the profile, when known.
    pub signature: Option<&'a str>,
    /// `sign-in` or `sign-up`.
    pub action: &'a str,
    /// The spec's `auth_method` (`Password`, `Email_OTP`, `SSO`, …).
    pub auth_method: &'a str,
    /// GeoIP country (ISO code), when known.
    pub country: Option<&'a str>,
    /// GeoIP position, when known.
    pub position: Option<(f64, f64)>,
}

/// What else an assessment asks about its attempt.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// Device ids (signals id, device fingerprint) for the device lists.
    pub devices: &'a [&'a str],
    /// Count in PostgreSQL (`false`: the counters come from Redis and are returned as 0).
    pub count: bool,
    /// Only when the environment has Radar enabled (Keystead's own sign-ins); otherwise
    /// nothing is recorded or read but the settings.
    pub only_if_enabled: bool,
}

/// The counters and the profile for one assessment (attempts before this one). A counter
/// stops at its control's threshold: it is exact below it and equal to it at or above it.
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

/// What [`assess`] found.
#[derive(Debug, Clone, FromRow)]
pub struct Assessment {
    /// The environment's Radar settings as stored.
    #[sqlx(flatten)]
    pub settings: RadarStored,
    /// Whether the attempt was recorded (always, unless `only_if_enabled` and Radar is off;
    /// then the signals are empty).
    pub recorded: bool,
    /// The counters, the profile and the list entries.
    #[sqlx(flatten)]
    pub signals: Signals,
}

/// The default of the numeric setting `key` (see [`THRESHOLDS`]).
fn default_of(key: &str) -> u32 {
    THRESHOLDS
        .iter()
        .find(|t| t.key == key)
        .map_or(1, |t| t.default)
}

/// Most recent sign-ups of one email key (or device) the repeat-sign-up count reads.
const REPEAT_SCAN: u32 = 10_000;

/// The statement of [`assess`]. `s` is the settings row (defaults filled in); each counter is
/// evaluated only for its action, ordered by the index it scans and cut at its threshold.
/// Distinct failing emails per IP are read by a skip scan (one index probe per email), so
/// repeated failures of one email from one IP cost one probe, not one row each; repeat
/// sign-ups read at most [`REPEAT_SCAN`] rows per key. Every scan is ordered as exactly one
/// index is, so the plan is the same before the table has statistics (a new installation).
static ASSESS: LazyLock<String> = LazyLock::new(|| {
    let d = default_of;
    format!(
        "with s as (
           select {stored},
             coalesce(r.radar_enabled, false) or not $17 as go,
             now() - make_interval(secs => coalesce(r.radar_window_seconds, {window})) as since,
             now() - make_interval(secs => coalesce(r.radar_sign_up_window_seconds, {sign_up_window}))
               as sign_up_since,
             coalesce(r.radar_brute_force_threshold, {brute_force}) as brute_force,
             coalesce(r.radar_credential_stuffing_threshold, {stuffing}) as stuffing,
             coalesce(r.radar_ip_sign_up_threshold, {ip_sign_up}) as ip_sign_up,
             coalesce(r.radar_domain_sign_up_threshold, {domain_sign_up}) as domain_sign_up,
             coalesce(r.radar_repeat_sign_up_threshold, {repeat}) as repeat_sign_up
           from (select 1) as one left join radar_settings r on r.environment_id = $1
         ), recorded as (
           insert into radar_attempts (environment_id, id, email, email_domain, email_key,
             ip_address, user_agent, device, action, auth_method, verdict, country, latitude,
             longitude, signature)
           select $1, $2, $3, $4, $5, $6::inet, $7, $8, $9, $10, 'allow', $11, $12, $13, $14
           from s where s.go
         )
         select {stored_s}, s.go as recorded,
           case when s.go and $16 and $9 = 'sign-in' then (select count(*) from (
             select from radar_attempts a where a.environment_id = $1 and a.email = $3
               and a.action = 'sign-in' and not a.succeeded and a.created_at > (select since from s)
             order by a.created_at desc limit (select brute_force from s)) c) else 0 end
             as email_failures,
           case when s.go and $16 and $9 = 'sign-in' and $6 is not null then (select count(*) from (
             with recursive e(email) as (
               (select a.email from radar_attempts a where a.environment_id = $1
                  and a.ip_address = $6::inet and a.action = 'sign-in' and not a.succeeded
                  and a.created_at > (select since from s)
                order by a.ip_address, a.email limit 1)
               union all
               select (select a.email from radar_attempts a where a.environment_id = $1
                   and a.ip_address = $6::inet and a.action = 'sign-in' and not a.succeeded
                   and a.created_at > (select since from s) and a.email > e.email
                 order by a.ip_address, a.email limit 1)
               from e where e.email is not null)
             select from e where e.email is not null limit (select stuffing from s)) c) else 0 end
             as ip_failed_emails,
           case when s.go and $16 and $9 = 'sign-up' and $6 is not null then (select count(*) from (
             select from radar_attempts a where a.environment_id = $1 and a.ip_address = $6::inet
               and a.action = 'sign-up' and a.created_at > (select sign_up_since from s)
             order by a.created_at desc limit (select ip_sign_up from s)) c) else 0 end
             as ip_sign_ups,
           case when s.go and $16 and $9 = 'sign-up' then (select count(*) from (
             select from radar_attempts a where a.environment_id = $1 and a.email_domain = $4
               and a.action = 'sign-up' and a.created_at > (select sign_up_since from s)
             order by a.created_at desc limit (select domain_sign_up from s)) c) else 0 end
             as domain_sign_ups,
           case when s.go and $16 and $9 = 'sign-up' then (select count(*) from (
             select from (
               (select a.email from radar_attempts a where a.environment_id = $1
                 and a.email_key = $5 and a.action = 'sign-up'
                 and a.created_at > (select sign_up_since from s)
                order by a.created_at desc limit {scan})
               union
               (select a.email from radar_attempts a where a.environment_id = $1
                 and a.device = $8 and a.action = 'sign-up' and a.device is not null
                 and a.created_at > (select sign_up_since from s)
                order by a.created_at desc limit {scan})) o
             where o.email <> $3 limit (select repeat_sign_up from s)) c) else 0 end
             as repeat_sign_ups,
           p.last_success_at, p.last_latitude, p.last_longitude, p.devices,
           case when s.go then array(select l.list_type || ':' || l.action
             from radar_list_entries l where l.environment_id = $1 and (
               (l.list_type = 'ip_address' and l.network >>= $6::inet)
               or (l.list_type = 'domain' and l.entry = $4)
               or (l.list_type = 'email' and l.entry = $3)
               or (l.list_type in ('device', 'device_fingerprint') and l.entry = any($15))
               or (l.list_type = 'user_agent' and l.entry = $7)
               or (l.list_type = 'country' and l.entry = $11))) else '{{}}' end as lists
         from s left join radar_profiles p on s.go and p.environment_id = $1 and p.email = $3",
        stored = super::radar_settings::COLUMNS,
        stored_s = super::radar_settings::COLUMNS.replace("r.", "s."),
        window = d("window_seconds"),
        sign_up_window = d("sign_up_window_seconds"),
        brute_force = d("brute_force_threshold"),
        stuffing = d("credential_stuffing_threshold"),
        ip_sign_up = d("ip_sign_up_threshold"),
        domain_sign_up = d("domain_sign_up_threshold"),
        repeat = d("repeat_sign_up_threshold"),
        scan = REPEAT_SCAN,
    )
});

/// Reads the environment's Radar settings and, unless `ask.only_if_enabled` finds Radar off,
/// records `a` (verdict `allow`) and reads its signals: one statement.
pub async fn assess(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    a: &NewAttempt<'_>,
    ask: Ask<'_>,
) -> sqlx::Result<Assessment> {
    sqlx::query_as(AssertSqlSafe(ASSESS.as_str()))
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
        .bind(a.country)
        .bind(a.position.map(|p| p.0))
        .bind(a.position.map(|p| p.1))
        .bind(a.signature)
        .bind(ask.devices)
        .bind(ask.count)
        .bind(ask.only_if_enabled)
        .fetch_one(conn)
        .await
}

/// A verdict as stored.
#[derive(Debug, Clone, FromRow)]
pub struct StoredVerdict {
    /// `allow`, `block` or `challenge`.
    pub verdict: String,
    /// The control behind a `block` or `challenge`.
    pub control: Option<String>,
    /// The list type of a `restriction`.
    pub blocklist_type: Option<String>,
    /// Why (kept for verdicts other than `allow`).
    pub reason: Option<String>,
}

/// Stores the verdict of a recorded attempt whose decision was not `allow`.
pub async fn set_verdict(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &RadarAttemptId,
    v: &StoredVerdict,
) -> sqlx::Result<()> {
    sqlx::query(
        "update radar_attempts set verdict = $3, control = $4, blocklist_type = $5, reason = $6
         where environment_id = $1 and id = $2",
    )
    .bind(env)
    .bind(id)
    .bind(&v.verdict)
    .bind(&v.control)
    .bind(&v.blocklist_type)
    .bind(&v.reason)
    .execute(conn)
    .await?;
    Ok(())
}

static LINK: LazyLock<String> = LazyLock::new(|| {
    format!(
        "with s as (
           select coalesce(r.radar_enabled, false) as enabled,
             now() - make_interval(secs => coalesce(r.radar_window_seconds, {window})) as since
           from (select 1) as one left join radar_settings r on r.environment_id = $1
         )
         update radar_attempts a set linked = true from s
         where s.enabled and a.environment_id = $1 and a.id = $2 and a.email = $3
           and a.action = 'sign-in' and not a.linked and not a.succeeded and a.created_at > s.since
         returning a.verdict, a.control, a.blocklist_type, a.reason",
        window = default_of("window_seconds"),
    )
});

/// Takes over attempt `id` for a Keystead sign-in of `email` (normalised), when the
/// environment has Radar enabled and the attempt is a sign-in of that email in the window,
/// neither successful nor taken over before: returns its verdict (`None`: assess anew).
pub async fn link(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &RadarAttemptId,
    email: &str,
) -> sqlx::Result<Option<StoredVerdict>> {
    sqlx::query_as(AssertSqlSafe(LINK.as_str()))
        .bind(env)
        .bind(id)
        .bind(email)
        .fetch_optional(conn)
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
}

/// Remembers the marked attempt `m` in its email's profile: the time and position (when
/// known), and its device signature (else its device id) first among at most [`MAX_DEVICES`].
fn remember() -> String {
    format!(
        "remembered as (
   insert into radar_profiles (environment_id, email, last_success_at, last_latitude,
     last_longitude, devices)
   select $1, m.email, m.created_at, m.latitude, m.longitude,
     case when coalesce(m.signature, m.device) is null then '{{}}'::text[]
       else array[coalesce(m.signature, m.device)] end
   from m
   on conflict (environment_id, email) do update set
     last_success_at = greatest(radar_profiles.last_success_at, excluded.last_success_at),
     last_latitude = coalesce(excluded.last_latitude, radar_profiles.last_latitude),
     last_longitude = coalesce(excluded.last_longitude, radar_profiles.last_longitude),
     devices = case when cardinality(excluded.devices) = 0 then radar_profiles.devices
       else (excluded.devices || array_remove(radar_profiles.devices, excluded.devices[1]))[1:{MAX_DEVICES}]
     end)
 select id, action, host(ip_address) as ip, email from m"
    )
}

/// What a marking update returns for [`remember`].
const MARKED: &str = "returning id, action, ip_address, email, device, signature, latitude,
   longitude, created_at";

static MARK: LazyLock<String> = LazyLock::new(|| {
    format!(
        "with m as (
           update radar_attempts set succeeded = succeeded or $3,
             challenge_succeeded = challenge_succeeded or $4
           where environment_id = $1 and id = $2
           {MARKED}), {}",
        remember()
    )
});

static MARK_LATEST: LazyLock<String> = LazyLock::new(|| {
    format!(
        "with s as (
           select coalesce(r.radar_enabled, false) as enabled,
             now() - make_interval(secs => coalesce(r.radar_window_seconds, {window})) as since
           from (select 1) as one left join radar_settings r on r.environment_id = $1
         ), m as (
           update radar_attempts set succeeded = true
           where environment_id = $1 and id = (
             select a.id from radar_attempts a where (select enabled from s)
               and a.environment_id = $1 and a.email = $2 and a.action = 'sign-in'
               and not a.succeeded and a.created_at > (select since from s)
             order by a.created_at desc limit 1)
           {MARKED}), {}",
        remember(),
        window = default_of("window_seconds"),
    )
});

/// Marks the attempt successful (`attempt`) and/or its challenge passed (`challenge`) and
/// remembers it in its email's profile; `None` when the environment has no such attempt.
pub async fn mark_succeeded(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &RadarAttemptId,
    attempt: bool,
    challenge: bool,
) -> sqlx::Result<Option<MarkedAttempt>> {
    sqlx::query_as(AssertSqlSafe(MARK.as_str()))
        .bind(env)
        .bind(id)
        .bind(attempt)
        .bind(challenge)
        .fetch_optional(conn)
        .await
}

/// When the environment has Radar enabled, marks the email's latest unsuccessful sign-in
/// attempt of its window successful (a Keystead sign-in that went through) and remembers it
/// in the profile; `None` when Radar is off or there is no such attempt.
pub async fn mark_latest_succeeded(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    email: &str,
) -> sqlx::Result<Option<MarkedAttempt>> {
    sqlx::query_as(AssertSqlSafe(MARK_LATEST.as_str()))
        .bind(env)
        .bind(email)
        .fetch_optional(conn)
        .await
}

/// Analyzes `radar_attempts` while PostgreSQL has no statistics for it (a new installation,
/// before autovacuum's first visit): without them the planner may count through an index that
/// does not match the counter and scan the environment's attempts.
pub async fn analyze_if_unknown(conn: &mut PgConnection) -> sqlx::Result<()> {
    let unknown: bool = sqlx::query_scalar(
        "select coalesce((select last_analyze is null and last_autoanalyze is null
           from pg_stat_user_tables where relid = 'radar_attempts'::regclass), true)",
    )
    .fetch_one(&mut *conn)
    .await?;
    if unknown {
        sqlx::query("analyze radar_attempts").execute(conn).await?;
    }
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
