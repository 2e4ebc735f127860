//! Radar's per-environment settings: the nullable `radar_*` columns of `radar_settings` (one
//! row per environment, migration `1550_radar.sql`; its own table because
//! `environment_settings` is created by a later migration), read and written with the other
//! settings by [`super::environment_settings`] and shown as `settings.radar` by
//! `GET /environment`.
//!
//! `enabled` turns Radar on for Keystead's own sign-ins (the standalone `POST /radar/attempts`
//! always answers); the thresholds are those of the controls in `crate::state::radar`.

use std::ops::RangeInclusive;

use serde::Serialize;
use sqlx::FromRow;

use crate::db::Tx;
use crate::ids::EnvironmentId;

/// One numeric Radar setting: its key under `settings.radar`, its default and accepted range.
#[derive(Debug, Clone)]
pub struct Threshold {
    /// Key under `settings.radar` (and the column name without `radar_`).
    pub key: &'static str,
    /// Value when not set.
    pub default: u32,
    /// Accepted values (the column's check constraint).
    pub range: RangeInclusive<u32>,
}

/// Every numeric setting, in [`RadarStored::values`] order.
pub const THRESHOLDS: [Threshold; 9] = [
    Threshold {
        key: "brute_force_threshold",
        default: 10,
        range: 1..=10_000,
    },
    Threshold {
        key: "credential_stuffing_threshold",
        default: 20,
        range: 1..=10_000,
    },
    Threshold {
        key: "window_seconds",
        default: 900,
        range: 60..=86_400,
    },
    Threshold {
        key: "ip_sign_up_threshold",
        default: 10,
        range: 1..=100_000,
    },
    Threshold {
        key: "domain_sign_up_threshold",
        default: 50,
        range: 1..=100_000,
    },
    Threshold {
        key: "repeat_sign_up_threshold",
        default: 3,
        range: 1..=10_000,
    },
    Threshold {
        key: "sign_up_window_seconds",
        default: 3600,
        range: 60..=86_400,
    },
    Threshold {
        key: "stale_account_days",
        default: 90,
        range: 1..=3650,
    },
    Threshold {
        key: "impossible_travel_kmh",
        default: 1000,
        range: 100..=100_000,
    },
];

/// The Radar columns as stored (null: not set).
#[derive(Debug, Clone, Default, FromRow, Serialize)]
pub struct RadarStored {
    /// Radar screens Keystead's own sign-ins.
    pub radar_enabled: Option<bool>,
    /// Failed sign-ins per email in the window before `brute_force_attack`.
    pub radar_brute_force_threshold: Option<i32>,
    /// Distinct failing emails per IP in the window before `credential_stuffing`.
    pub radar_credential_stuffing_threshold: Option<i32>,
    /// The sign-in counting window, in seconds.
    pub radar_window_seconds: Option<i32>,
    /// Sign-ups per IP in the sign-up window before `ip_sign_up_rate_limit`.
    pub radar_ip_sign_up_threshold: Option<i32>,
    /// Sign-ups per email domain in the sign-up window before `domain_sign_up_rate_limit`.
    pub radar_domain_sign_up_threshold: Option<i32>,
    /// Sign-ups of other emails with the same device or email pattern before `repeat_sign_up`.
    pub radar_repeat_sign_up_threshold: Option<i32>,
    /// The sign-up counting window, in seconds.
    pub radar_sign_up_window_seconds: Option<i32>,
    /// Days without a successful sign-in after which an account is stale.
    pub radar_stale_account_days: Option<i32>,
    /// Fastest believable travel between two successful sign-ins, in km/h.
    pub radar_impossible_travel_kmh: Option<i32>,
}

impl RadarStored {
    /// The numeric columns, in [`THRESHOLDS`] order.
    fn values(&mut self) -> [&mut Option<i32>; 9] {
        [
            &mut self.radar_brute_force_threshold,
            &mut self.radar_credential_stuffing_threshold,
            &mut self.radar_window_seconds,
            &mut self.radar_ip_sign_up_threshold,
            &mut self.radar_domain_sign_up_threshold,
            &mut self.radar_repeat_sign_up_threshold,
            &mut self.radar_sign_up_window_seconds,
            &mut self.radar_stale_account_days,
            &mut self.radar_impossible_travel_kmh,
        ]
    }

    /// Applies `patch` (`None` keeps a value, `Some(None)` clears it).
    pub fn apply(&mut self, patch: RadarPatch) {
        if let Some(v) = patch.enabled {
            self.radar_enabled = v;
        }
        for (slot, change) in self.values().into_iter().zip(patch.values) {
            if let Some(v) = change {
                *slot = v.map(|n| i32::try_from(n).unwrap_or(i32::MAX));
            }
        }
    }
}

