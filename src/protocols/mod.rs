//! Protocol engines for Enterprise SSO and the endpoints identity providers call:
//! [`saml`] (SP: AuthnRequest, ACS, SP metadata), [`oidc`] (GenericOIDC and the OAuth
//! providers), [`profile`] (attribute mapping to the WorkOS Profile), [`login`] (starting a
//! login and finishing it with a one-time code) and [`outbound`] (SSRF-guarded HTTP).

pub mod login;
pub mod oidc;
pub mod outbound;
pub mod profile;
pub mod saml;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};

/// SSO settings (from `KEYSTEAD_SSO_*`).
#[derive(Debug, Clone)]
pub struct SsoSettings {
    /// Clock skew tolerated on SAML time conditions and ID tokens.
    pub clock_skew: Duration,
    /// How long a started login may take at the IdP.
    pub request_ttl: Duration,
    /// Timeout of each outbound request to an IdP.
    pub outbound_timeout: Duration,
    /// Networks outbound requests may reach although they are private or loopback.
    pub outbound_allow: Vec<outbound::IpNet>,
}

impl Default for SsoSettings {
    fn default() -> Self {
        Self {
            clock_skew: Duration::from_secs(180),
            request_ttl: Duration::from_secs(600),
            outbound_timeout: Duration::from_secs(10),
            outbound_allow: Vec::new(),
        }
    }
}

/// Runtime state of the SSO engines: the outbound client, the XML security engine and the
/// OIDC provider cache.
pub struct SsoRuntime {
    outbound: Result<outbound::Outbound, String>,
    /// The XML-DSig/XML-Enc engine.
    pub xmlsec: Arc<dyn saml::xmlsec::XmlSecurity>,
    /// Discovery documents and JWKS per connection.
    pub oidc_cache: oidc::ProviderCache,
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
            xmlsec: Arc::new(saml::xmlsec::Bergshamra),
            oidc_cache: oidc::ProviderCache::default(),
        }
    }

    /// The guarded HTTP client.
    pub fn outbound(&self) -> ApiResult<&outbound::Outbound> {
        self.outbound
            .as_ref()
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("outbound HTTP client: {e}")))
    }
}

/// Routes identity providers and browsers call during a login (no API key).
pub fn public_router() -> Router<AppState> {
    Router::new()
        .merge(saml::public_router())
        .merge(oidc::public_router())
}
