//! SAML 2.0 Service Provider engine (SAML Core, Bindings, Profiles): [`request`] (AuthnRequest,
//! HTTP-Redirect binding), [`xmlsec`] (XML-DSig verification, XML-Enc decryption),
//! [`response`] (Response and Assertion validation, Core §3.2.2, Profiles §4.1.4),
//! [`metadata`] (IdP metadata import, SP metadata) and [`xml`]. The routes identity providers
//! call (ACS, SP metadata) are `crate::idp::saml`.

pub mod metadata;
pub mod request;
pub mod response;
pub mod xml;
pub mod xmlsec;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::Failure;

/// XML namespaces used by the SP.
pub mod ns {
    /// SAML 2.0 assertion.
    pub const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
    /// SAML 2.0 protocol.
    pub const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
    /// SAML 2.0 metadata.
    pub const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    /// XML-DSig.
    pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
    /// XML-Enc.
    pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
}

/// Why a SAML message was refused: a stable code (the `authentication.sso_failed` reason and
/// the `error` of the redirect) and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SamlError {
    /// Machine-readable reason, e.g. `signature_invalid`, `audience_mismatch`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl SamlError {
    /// A new error.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<SamlError> for Failure {
    fn from(e: SamlError) -> Self {
        Self {
            code: e.code,
            message: e.message,
        }
    }
}

/// PEM armour for DER bytes.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}
