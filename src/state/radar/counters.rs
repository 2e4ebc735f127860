//! Radar's windowed counters in Redis, when `KEYSTEAD_REDIS_URL` is set (the same Redis as the
//! rate limits): one atomic Lua script per assessment reads the counts of the attempts before
//! this one and adds this one, so every replica using the Redis sees the same counters without
//! a counting query in PostgreSQL. Each counter is a sorted set scored by Redis's clock, trimmed
//! to its window, capped at [`CAP`] members and expiring with its window, so memory is bounded.
//! A success removes the attempt from the failure sets ([`RedisCounters::succeeded`]).
//!
//! A Redis failure is not fatal: the caller counts in PostgreSQL instead (the attempts table is
//! the record either way). `repeat_sign_up` counts the larger of the same-address and
//! same-device sets here, where PostgreSQL counts their union.

use std::time::Duration;

use crate::state::redis_conn::LazyRedis;

/// Most members kept per counter (a threshold above it cannot be reached through Redis).
pub const CAP: u32 = 10_000;

/// Reads then adds, atomically: returns `{email_failures, ip_failed_emails, ip_sign_ups,
/// domain_sign_ups, repeat_sign_ups}`.
const COUNT_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local win, swin = tonumber(ARGV[1]), tonumber(ARGV[2])
local action, id, email = ARGV[3], ARGV[4], ARGV[5]
local has_ip, has_dev, cap = ARGV[6] == '1', ARGV[7] == '1', tonumber(ARGV[8])
local function count(k, w)
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now - w)
  return redis.call('ZCARD', k)
end
local function others(k, w)
  local n = count(k, w)
  if redis.call('ZSCORE', k, email) then n = n - 1 end
  return n
end
local function add(k, member, w)
  redis.call('ZADD', k, now, member)
  redis.call('ZREMRANGEBYRANK', k, 0, -(cap + 1))
  redis.call('PEXPIRE', k, w)
end
local r = {0, 0, 0, 0, 0}
if action == 'sign-in' then
  r[1] = count(KEYS[1], win)
  if has_ip then r[2] = count(KEYS[2], win) end
  add(KEYS[1], id, win)
  if has_ip then add(KEYS[2], email, win) end
else
  if has_ip then r[3] = count(KEYS[3], swin) end
  r[4] = count(KEYS[4], swin)
  r[5] = others(KEYS[5], swin)
  if has_dev then r[5] = math.max(r[5], others(KEYS[6], swin)) end
  if has_ip then add(KEYS[3], id, swin) end
  add(KEYS[4], id, swin)
  add(KEYS[5], email, swin)
  if has_dev then add(KEYS[6], email, swin) end
end
return r
";

/// What one attempt is counted under.
#[derive(Debug, Clone)]
pub struct Counted<'a> {
    /// The environment (every key is under it).
    pub environment_id: &'a str,
    /// `radar_att_…`
    pub attempt_id: &'a str,
    /// `sign-in` or `sign-up`.
    pub action: &'a str,
    /// Normalised email, its domain and repeat-sign-up key.
    pub email: &'a str,
    /// See `email`.
    pub email_domain: &'a str,
    /// See `email`.
    pub email_key: &'a str,
    /// Canonical IP address.
    pub ip_address: Option<&'a str>,
    /// Device id.
    pub device: Option<&'a str>,
    /// The sign-in and sign-up windows, in seconds.
    pub windows: (u32, u32),
}

/// The counts before an attempt (see [`crate::store::radar_attempts::Signals`]).
pub type Counts = [i64; 5];

/// A Redis client with the script loaded on demand.
pub struct RedisCounters {
    redis: LazyRedis,
    script: redis::Script,
}

impl std::fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCounters").finish_non_exhaustive()
    }
}

fn key(env: &str, set: &str, value: &str) -> String {
    format!("keystead:radar:{env}:{set}:{value}")
}

impl RedisCounters {
    /// A client for `url`; the connection is made on first use. Errors on a malformed URL.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            redis: LazyRedis::new(url)?,
            script: redis::Script::new(COUNT_LUA),
        })
    }

    /// Counts the attempts before `c` and adds `c`.
    pub async fn count(&self, c: &Counted<'_>) -> anyhow::Result<Counts> {
        let mut conn = self.redis.connection().await?;
        let env = c.environment_id;
        let ip = c.ip_address.unwrap_or_default();
        let device = c.device.unwrap_or_default();
        let ms = |secs: u32| u64::from(secs) * 1000;
        let reply: Vec<i64> = tokio::time::timeout(
            Duration::from_millis(500),
            self.script
                .key(key(env, "email_failed", c.email))
                .key(key(env, "ip_failed", ip))
                .key(key(env, "ip_sign_up", ip))
                .key(key(env, "domain_sign_up", c.email_domain))
                .key(key(env, "key_sign_up", c.email_key))
                .key(key(env, "device_sign_up", device))
                .arg(ms(c.windows.0))
                .arg(ms(c.windows.1))
                .arg(c.action)
                .arg(c.attempt_id)
                .arg(c.email)
                .arg(if c.ip_address.is_some() { "1" } else { "0" })
                .arg(if c.device.is_some() { "1" } else { "0" })
                .arg(CAP)
                .invoke_async(&mut conn),
        )
        .await??;
        let mut counts = [0; 5];
        for (slot, v) in counts.iter_mut().zip(reply) {
            *slot = v;
        }
        Ok(counts)
    }

    /// Takes a successful sign-in attempt out of the failure counters.
    pub async fn succeeded(
        &self,
        env: &str,
        attempt_id: &str,
        email: &str,
        ip_address: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut conn = self.redis.connection().await?;
        let mut pipe = redis::pipe();
        pipe.zrem(key(env, "email_failed", email), attempt_id)
            .ignore();
        if let Some(ip) = ip_address {
            pipe.zrem(key(env, "ip_failed", ip), email).ignore();
        }
        tokio::time::timeout(
            Duration::from_millis(500),
            pipe.query_async::<()>(&mut conn),
        )
        .await??;
        Ok(())
    }
}
