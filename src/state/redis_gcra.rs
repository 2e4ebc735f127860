//! The Redis backend of the rate limiter ([`super::rate_limit`]): one atomic Lua GCRA script
//! (CRATES.md §3) shared by every replica that uses the same `KEYSTEAD_REDIS_URL`. The
//! connection is made on first use with short timeouts, so a Redis outage makes the caller fail
//! open instead of waiting.

use std::time::Duration;

use crate::state::redis_conn::LazyRedis;

use crate::settings::rate_limits::{Class, Limit};

/// GCRA in Lua over integer milliseconds (CRATES.md §3): returns
/// `{allowed, remaining, retry_after_ms, reset_ms}`.
const GCRA_LUA: &str = r"
local burst, rate, period, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = period / rate
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - interval * burst
if now < allow_at then return {0, 0, math.ceil(allow_at - now), math.ceil(tat - now)} end
local ttl = math.ceil(new_tat - now)
redis.call('SET', KEYS[1], math.ceil(new_tat), 'PX', ttl)
return {1, math.floor((now - allow_at) / interval), 0, ttl}
";

/// What the script answered for one request.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reply {
    /// Whether the request may proceed.
    pub(super) allowed: bool,
    /// Requests left right now.
    pub(super) remaining: u32,
    /// Seconds until the bucket is full again.
    pub(super) reset_secs: u64,
    /// Seconds to wait before retrying (0 when allowed).
    pub(super) retry_after_secs: u64,
}

/// A Redis client with the GCRA script loaded on demand.
pub(super) struct Redis {
    redis: LazyRedis,
    script: redis::Script,
}

impl Redis {
    /// A client for `url`; the connection is made on first use. Errors when the URL is malformed.
    pub(super) fn new(url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            redis: LazyRedis::new(url)?,
            script: redis::Script::new(GCRA_LUA),
        })
    }

    pub(super) async fn check(
        &self,
        class: Class,
        key: &str,
        limit: Limit,
    ) -> anyhow::Result<Reply> {
        let mut conn = self.redis.connection().await?;
        let period_ms = u64::try_from(limit.period.as_millis()).unwrap_or(u64::MAX);
        let (allowed, remaining, retry_ms, reset_ms): (i64, i64, i64, i64) = tokio::time::timeout(
            Duration::from_millis(500),
            self.script
                .key(format!("keystead:rl:{}:{key}", class.name()))
                .arg(limit.burst)
                .arg(limit.burst)
                .arg(period_ms)
                .arg(1)
                .invoke_async(&mut conn),
        )
        .await??;
        let secs = |ms: i64| u64::try_from(ms).unwrap_or(0).div_ceil(1000);
        Ok(Reply {
            allowed: allowed == 1,
            remaining: u32::try_from(remaining.max(0)).unwrap_or(0),
            reset_secs: secs(reset_ms),
            retry_after_secs: secs(retry_ms),
        })
    }
}
