//! Protocol engines for Enterprise SSO and the endpoints identity providers call:
//! [`saml`] (SP: AuthnRequest, ACS, SP metadata), [`oidc`] (GenericOIDC and the OAuth
//! providers), [`profile`] (attribute mapping to the WorkOS Profile), [`login`] (starting a
//! login and finishing it with a one-time code) and [`outbound`] (SSRF-guarded HTTP).

pub mod login;
pub mod oidc;
pub mod outbound;
pub mod profile;
pub mod saml;
pub mod scim;

use std::sync::Arc;

use axum::Router;

use crate::error::{ApiError, ApiResult};
use crate::settings::sso::SsoSettings;
use crate::state::AppState;

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
