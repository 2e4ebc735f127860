//! Protocol settings of an SSO connection: the SAML IdP side and policy flags, or the
//! OIDC/OAuth client and endpoints, with their JSON form (`store::connections` keeps them as
//! `jsonb` in `connections.settings`). No secrets here.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiResult;

/// The protocol a connection speaks, from its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// SAML 2.0 Web Browser SSO.
    Saml,
    /// OpenID Connect (discovery, code + PKCE, ID token).
    Oidc,
    /// OAuth 2.0 social providers (code, then userinfo).
    Oauth,
}

impl Protocol {
    /// The stored name: `saml`, `oidc` or `oauth`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Saml => "saml",
            Self::Oidc => "oidc",
            Self::Oauth => "oauth",
        }
    }
}

/// Non-secret settings of a SAML connection (IdP side plus policy flags).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SamlSettings {
    /// The IdP's entity id (`Issuer` of its responses).
    pub idp_entity_id: String,
    /// The IdP's SSO endpoint for the HTTP-Redirect binding.
    pub idp_sso_url: String,
    /// PEM certificates accepted for response signatures (several during rotation).
    pub idp_certificates: Vec<String>,
    /// Where the IdP metadata was read from, for re-reading on update.
    #[serde(default)]
    pub idp_metadata_url: Option<String>,
    /// Accept responses that answer no AuthnRequest of ours.
    #[serde(default)]
    pub allow_idp_initiated: bool,
    /// Accept RSA-SHA1 / SHA-1 digests (legacy IdPs only).
    #[serde(default)]
    pub allow_sha1: bool,
    /// Sign AuthnRequests with the SP key.
    #[serde(default = "yes")]
    pub sign_requests: bool,
}

fn yes() -> bool {
    true
}

/// Non-secret settings of an OIDC or OAuth connection.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OAuthSettings {
    /// The client id registered at the provider.
    pub client_id: String,
    /// Scopes requested at every login.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// OIDC discovery document URL (`…/.well-known/openid-configuration`).
    #[serde(default)]
    pub discovery_endpoint: Option<String>,
    /// OAuth: authorization endpoint (provider default when absent).
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// OAuth: token endpoint (provider default when absent).
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// OAuth: user-info endpoint (provider default when absent).
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
}

/// Protocol settings, by protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settings {
    /// SAML.
    Saml(SamlSettings),
    /// OIDC.
    Oidc(OAuthSettings),
    /// OAuth.
    Oauth(OAuthSettings),
}

impl Settings {
    /// The protocol of these settings.
    pub fn protocol(&self) -> Protocol {
        match self {
            Self::Saml(_) => Protocol::Saml,
            Self::Oidc(_) => Protocol::Oidc,
            Self::Oauth(_) => Protocol::Oauth,
        }
    }

    /// The JSON form of the settings (without the protocol).
    pub fn to_json(&self) -> ApiResult<Value> {
        let v = match self {
            Self::Saml(s) => serde_json::to_value(s),
            Self::Oidc(s) | Self::Oauth(s) => serde_json::to_value(s),
        };
        Ok(v.map_err(anyhow::Error::from)?)
    }

    /// Reads settings of `protocol` (`saml`, `oidc`, else OAuth) from their JSON form.
    pub fn from_json(protocol: &str, v: Value) -> ApiResult<Self> {
        let parsed = match protocol {
            "saml" => serde_json::from_value(v).map(Self::Saml),
            "oidc" => serde_json::from_value(v).map(Self::Oidc),
            _ => serde_json::from_value(v).map(Self::Oauth),
        };
        Ok(parsed.map_err(anyhow::Error::from)?)
    }
}
