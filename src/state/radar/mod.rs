//! Radar, the sign-in risk engine (spec tag `radar`), owned by the app state as `state.radar`:
//! [`Radar::assess`] scores one attempt (the standalone `POST /radar/attempts`, and Keystead's
//! own sign-ins through its [`crate::state::extensions::SignInHook`], see `hook.rs`) and records it;
//! [`Radar::mark`] records that an attempt or its challenge succeeded (`PUT
//! /radar/attempts/{id}`, and Keystead's successful sign-ins).
//!
//! The controls are [`controls::decide`]; their counters are rows of `radar_attempts` in
//! PostgreSQL, which every replica sees ([`crate::store::radar_attempts`]), or, with
//! `KEYSTEAD_REDIS_URL`, sorted sets in Redis ([`counters`]; PostgreSQL again if Redis fails);
//! GeoIP comes from
//! [`geoip`]; bots are recognised with the `isbot` crate's maintained pattern list, and devices
//! (when the client sends no device id) by the browser and OS the `woothee` parser reads from
//! the user agent.

pub mod controls;
pub mod counters;
pub mod geoip;
mod hook;

use std::net::IpAddr;
use std::sync::LazyLock;

use chrono::Utc;
use sqlx::PgPool;

use self::controls::{Action, Decision, Inputs};
use self::counters::{Counted, RedisCounters};
use self::geoip::{GeoIp, Place};
use crate::error::ApiResult;
use crate::ids::{EnvironmentId, RadarAttemptId};
use crate::settings::Settings;
use crate::store::radar_attempts::{self, Ask, MarkedAttempt, NewAttempt, StoredVerdict};
use crate::store::radar_settings::{self, RadarSettings};

/// The compiled bot patterns (one regex set, built on first use and shared).
static BOTS: LazyLock<isbot::Bots> = LazyLock::new(isbot::Bots::default);

/// One attempt to assess.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Email as sent (normalised here).
    pub email: &'a str,
    /// End user's IP address.
    pub ip_address: Option<IpAddr>,
    /// End user's user agent.
    pub user_agent: Option<&'a str>,
    /// A device id (the SDKs' `signals_id`).
    pub device: Option<&'a str>,
    /// The spec's `device_fingerprint`.
    pub device_fingerprint: Option<&'a str>,
    /// Sign-in or sign-up.
    pub action: Action,
    /// The spec's `auth_method`.
    pub auth_method: &'a str,
}

/// An assessed, recorded attempt.
#[derive(Debug, Clone)]
pub struct Assessed {
    /// `radar_att_…`
    pub id: RadarAttemptId,
    /// The verdict.
    pub decision: Decision,
}

/// The engine: GeoIP and, when configured, the Redis counters.
#[derive(Debug)]
pub struct Radar {
    geoip: Option<GeoIp>,
    redis: Option<RedisCounters>,
}

/// `local@domain` without `+tag` (and, for Gmail, without dots): the repeat-sign-up key.
pub fn email_key(local: &str, domain: &str) -> String {
    let base = local.split('+').next().unwrap_or(local);
    let base = if matches!(domain, "gmail.com" | "googlemail.com") {
        base.replace('.', "")
    } else {
        base.to_string()
    };
    format!("{base}@{domain}")
}

