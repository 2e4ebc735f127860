//! The shared application state: [`App`] and its cheaply clonable handle [`AppState`].
//!
//! [`App`] holds the pool, the vault, settings, the DNS resolver, the password hasher, the rate
//! limiter ([`rate_limit`], with its Redis backend `redis_gcra`), the environment-key
//! cache ([`environment_keys`]), the product API-key validation cache ([`api_keys`]), the Radar
//! risk engine ([`radar`]), compiled audit-log schemas ([`audit_schemas`]), the SSO engines and a
//! cache of each environment's signing keys. What `App` owns lives here, below `http/`, whose
//! middleware and extractors use it.

pub mod api_keys;
pub mod audit_schemas;
pub mod environment_keys;
pub mod extensions;
pub mod radar;
pub mod rate_limit;
pub(crate) mod redis_conn;
mod redis_gcra;

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, RwLock};

use sqlx::PgPool;

use self::environment_keys::EnvironmentKeyCache;
use self::rate_limit::RateLimiter;
use crate::crypto::signing::SigningKey;
use crate::crypto::vault::Vault;
use crate::dns::TxtResolver;
use crate::error::{ApiError, ApiResult};
use crate::ids::EnvironmentId;
use crate::password::Hasher;
use crate::settings::Settings;
use crate::store::environments;
use crate::telemetry;

/// Everything a handler needs; shared behind [`AppState`].
pub struct App {
    /// The connection pool.
    pub db: PgPool,
    /// Encrypts secrets at rest.
    pub vault: Vault,
    /// Settings.
    pub settings: Settings,
    /// TXT lookups for domain verification.
    pub dns: Arc<dyn TxtResolver>,
    /// Password hashing off the runtime.
    pub passwords: Hasher,
    /// Rate limits (in-process or Redis).
    pub limiter: Arc<RateLimiter>,
    /// Resolved environment keys (the server's own `sk_…` API keys).
    pub environment_keys: EnvironmentKeyCache,
    /// Validated organization and user API keys (the API Keys product, [`api_keys`]).
    pub api_keys: api_keys::ApiKeyCache,
    /// SSO engines: outbound HTTP, XML security, OIDC provider cache.
    pub sso: crate::protocols::runtime::SsoRuntime,
    /// Sign-in hooks and access-token claims contributors ([`extensions::Extensions`]).
    pub auth: extensions::Extensions,
    /// The Radar risk engine ([`radar::Radar`]).
    pub radar: Arc<radar::Radar>,
    /// Compiled audit-log schemas ([`audit_schemas::AuditSchemas`]).
    pub audit_schemas: audit_schemas::AuditSchemas,
    keys: RwLock<HashMap<String, Arc<Vec<SigningKey>>>>,
}

/// Cheaply clonable handle to the [`App`] (`State<AppState>` in handlers).
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl AppState {
    /// Builds the state. Errors when the Redis URL is malformed.
    pub fn new(
        db: PgPool,
        vault: Vault,
        settings: Settings,
        dns: Arc<dyn TxtResolver>,
        passwords: Hasher,
    ) -> anyhow::Result<Self> {
        telemetry::metrics_handle();
        let limiter = Arc::new(RateLimiter::new(
            settings.rate_limits.clone(),
            settings.redis_url.as_deref(),
        )?);
        let sso = crate::protocols::runtime::SsoRuntime::new(&settings.sso);
        let radar = Arc::new(radar::Radar::new(&settings)?);
        // Radar screens sign-ins (it allows everything while an environment has it off).
        let auth = extensions::Extensions::default();
        auth.add_hook(radar.clone());
        Ok(Self(Arc::new(App {
            db,
            vault,
            settings,
            dns,
            passwords,
            limiter,
            environment_keys: EnvironmentKeyCache::default(),
            api_keys: api_keys::ApiKeyCache::default(),
            sso,
            auth,
            radar,
            audit_schemas: audit_schemas::AuditSchemas::default(),
            keys: RwLock::new(HashMap::new()),
        })))
    }

    /// The environment's active signing keys (newest first), decrypted once and cached.
    pub async fn signing_keys(&self, env: &EnvironmentId) -> ApiResult<Arc<Vec<SigningKey>>> {
        if let Some(k) = self
            .keys
            .read()
            .ok()
            .and_then(|m| m.get(env.as_str()).cloned())
        {
            return Ok(k);
        }
        let loaded = Arc::new(environments::signing_keys(&self.db, &self.vault, env).await?);
        if loaded.is_empty() {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "environment {env} has no signing key"
            )));
        }
        if let Ok(mut m) = self.keys.write() {
            m.insert(env.to_string(), loaded.clone());
        }
        Ok(loaded)
    }
}
