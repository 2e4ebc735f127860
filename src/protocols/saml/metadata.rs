//! SAML metadata (SAML Metadata §2.3–§2.4): reading an IdP's `EntityDescriptor` (entity id,
//! HTTP-Redirect `SingleSignOnService`, signing certificates) and writing our SP's
//! `EntityDescriptor` (signing and encryption certificate, HTTP-POST ACS).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::xml::{self, Element};
use super::{SamlError, ns, xmlsec};

/// What Keystead needs from IdP metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// `entityID`.
    pub entity_id: String,
    /// `SingleSignOnService` location for the HTTP-Redirect binding.
    pub sso_url: String,
    /// PEM signing certificates.
    pub certificates: Vec<String>,
}

const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

fn meta_error(msg: impl Into<String>) -> SamlError {
    SamlError::new("invalid_metadata", msg)
}

/// Parses IdP metadata (an `EntityDescriptor`, or an `EntitiesDescriptor` holding exactly one
/// IdP).
pub fn parse_idp(xml_text: &str) -> Result<IdpMetadata, SamlError> {
    xmlsec::reject_dtd(xml_text)?;
    let root = xml::parse(xml_text).map_err(|e| meta_error(e.message))?;
    let entity: &Element = if root.is(ns::MD, "EntityDescriptor") {
        &root
    } else if root.is(ns::MD, "EntitiesDescriptor") {
        let mut idps = root
            .descendants_named(ns::MD, "EntityDescriptor")
            .into_iter()
            .filter(|e| e.child(ns::MD, "IDPSSODescriptor").is_some());
        match (idps.next(), idps.next()) {
            (Some(one), None) => one,
            _ => {
                return Err(meta_error(
                    "The metadata must describe exactly one identity provider.",
                ));
            }
        }
    } else {
        return Err(meta_error("The metadata is not a SAML EntityDescriptor."));
    };
    let entity_id = entity
        .attr("entityID")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| meta_error("The metadata has no entityID."))?
        .to_string();
    let idp = entity
        .child(ns::MD, "IDPSSODescriptor")
        .ok_or_else(|| meta_error("The metadata has no IDPSSODescriptor."))?;
    let sso_url = idp
        .children_named(ns::MD, "SingleSignOnService")
        .find(|s| s.attr("Binding") == Some(REDIRECT_BINDING))
        .and_then(|s| s.attr("Location"))
        .ok_or_else(|| meta_error("The IdP offers no HTTP-Redirect SingleSignOnService."))?
        .to_string();
    let mut certificates = Vec::new();
    for kd in idp.children_named(ns::MD, "KeyDescriptor") {
        if kd.attr("use").is_some_and(|u| u != "signing") {
            continue;
        }
        for c in kd.descendants_named(ns::DSIG, "X509Certificate") {
            let der = certificate_der(&c.text())?;
            let pem = crate::crypto::pem_certificate(&der);
            if !certificates.contains(&pem) {
                certificates.push(pem);
            }
        }
    }
    if certificates.is_empty() {
        return Err(meta_error("The metadata has no signing certificate."));
    }
    Ok(IdpMetadata {
        entity_id,
        sso_url,
        certificates,
    })
}

/// DER of a certificate given as PEM or bare base64; checks it parses as X.509.
pub fn certificate_der(text: &str) -> Result<Vec<u8>, SamlError> {
    let b64: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = STANDARD
        .decode(b64)
        .map_err(|_| SamlError::new("invalid_certificate", "A certificate is not valid base64."))?;
    bergshamra::keys::loader::load_x509_cert_der(&der).map_err(|e| {
        SamlError::new(
            "invalid_certificate",
            format!("A certificate could not be read: {e}"),
        )
    })?;
    Ok(der)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Our SP metadata: entity id, signing and encryption certificate, supported encryption
/// methods, NameID formats and the HTTP-POST ACS.
pub fn sp_metadata(entity_id: &str, acs_url: &str, certificate_der: &[u8]) -> String {
    let cert = STANDARD.encode(certificate_der);
    let key = |usage: &str| {
        format!(
            r#"<md:KeyDescriptor use="{usage}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>{methods}</md:KeyDescriptor>"#,
            methods = if usage == "encryption" {
                concat!(
                    r#"<md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>"#,
                    r#"<md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm"/>"#,
                    r#"<md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/>"#,
                    r#"<md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>"#,
                    r#"<md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>"#,
                )
            } else {
                ""
            }
        )
    };
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity}">"#,
            r#"<md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">"#,
            "{signing}{encryption}",
            r#"<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>"#,
            r#"<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>"#,
            r#"<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>"#,
            r#"<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="0" isDefault="true"/>"#,
            r#"</md:SPSSODescriptor></md:EntityDescriptor>"#
        ),
        entity = escape(entity_id),
        acs = escape(acs_url),
        signing = key("signing"),
        encryption = key("encryption"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDP: &str = include_str!("../../../tests/fixtures/saml/idp-metadata.xml");

    #[test]
    fn idp_metadata_yields_entity_id_redirect_endpoint_and_certificates() {
        let m = parse_idp(IDP).unwrap();
        assert_eq!(m.entity_id, "https://idp.example.test/metadata");
        assert_eq!(m.sso_url, "https://idp.example.test/sso/redirect");
        assert_eq!(m.certificates.len(), 1);
        assert!(m.certificates[0].starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn metadata_without_redirect_binding_or_with_a_dtd_is_refused() {
        let post_only = IDP.replace(REDIRECT_BINDING, "urn:x");
        assert!(parse_idp(&post_only).is_err());
        let dtd = format!("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{IDP}");
        assert_eq!(parse_idp(&dtd).unwrap_err().code, "dtd_forbidden");
        assert!(parse_idp("<x/>").is_err());
    }

    #[test]
    fn sp_metadata_is_well_formed_and_names_the_acs() {
        let xml_text = sp_metadata("https://sp.test/e?a=1&b=2", "https://sp.test/acs", b"der");
        let root = xml::parse(&xml_text).unwrap();
        assert_eq!(root.attr("entityID"), Some("https://sp.test/e?a=1&b=2"));
        let acs = root.descendants_named(ns::MD, "AssertionConsumerService");
        assert_eq!(acs[0].attr("Location"), Some("https://sp.test/acs"));
    }
}
