//! Enterprise SSO settings (`KEYSTEAD_SSO_*`), read by [`crate::settings::Settings`] and the
//! SSO engines.

use std::time::Duration;

use ipnet::IpNet;

use crate::config::SsoArgs;

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
    pub outbound_allow: Vec<IpNet>,
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

impl SsoSettings {
    /// Settings from the `serve` options.
    pub fn from_args(a: &SsoArgs) -> Self {
        Self {
            clock_skew: Duration::from_secs(a.clock_skew),
            request_ttl: Duration::from_secs(a.request_ttl),
            outbound_timeout: Duration::from_secs(a.outbound_timeout),
            outbound_allow: a.outbound_allow.clone(),
        }
    }
}
