//! A Redis connection made on first use with short timeouts (500 ms to connect or answer, one
//! retry, 1 s in all), so a Redis outage makes its caller fail over instead of waiting. Shared by
//! the rate limiter's Redis backend ([`super::redis_gcra`]) and Radar's counters
//! ([`super::radar::counters`]).

use std::time::Duration;

use tokio::sync::Mutex;

/// A client for one `KEYSTEAD_REDIS_URL` and its connection, once made.
pub struct LazyRedis {
    client: redis::Client,
    conn: Mutex<Option<redis::aio::ConnectionManager>>,
}

impl LazyRedis {
    /// A client for `url`; no connection yet. Errors when the URL is malformed.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            conn: Mutex::new(None),
        })
    }

    /// The connection, made now if this is the first use (or the first since a failed attempt).
    /// Errors when Redis cannot be reached within the timeouts.
    pub async fn connection(&self) -> anyhow::Result<redis::aio::ConnectionManager> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(
            Duration::from_secs(1),
            redis::aio::ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await??;
        *guard = Some(conn.clone());
        Ok(conn)
    }
}
