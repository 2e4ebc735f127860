//! The validation cache of organization and user API keys (the API Keys product; not the
//! environment keys of [`super::environment_keys`]): `POST /api_keys/validations` is a hot
//! path, so a presented value's SHA-256 digest, with the caller's environment, resolves to its
//! [`ApiKey`] from memory for [`POSITIVE_TTL`] (an unknown value for [`NEGATIVE_TTL`]) before
//! the database is asked again.
//!
//! A deleted key, and a key whose expiry changed, is evicted on every server at once: migration
//! 1400's trigger announces it on [`CHANGE_CHANNEL`] and the listener of `http::auth` calls
//! [`ApiKeyCache::evict`] (the server that made the change also evicts it itself, before
//! answering). Expiry is checked on every validation, cached or not. `last_used_at` is written
//! at most once a minute per key.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use sqlx::PgPool;

use crate::crypto::{ct_eq, sha256_hex};
use crate::error::ApiResult;
use crate::ids::EnvironmentId;
pub use crate::store::api_keys::CHANGE_CHANNEL;
use crate::store::api_keys::{self, ApiKey};

/// How long a resolved key is trusted without asking the database (bounds how long a user key
/// keeps validating after its owner's membership ends).
pub const POSITIVE_TTL: Duration = Duration::from_secs(60);
/// How long an unknown value is remembered as unknown.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(2);
/// Entries kept at most (the cache is cleared when full).
const MAX_ENTRIES: usize = 100_000;
/// Longest value looked up; anything longer is no key.
pub const VALUE_MAX: usize = 256;
/// `last_used_at` is written again once it is this old.
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

type Entry = (Option<Arc<ApiKey>>, Instant);

/// `<environment_id>:<digest>` → the key (or `None`, unknown) and when it was read.
#[derive(Debug, Default)]
pub struct ApiKeyCache {
    entries: RwLock<HashMap<String, Entry>>,
}

/// The cache key: the same text the change trigger sends.
fn cache_key(env: &EnvironmentId, digest: &str) -> String {
    format!("{env}:{digest}")
}

impl ApiKeyCache {
    fn cached(&self, key: &str) -> Option<Option<Arc<ApiKey>>> {
        let (hit, at) = self.entries.read().ok()?.get(key).cloned()?;
        let ttl = if hit.is_some() {
            POSITIVE_TTL
        } else {
            NEGATIVE_TTL
        };
        (at.elapsed() < ttl).then_some(hit)
    }

    fn store(&self, key: String, hit: Option<Arc<ApiKey>>) {
        if let Ok(mut m) = self.entries.write() {
            if m.len() >= MAX_ENTRIES {
                m.clear();
            }
            m.insert(key, (hit, Instant::now()));
        }
    }

    /// The environment's key whose value is `value`, if it is valid now: known, not expired, a
    /// user key's owner still an active member. Records the use (`last_used_at`).
    pub async fn validate(
        &self,
        pool: &PgPool,
        env: &EnvironmentId,
        value: &str,
    ) -> ApiResult<Option<ApiKey>> {
        if !value.starts_with("sk_") || value.len() > VALUE_MAX {
            return Ok(None);
        }
        let digest = sha256_hex(value);
        let key = cache_key(env, &digest);
        let hit = match self.cached(&key) {
            Some(hit) => hit,
            None => {
                let found = api_keys::find_by_digest(pool, env, &digest)
                    .await?
                    .map(Arc::new);
                self.store(key.clone(), found.clone());
                found
            }
        };
        let Some(found) = hit else {
            return Ok(None);
        };
        // The lookup was by digest; compare the stored one in constant time all the same.
        let now = Utc::now();
        if !ct_eq(found.key_hash.as_bytes(), digest.as_bytes()) || found.is_expired_at(now) {
            return Ok(None);
        }
        if found.last_used_at.is_some_and(|at| now - at < TOUCH_EVERY) {
            return Ok(Some((*found).clone()));
        }
        let Some(last_used_at) = api_keys::touch(pool, env, &found.id).await? else {
            // Deleted since it was cached.
            self.evict(&key);
            return Ok(None);
        };
        let mut touched = (*found).clone();
        touched.last_used_at = Some(last_used_at);
        let touched = Arc::new(touched);
        if let Ok(mut m) = self.entries.write()
            && let Some(entry) = m.get_mut(&key)
        {
            entry.0 = Some(touched.clone());
        }
        Ok(Some((*touched).clone()))
    }

    /// Forgets one key: `<environment_id>:<digest>`, the payload of [`CHANGE_CHANNEL`].
    pub fn evict(&self, key: &str) {
        if let Ok(mut m) = self.entries.write() {
            m.remove(key);
        }
    }

    /// Forgets the key `api_key` (after this server deleted or expired it).
    pub fn evict_key(&self, env: &EnvironmentId, api_key: &ApiKey) {
        self.evict(&cache_key(env, &api_key.key_hash));
    }

    /// Forgets everything (the change listener reconnected and may have missed changes).
    pub fn clear(&self) {
        if let Ok(mut m) = self.entries.write() {
            m.clear();
        }
    }
}
