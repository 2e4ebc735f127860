//! `AuthnRequest` (SAML Core §3.4.1) sent over the HTTP-Redirect binding (SAML Bindings
//! §3.4.4): raw DEFLATE, base64, URL-encoded; optionally signed with the SP key over
//! `SAMLRequest=…&RelayState=…&SigAlg=…` with RSA-SHA256 (§3.4.4.1).

use std::io::Write;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::DeflateEncoder;

use super::SamlError;

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// What goes into an AuthnRequest.
#[derive(Debug, Clone)]
pub struct AuthnRequest<'a> {
    /// Request `ID` (echoed back as `InResponseTo`).
    pub id: &'a str,
    /// Our SP entity id (`Issuer`).
    pub sp_entity_id: &'a str,
    /// Our ACS URL.
    pub acs_url: &'a str,
    /// The IdP's SSO URL (`Destination`).
    pub idp_sso_url: &'a str,
    /// Issue time.
    pub now: DateTime<Utc>,
    /// `login_hint`: sent as the requested `Subject`'s NameID.
    pub login_hint: Option<&'a str>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl AuthnRequest<'_> {
    /// The request XML.
    pub fn to_xml(&self) -> String {
        let subject = self.login_hint.map_or_else(String::new, |h| {
            format!(
                r#"<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">{}</saml:NameID></saml:Subject>"#,
                escape(h)
            )
        });
        format!(
            concat!(
                r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion""#,
                r#" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{dest}" AssertionConsumerServiceURL="{acs}""#,
                r#" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">"#,
                r#"<saml:Issuer>{issuer}</saml:Issuer>{subject}"#,
                r#"<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" AllowCreate="true"/>"#,
                r#"</samlp:AuthnRequest>"#
            ),
            id = escape(self.id),
            now = self.now.format("%Y-%m-%dT%H:%M:%SZ"),
            dest = escape(self.idp_sso_url),
            acs = escape(self.acs_url),
            issuer = escape(self.sp_entity_id),
            subject = subject,
        )
    }

    /// The IdP URL carrying the request (HTTP-Redirect binding), signed when `signing_key`
    /// (PKCS#8 DER of an RSA key) is given.
    pub fn redirect_url(
        &self,
        relay_state: Option<&str>,
        signing_key: Option<&[u8]>,
    ) -> Result<String, SamlError> {
        let mut deflater = DeflateEncoder::new(Vec::new(), Compression::default());
        deflater
            .write_all(self.to_xml().as_bytes())
            .and_then(|()| deflater.flush())
            .map_err(|e| SamlError::new("internal", e.to_string()))?;
        let deflated = deflater
            .finish()
            .map_err(|e| SamlError::new("internal", e.to_string()))?;
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let mut query = format!("SAMLRequest={}", enc(&STANDARD.encode(deflated)));
        if let Some(rs) = relay_state {
            query.push_str(&format!("&RelayState={}", enc(rs)));
        }
        if let Some(der) = signing_key {
            query.push_str(&format!("&SigAlg={}", enc(RSA_SHA256)));
            let pair = RsaKeyPair::from_pkcs8(der)
                .map_err(|_| SamlError::new("internal", "The SP key is not an RSA key."))?;
            let mut sig = vec![0u8; pair.public_modulus_len()];
            pair.sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                query.as_bytes(),
                &mut sig,
            )
            .map_err(|_| SamlError::new("internal", "Signing the AuthnRequest failed."))?;
            query.push_str(&format!("&Signature={}", enc(&STANDARD.encode(sig))));
        }
        let sep = if self.idp_sso_url.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(format!("{}{sep}{query}", self.idp_sso_url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::DeflateDecoder;
    use std::io::Read;

    #[test]
    fn the_redirect_url_carries_a_deflated_request_and_a_verifiable_signature() {
        let generated = crate::crypto::signing::generate("sp").unwrap();
        let req = AuthnRequest {
            id: "sso_req_1",
            sp_entity_id: "https://sp.test/m",
            acs_url: "https://sp.test/acs",
            idp_sso_url: "https://idp.test/sso?x=1",
            now: Utc::now(),
            login_hint: Some("a<b@x.test"),
        };
        let url = req
            .redirect_url(Some("relay"), Some(&generated.pkcs8_der))
            .unwrap();
        let parsed = url::Url::parse(&url).unwrap();
        let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
        assert_eq!(q["x"], "1");
        assert_eq!(q["RelayState"], "relay");
        let deflated = STANDARD.decode(&q["SAMLRequest"]).unwrap();
        let mut xml = String::new();
        DeflateDecoder::new(deflated.as_slice())
            .read_to_string(&mut xml)
            .unwrap();
        assert!(xml.contains(r#"ID="sso_req_1""#) && xml.contains("a&lt;b@x.test"));
        // The signature covers the raw query up to SigAlg.
        let raw = parsed.query().unwrap();
        let signed = &raw[raw.find("SAMLRequest").unwrap()..raw.find("&Signature=").unwrap()];
        let sig = STANDARD.decode(&q["Signature"]).unwrap();
        let pair = RsaKeyPair::from_pkcs8(&generated.pkcs8_der).unwrap();
        use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pair.public_key().as_ref())
            .verify(signed.as_bytes(), &sig)
            .unwrap();
    }
}