impl Radar {
    /// The engine for `settings`; opens the GeoIP databases. Errors on an unreadable database.
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            geoip: GeoIp::open(&settings.radar.geoip_databases)?,
            redis: settings
                .redis_url
                .as_deref()
                .map(RedisCounters::new)
                .transpose()?,
        })
    }

    /// Whether `user_agent` is an automation client (crawler, HTTP library, headless browser).
    pub fn is_bot(user_agent: &str) -> bool {
        BOTS.is_bot(user_agent)
    }

    /// The device signature remembered for an email: the device id when the client sent one,
    /// else `ua:<browser>/<os>` from the user agent (`None` when neither is known).
    pub fn device_signature(device: Option<&str>, user_agent: Option<&str>) -> Option<String> {
        if let Some(d) = device {
            return Some(d.to_string());
        }
        let ua = woothee::parser::Parser::new().parse(user_agent?)?;
        (ua.name != woothee::woothee::VALUE_UNKNOWN).then(|| format!("ua:{}/{}", ua.name, ua.os))
    }

    /// Assesses `r` in `env`, records it and returns the verdict; `None` (nothing recorded)
    /// when `only_if_enabled` (Keystead's own sign-ins) and the environment has Radar off.
    ///
    /// Without Redis this is one statement (the settings, the insert, the counters, the
    /// profile and the list entries; [`radar_attempts::assess`]), plus one to store a verdict
    /// other than `allow`. With Redis the settings are read first, for the counting windows.
    pub async fn assess(
        &self,
        db: &PgPool,
        env: &EnvironmentId,
        r: &Request<'_>,
        only_if_enabled: bool,
    ) -> ApiResult<Option<Assessed>> {
        let email = r.email.trim().to_lowercase();
        let (local, domain) = email.rsplit_once('@').unwrap_or((email.as_str(), ""));
        let key = email_key(local, domain);
        let ip = r.ip_address.map(|i| i.to_string());
        let devices: Vec<&str> = [r.device, r.device_fingerprint]
            .into_iter()
            .flatten()
            .collect();
        let device = devices.first().copied();
        let id = RadarAttemptId::new();
        let mut conn = db.acquire().await?;
        let from_redis = match &self.redis {
            Some(redis) => {
                let stored = radar_settings::get(&mut conn, env).await?;
                let settings = RadarSettings::resolve(&stored);
                if only_if_enabled && !settings.enabled {
                    return Ok(None);
                }
                let counted = Counted {
                    environment_id: env.as_str(),
                    attempt_id: id.as_str(),
                    action: r.action.as_str(),
                    email: &email,
                    email_domain: domain,
                    email_key: &key,
                    ip_address: ip.as_deref(),
                    device,
                    windows: (settings.window_seconds, settings.sign_up_window_seconds),
                };
                match redis.count(&counted).await {
                    Ok(counts) => Some(counts),
                    Err(e) => {
                        tracing::warn!(error = %e, "Radar counters: Redis failed; counting in PostgreSQL");
                        None
                    }
                }
            }
            None => None,
        };
        let place = match (&self.geoip, r.ip_address) {
            (Some(g), Some(addr)) => g.lookup(addr),
            _ => Place::default(),
        };
        let signature = Self::device_signature(device, r.user_agent);
        let found = radar_attempts::assess(
            &mut conn,
            env,
            &NewAttempt {
                id: &id,
                email: &email,
                email_domain: domain,
                email_key: &key,
                ip_address: ip.as_deref(),
                user_agent: r.user_agent,
                device,
                signature: signature.as_deref(),
                action: r.action.as_str(),
                auth_method: r.auth_method,
                country: place.country.as_deref(),
                position: place.position,
            },
            Ask {
                devices: &devices,
                count: from_redis.is_none(),
                only_if_enabled,
            },
        )
        .await?;
        if !found.recorded {
            return Ok(None);
        }
        let settings = RadarSettings::resolve(&found.settings);
        let mut signals = found.signals;
        if let Some(
            [
                email_failures,
                ip_failed_emails,
                ip_sign_ups,
                domain_sign_ups,
                repeat,
            ],
        ) = from_redis
        {
            signals.email_failures = email_failures;
            signals.ip_failed_emails = ip_failed_emails;
            signals.ip_sign_ups = ip_sign_ups;
            signals.domain_sign_ups = domain_sign_ups;
            signals.repeat_sign_ups = repeat;
        }
        let decision = controls::decide(&Inputs {
            action: r.action,
            lists: &signals.lists,
            is_bot: r.user_agent.is_some_and(Self::is_bot),
            signals: &signals,
            settings: &settings,
            position: place.position,
            device: signature.as_deref(),
            now: Utc::now(),
        });
        if decision.verdict != "allow" {
            let stored = StoredVerdict {
                verdict: decision.verdict.to_string(),
                control: decision.control.map(str::to_string),
                blocklist_type: decision.blocklist_type.map(str::to_string),
                reason: Some(decision.reason.clone()),
            };
            radar_attempts::set_verdict(&mut conn, env, &id, &stored).await?;
        }
        if rand::random::<u8>() == 0 {
            radar_attempts::prune(&mut conn).await?;
            radar_attempts::analyze_if_unknown(&mut conn).await?;
        }
        Ok(Some(Assessed { id, decision }))
    }

    /// Marks attempt `id` successful (`attempt`) and/or its challenge passed (`challenge`), and
    /// remembers the sign-in in the email's profile; `false` for an unknown attempt.
    pub async fn mark(
        &self,
        db: &PgPool,
        env: &EnvironmentId,
        id: &RadarAttemptId,
        attempt: bool,
        challenge: bool,
    ) -> ApiResult<bool> {
        let mut conn = db.acquire().await?;
        match radar_attempts::mark_succeeded(&mut conn, env, id, attempt, challenge).await? {
            Some(m) => {
                if attempt {
                    self.forget_failure(env, &m).await;
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

impl Radar {
    /// Takes a successful attempt out of the Redis failure counters (a Redis error is logged:
    /// the attempt then still counts there until its window passes).
    async fn forget_failure(&self, env: &EnvironmentId, m: &MarkedAttempt) {
        let Some(redis) = &self.redis else {
            return;
        };
        if m.action != "sign-in" {
            return;
        }
        if let Err(e) = redis
            .succeeded(env.as_str(), m.id.as_str(), &m.email, m.ip.as_deref())
            .await
        {
            tracing::warn!(error = %e, "Radar counters: Redis failed to record a success");
        }
    }
}
