//! Runtime state of the SSO engines, owned by the app state: the SSRF-guarded outbound client
//! ([`super::outbound`]), the XML-DSig/XML-Enc engine ([`super::saml::xmlsec`]) and the OIDC
//! discovery cache ([`ProviderCache`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use openidconnect::core::CoreProviderMetadata;

use super::outbound;
use super::saml::xmlsec;
use crate::error::{ApiError, ApiResult};
use crate::settings::sso::SsoSettings;

/// Runtime state of the SSO engines: the outbound client, the XML security engine and the
/// OIDC provider cache.
pub struct SsoRuntime {
    outbound: Result<outbound::Outbound, String>,
    /// The XML-DSig/XML-Enc engine.
    pub xmlsec: Arc<dyn xmlsec::XmlSecurity>,
    /// Discovery documents and JWKS per connection.
    pub oidc_cache: ProviderCache,
}

impl std::fmt::Debug for SsoRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoRuntime").finish_non_exhaustive()
    }
}

impl SsoRuntime {
    /// Builds the runtime from the settings.
    pub fn new(settings: &SsoSettings) -> Self {
        let policy = outbound::Policy {
            allow: settings.outbound_allow.clone(),
        };
        Self {
            outbound: outbound::Outbound::new(policy, settings.outbound_timeout)
                .map_err(|e| e.to_string()),
            xmlsec: Arc::new(xmlsec::Bergshamra),
            oidc_cache: ProviderCache::default(),
        }
    }

    /// The guarded HTTP client.
    pub fn outbound(&self) -> ApiResult<&outbound::Outbound> {
        self.outbound
            .as_ref()
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("outbound HTTP client: {e}")))
    }
}

/// OIDC discovery documents (with their JWKS) per connection id.
#[derive(Default)]
pub struct ProviderCache {
    inner: RwLock<HashMap<String, (Instant, CoreProviderMetadata)>>,
}

impl ProviderCache {
    /// The document cached for `connection_id`, if fetched less than `max_age` ago.
    pub fn get(&self, connection_id: &str, max_age: Duration) -> Option<CoreProviderMetadata> {
        self.inner
            .read()
            .ok()
            .and_then(|m| m.get(connection_id).cloned())
            .filter(|(at, _)| at.elapsed() < max_age)
            .map(|(_, m)| m)
    }

    /// Caches `meta` for `connection_id`, fetched now.
    pub fn put(&self, connection_id: &str, meta: CoreProviderMetadata) {
        if let Ok(mut m) = self.inner.write() {
            m.insert(connection_id.to_string(), (Instant::now(), meta));
        }
    }
}
