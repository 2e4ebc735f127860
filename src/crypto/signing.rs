//! RS256 signing keys for access tokens, and their JWKS form (RFC 7517, RFC 7515).
//!
//! Each environment owns an RSA-2048 key (generated with aws-lc-rs) and a self-signed X.509
//! certificate for it, so the JWKS at `GET /sso/jwks/{client_id}` carries `kid`, `n`, `e`,
//! `x5c` and `x5t#S256` as the WorkOS SDKs expect (spec schema `JwksResponse`).

use anyhow::{Context, anyhow};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A freshly generated key: PKCS#8 private key and self-signed certificate, both DER.
#[derive(Debug)]
pub struct GeneratedKey {
    /// PKCS#8 (v1) DER of the RSA private key; encrypt before storing.
    pub pkcs8_der: Vec<u8>,
    /// DER of a self-signed certificate for the public key (the JWKS `x5c`).
    pub certificate_der: Vec<u8>,
}

/// Generates an RSA-2048 key and a self-signed certificate with `CN=<subject>`.
pub fn generate(subject: &str) -> anyhow::Result<GeneratedKey> {
    let pair =
        KeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow!("RSA key generation failed"))?;
    let der = pair
        .as_der()
        .map_err(|_| anyhow!("RSA key export failed"))?;
    let pkcs8_der = der.as_ref().to_vec();
    let rc_key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8_der.as_slice()),
        &rcgen::PKCS_RSA_SHA256,
    )
    .context("loading the RSA key into rcgen")?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, subject);
    params.not_after = rcgen::date_time_ymd(2099, 12, 31);
    let cert = params
        .self_signed(&rc_key)
        .context("self-signing the certificate")?;
    Ok(GeneratedKey {
        pkcs8_der,
        certificate_der: cert.der().to_vec(),
    })
}

/// A loaded signing key, ready to sign and verify access tokens.
pub struct SigningKey {
    /// Key id (`key_…`), the JWT header `kid`.
    pub kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The public JWK: `{alg, kty, use, x5c, n, e, kid, x5t#S256}`.
    pub jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads a key from its PKCS#8 DER and certificate DER.
    pub fn from_parts(kid: &str, pkcs8_der: &[u8], certificate_der: &[u8]) -> anyhow::Result<Self> {
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8_der)
        );
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).context("loading the RSA key")?;
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256)?;
        let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
            return Err(anyhow!("signing key is not RSA"));
        };
        let decoding = DecodingKey::from_rsa_components(&rsa.n, &rsa.e)?;
        let jwk = json!({
            "alg": "RS256",
            "kty": "RSA",
            "use": "sig",
            "x5c": [STANDARD.encode(certificate_der)],
            "n": rsa.n,
            "e": rsa.e,
            "kid": kid,
            "x5t#S256": URL_SAFE_NO_PAD.encode(Sha256::digest(certificate_der)),
        });
        Ok(Self {
            kid: kid.to_string(),
            encoding,
            decoding,
            jwk,
        })
    }

    /// Signs `claims` as an RS256 JWT with this key's `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// Verifies an RS256 JWT signed by this key (signature and `exp`; `leeway_secs` of skew).
    pub fn verify<T: DeserializeOwned>(&self, token: &str, leeway_secs: u64) -> anyhow::Result<T> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = leeway_secs;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        Ok(jsonwebtoken::decode::<T>(token, &self.decoding, &validation)?.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_tokens_verify_against_the_published_jwk() {
        let generated = generate("test").unwrap();
        let key = SigningKey::from_parts("key_1", &generated.pkcs8_der, &generated.certificate_der)
            .unwrap();
        let exp = chrono::Utc::now().timestamp() + 60;
        let token = key.sign(&json!({"sub": "user_1", "exp": exp})).unwrap();
        let claims: Value = key.verify(&token, 0).unwrap();
        assert_eq!(claims["sub"], "user_1");

        let jwk: Jwk = serde_json::from_value(key.jwk.clone()).unwrap();
        let decoding = DecodingKey::from_jwk(&jwk).unwrap();
        let mut v = Validation::new(Algorithm::RS256);
        v.validate_aud = false;
        assert!(jsonwebtoken::decode::<Value>(&token, &decoding, &v).is_ok());
        assert_eq!(key.jwk["x5c"].as_array().unwrap().len(), 1);
    }
}
