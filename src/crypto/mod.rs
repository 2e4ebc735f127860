//! Small cryptographic helpers: digests for stored secrets, random tokens, constant-time
//! comparison, the at-rest vault ([`vault`]), access-token signing ([`signing`]) and Vault's
//! envelope encryption of customer data ([`data_keys`]).

pub mod access_token;
pub mod data_keys;
pub mod signing;
pub mod totp;
pub mod vault;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Lowercase hex SHA-256 of `value`: how API keys, refresh tokens and codes are stored.
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// `n` random bytes from the OS-seeded CSPRNG, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill(bytes.as_mut_slice());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `n` random alphanumeric characters (for tokens shown in DNS records and URLs).
pub fn random_alphanumeric(n: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// `n` random decimal digits (one-time codes people type: Magic Auth, email verification).
pub fn random_digits(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// Salted digest of a one-time code: `sha256_hex("<row id>:<code>")`. The row id salts short
/// codes so equal codes of different rows never share a digest.
pub fn code_hash(id: &str, code: &str) -> String {
    sha256_hex(&format!("{id}:{code}"))
}

/// Constant-time equality of two byte strings (length is not hidden).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A new API key value: `sk_live_…` for production environments, `sk_test_…` otherwise.
pub fn new_environment_key(production: bool) -> String {
    let kind = if production { "live" } else { "test" };
    format!("sk_{kind}_{}", random_alphanumeric(40))
}

/// How an API key is shown after creation: `sk_...3456` (WORKOS-API-NOTES §8 item 8).
pub fn obfuscate(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("sk_...{tail}")
}

/// PEM of a DER certificate.
pub fn pem_certificate(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_keys_are_prefixed_and_obfuscated() {
        let k = new_environment_key(false);
        assert!(k.starts_with("sk_test_"));
        assert!(new_environment_key(true).starts_with("sk_live_"));
        assert_eq!(obfuscate("sk_test_abcd3456"), "sk_...3456");
        assert_eq!(sha256_hex("a").len(), 64);
        assert!(ct_eq(b"abc", b"abc") && !ct_eq(b"abc", b"abd"));
    }
}