/// An environment's effective Radar settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RadarSettings {
    /// Radar screens password, Magic Auth and SSO sign-ins (default off).
    pub enabled: bool,
    /// See [`RadarStored::radar_brute_force_threshold`] (default 10).
    pub brute_force_threshold: u32,
    /// See [`RadarStored::radar_credential_stuffing_threshold`] (default 20).
    pub credential_stuffing_threshold: u32,
    /// See [`RadarStored::radar_window_seconds`] (default 900).
    pub window_seconds: u32,
    /// See [`RadarStored::radar_ip_sign_up_threshold`] (default 10).
    pub ip_sign_up_threshold: u32,
    /// See [`RadarStored::radar_domain_sign_up_threshold`] (default 50).
    pub domain_sign_up_threshold: u32,
    /// See [`RadarStored::radar_repeat_sign_up_threshold`] (default 3).
    pub repeat_sign_up_threshold: u32,
    /// See [`RadarStored::radar_sign_up_window_seconds`] (default 3600).
    pub sign_up_window_seconds: u32,
    /// See [`RadarStored::radar_stale_account_days`] (default 90).
    pub stale_account_days: u32,
    /// See [`RadarStored::radar_impossible_travel_kmh`] (default 1000).
    pub impossible_travel_kmh: u32,
}

impl RadarSettings {
    /// The explicit values, else the defaults of [`THRESHOLDS`].
    pub fn resolve(s: &RadarStored) -> Self {
        let mut s = s.clone();
        let enabled = s.radar_enabled.unwrap_or(false);
        let v: Vec<u32> = s
            .values()
            .into_iter()
            .zip(THRESHOLDS.iter())
            .map(|(slot, t)| {
                slot.and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(t.default)
            })
            .collect();
        let at = |i: usize| v.get(i).copied().unwrap_or(1);
        Self {
            enabled,
            brute_force_threshold: at(0),
            credential_stuffing_threshold: at(1),
            window_seconds: at(2),
            ip_sign_up_threshold: at(3),
            domain_sign_up_threshold: at(4),
            repeat_sign_up_threshold: at(5),
            sign_up_window_seconds: at(6),
            stale_account_days: at(7),
            impossible_travel_kmh: at(8),
        }
    }
}

/// A partial update of the Radar settings.
#[derive(Debug, Clone, Default)]
pub struct RadarPatch {
    /// `settings.radar.enabled`.
    pub enabled: Option<Option<bool>>,
    /// The numeric settings, in [`THRESHOLDS`] order.
    pub values: [Option<Option<u32>>; 9],
}

/// The columns, for a select joining `radar_settings` (alias `r`).
pub const COLUMNS: &str = "r.radar_enabled, r.radar_brute_force_threshold, \
    r.radar_credential_stuffing_threshold, r.radar_window_seconds, r.radar_ip_sign_up_threshold, \
    r.radar_domain_sign_up_threshold, r.radar_repeat_sign_up_threshold, \
    r.radar_sign_up_window_seconds, r.radar_stale_account_days, r.radar_impossible_travel_kmh";

/// Stores the environment's Radar settings (its row is created on the first write).
pub async fn store(tx: &mut Tx, env: &EnvironmentId, s: &RadarStored) -> sqlx::Result<()> {
    sqlx::query(
        "insert into radar_settings (environment_id, radar_enabled, radar_brute_force_threshold,
           radar_credential_stuffing_threshold, radar_window_seconds, radar_ip_sign_up_threshold,
           radar_domain_sign_up_threshold, radar_repeat_sign_up_threshold,
           radar_sign_up_window_seconds, radar_stale_account_days, radar_impossible_travel_kmh)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         on conflict (environment_id) do update set radar_enabled = excluded.radar_enabled,
           radar_brute_force_threshold = excluded.radar_brute_force_threshold,
           radar_credential_stuffing_threshold = excluded.radar_credential_stuffing_threshold,
           radar_window_seconds = excluded.radar_window_seconds,
           radar_ip_sign_up_threshold = excluded.radar_ip_sign_up_threshold,
           radar_domain_sign_up_threshold = excluded.radar_domain_sign_up_threshold,
           radar_repeat_sign_up_threshold = excluded.radar_repeat_sign_up_threshold,
           radar_sign_up_window_seconds = excluded.radar_sign_up_window_seconds,
           radar_stale_account_days = excluded.radar_stale_account_days,
           radar_impossible_travel_kmh = excluded.radar_impossible_travel_kmh",
    )
    .bind(env)
    .bind(s.radar_enabled)
    .bind(s.radar_brute_force_threshold)
    .bind(s.radar_credential_stuffing_threshold)
    .bind(s.radar_window_seconds)
    .bind(s.radar_ip_sign_up_threshold)
    .bind(s.radar_domain_sign_up_threshold)
    .bind(s.radar_repeat_sign_up_threshold)
    .bind(s.radar_sign_up_window_seconds)
    .bind(s.radar_stale_account_days)
    .bind(s.radar_impossible_travel_kmh)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The environment's Radar settings as stored (all unset for an environment without a row).
pub async fn get(conn: &mut sqlx::PgConnection, env: &EnvironmentId) -> sqlx::Result<RadarStored> {
    let row: Option<RadarStored> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from radar_settings r where r.environment_id = $1"
    )))
    .bind(env)
    .fetch_optional(conn)
    .await?;
    Ok(row.unwrap_or_default())
}
