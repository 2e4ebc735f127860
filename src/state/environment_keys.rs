//! The environment-key cache the app state holds: a presented key's SHA-256 digest resolved to
//! its [`AuthContext`] (the environment it belongs to), trusted for [`POSITIVE_TTL`] (an unknown
//! key for two seconds) before the database is asked again. The middleware that reads it and the
//! listener that evicts revoked keys (Postgres `NOTIFY`) are `http::auth`.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use crate::crypto::sha256_hex;
use crate::error::ApiError;
use crate::ids::{EnvironmentId, EnvironmentKeyId};
use crate::store;

/// How long a resolved key is trusted without asking the database.
pub const POSITIVE_TTL: Duration = Duration::from_secs(60);
/// How long an unknown key is remembered as unknown.
const NEGATIVE_TTL: Duration = Duration::from_secs(2);
/// Entries kept at most (the cache is cleared when full).
const MAX_ENTRIES: usize = 10_000;

/// Who is calling: the environment the API key belongs to.
#[derive(Debug, Clone)]
pub struct AuthContext {
    /// The environment (`environment_…`); every store call filters on it.
    pub environment_id: EnvironmentId,
    /// The key that authenticated the request (`key_…`).
    pub environment_key_id: EnvironmentKeyId,
    /// The environment's client id (`client_…`).
    pub client_id: String,
}

impl From<store::environment_keys::EnvironmentKeyOwner> for AuthContext {
    fn from(owner: store::environment_keys::EnvironmentKeyOwner) -> Self {
        Self {
            environment_id: owner.environment_id,
            environment_key_id: owner.environment_key_id,
            client_id: owner.client_id,
        }
    }
}

/// Digest → resolution cache for API keys.
#[derive(Debug, Default)]
pub struct EnvironmentKeyCache {
    entries: RwLock<HashMap<String, (Option<AuthContext>, Instant)>>,
}

impl EnvironmentKeyCache {
    /// Resolves a presented key: cached, or looked up and cached.
    pub async fn resolve(
        &self,
        pool: &sqlx::PgPool,
        key: &str,
    ) -> Result<Option<AuthContext>, ApiError> {
        let digest = sha256_hex(key);
        if let Some((ctx, at)) = self
            .entries
            .read()
            .ok()
            .and_then(|m| m.get(&digest).cloned())
        {
            let ttl = if ctx.is_some() {
                POSITIVE_TTL
            } else {
                NEGATIVE_TTL
            };
            if at.elapsed() < ttl {
                return Ok(ctx);
            }
        }
        let ctx = store::environment_keys::authenticate(pool, key)
            .await?
            .map(AuthContext::from);
        if let Ok(mut m) = self.entries.write() {
            if m.len() >= MAX_ENTRIES {
                m.clear();
            }
            m.insert(digest, (ctx.clone(), Instant::now()));
        }
        Ok(ctx)
    }

    /// Forgets one key by digest.
    pub fn evict(&self, digest: &str) {
        if let Ok(mut m) = self.entries.write() {
            m.remove(digest);
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        if let Ok(mut m) = self.entries.write() {
            m.clear();
        }
    }
}
