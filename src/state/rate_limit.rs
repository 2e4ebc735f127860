//! The rate limiter engine: GCRA limits per route class ([`Class`], from the settings), keyed by
//! whatever the caller counts (API key, client IP, email or connection), modelled on WorkOS's
//! published limits. In-process with `governor` by default; shared across replicas through
//! Redis (`state::redis_gcra`) when `KEYSTEAD_REDIS_URL` is set. A Redis failure fails open
//! with a warning and a metric.
//!
//! A [`Decision`] carries what the response reports: `X-RateLimit-Limit`,
//! `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds until the bucket is full again), and on
//! rejection a 429 with `Retry-After` (seconds) and `{"code": "rate_limit_exceeded", "message":
//! …}`. The middleware that applies it per request is `http::rate_limit`.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Gcra};

use super::redis_gcra::Redis;
use crate::error::ApiError;
use crate::settings::rate_limits::{Class, Limit, RateLimits};

/// The outcome of one check, with what the response headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The class's burst.
    pub limit: u32,
    /// Requests left right now.
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
    /// Seconds to wait before retrying (0 when allowed).
    pub retry_after_secs: u64,
}

impl Decision {
    fn open(limit: Limit) -> Self {
        Self {
            allowed: true,
            limit: limit.burst,
            remaining: limit.burst,
            reset_secs: 0,
            retry_after_secs: 0,
        }
    }

    /// Adds the `X-RateLimit-*` headers (and `Retry-After` when rejected).
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        let mut set = |name: &'static str, v: u64| {
            if let Ok(v) = HeaderValue::from_str(&v.to_string()) {
                headers.insert(name, v);
            }
        };
        set("x-ratelimit-limit", u64::from(self.limit));
        set("x-ratelimit-remaining", u64::from(self.remaining));
        set("x-ratelimit-reset", self.reset_secs);
        if !self.allowed {
            set("retry-after", self.retry_after_secs.max(1));
        }
    }

    /// The 429 error for a rejected decision.
    pub fn error(&self) -> ApiError {
        ApiError::RateLimited {
            code: "rate_limit_exceeded",
            limit: self.limit,
            reset_secs: self.reset_secs,
            retry_after_secs: self.retry_after_secs,
        }
    }

    /// The 429 response for a rejected decision.
    pub fn reject(&self) -> Response {
        self.error().into_response()
    }
}

type Keyed = Gcra<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// Checks requests against the configured limits (in-process, or in Redis).
pub struct RateLimiter {
    limits: RateLimits,
    local: HashMap<Class, Keyed>,
    redis: Option<Redis>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limits", &self.limits)
            .field("redis", &self.redis.is_some())
            .finish()
    }
}

impl RateLimiter {
    /// A limiter with `limits`, shared through Redis when `redis_url` is given (the connection
    /// is made on first use, so Redis being down at start-up is not fatal).
    pub fn new(limits: RateLimits, redis_url: Option<&str>) -> anyhow::Result<Self> {
        let local = Class::ALL
            .iter()
            .filter_map(|c| {
                let l = limits.get(*c);
                let burst = NonZeroU32::new(l.burst)?;
                let quota = Quota::with_period(l.period / l.burst)?.allow_burst(burst);
                Some((
                    *c,
                    Gcra::keyed(quota).with_middleware::<StateInformationMiddleware>(),
                ))
            })
            .collect();
        let redis = match redis_url {
            Some(url) => Some(Redis::new(url)?),
            None => None,
        };
        Ok(Self {
            limits,
            local,
            redis,
        })
    }

    /// Whether limits apply at all.
    pub fn enabled(&self) -> bool {
        self.limits.enabled
    }

    /// Counts one request of `class` for `key` and decides.
    pub async fn check(&self, class: Class, key: &str) -> Decision {
        let limit = self.limits.get(class);
        if !self.limits.enabled {
            return Decision::open(limit);
        }
        let decision = match &self.redis {
            Some(r) => match r.check(class, key, limit).await {
                Ok(reply) => Decision {
                    allowed: reply.allowed,
                    limit: limit.burst,
                    remaining: reply.remaining,
                    reset_secs: reply.reset_secs,
                    retry_after_secs: reply.retry_after_secs,
                },
                Err(e) => {
                    tracing::warn!(error = %e, class = class.name(), "rate-limit backend unavailable; failing open");
                    metrics::counter!("keystead_rate_limit_backend_errors_total").increment(1);
                    Decision::open(limit)
                }
            },
            None => self.check_local(class, key, limit),
        };
        if !decision.allowed {
            metrics::counter!("keystead_rate_limit_rejections_total", "class" => class.name())
                .increment(1);
        }
        decision
    }

    fn check_local(&self, class: Class, key: &str, limit: Limit) -> Decision {
        let Some(gcra) = self.local.get(&class) else {
            return Decision::open(limit);
        };
        let interval = limit.period.as_secs_f64() / f64::from(limit.burst);
        match gcra.check_key(&key.to_string()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let reset =
                    (f64::from(limit.burst - remaining.min(limit.burst)) * interval).ceil() as u64;
                Decision {
                    allowed: true,
                    limit: limit.burst,
                    remaining,
                    reset_secs: reset,
                    retry_after_secs: 0,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let wait_secs = wait.as_secs_f64().ceil() as u64;
                Decision {
                    allowed: false,
                    limit: limit.burst,
                    remaining: 0,
                    reset_secs: limit.period.as_secs().max(wait_secs),
                    retry_after_secs: wait_secs.max(1),
                }
            }
        }
    }

    /// Drops idle keys from the in-process stores (call periodically).
    pub fn retain_recent(&self) {
        for l in self.local.values() {
            l.retain_recent();
        }
    }
}

/// Periodically drops idle in-process keys.
pub fn spawn_janitor(
    limiter: Arc<RateLimiter>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut shutdown = shutdown;
        loop {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(60)) => limiter.retain_recent(),
                _ = shutdown.changed() => break,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[tokio::test]
    async fn the_local_limiter_allows_the_burst_then_rejects_with_retry_after() {
        let limiter = RateLimiter::new("authenticate_email=3/60".parse().unwrap(), None).unwrap();
        let mut remaining = Vec::new();
        for _ in 0..3 {
            let d = limiter.check(Class::AuthenticateEmail, "a@b.co").await;
            assert!(d.allowed);
            remaining.push(d.remaining);
        }
        assert_eq!(remaining, [2, 1, 0]);
        let d = limiter.check(Class::AuthenticateEmail, "a@b.co").await;
        assert!(!d.allowed);
        assert!(
            d.retry_after_secs >= 19 && d.retry_after_secs <= 20,
            "{d:?}"
        );
        assert!(
            limiter
                .check(Class::AuthenticateEmail, "other@b.co")
                .await
                .allowed,
            "keys are independent"
        );
    }
}
