//! Time-based one-time passwords (RFC 6238, on RFC 4226 HOTP): SHA-1, 6 digits, 30-second
//! steps, checked with a window of one step either side (§5.2). Authenticator apps expect exactly
//! these parameters, so they are fixed. The caller makes each accepted step usable once.

use anyhow::anyhow;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Step length in seconds.
pub const STEP_SECS: u64 = 30;

/// A fresh 160-bit secret (RFC 4226 §4 recommends 160 bits).
pub fn generate_secret() -> Vec<u8> {
    Secret::generate().as_bytes().to_vec()
}

/// Base32 (RFC 4648, no padding), the form authenticator apps accept.
pub fn to_base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// Decodes a Base32 secret (as `totp_secret` may give one); `None` when malformed or shorter
/// than 128 bits.
pub fn from_base32(secret: &str) -> Option<Vec<u8>> {
    let cleaned: String = secret
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .collect::<String>()
        .to_ascii_uppercase();
    Secret::try_from_base32(cleaned)
        .ok()
        .map(|s| s.as_bytes().to_vec())
        .filter(|b| b.len() >= 16)
}

fn build(secret: &[u8], issuer: &str, account: &str) -> anyhow::Result<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECS)
        .with_secret(secret.to_vec())
        .with_issuer(Some(issuer.replace(':', " ")))
        .with_account_name(account.replace(':', " "))
        .build()
        .map_err(|e| anyhow!("TOTP parameters: {e:?}"))
}

/// What enrollment shows once: the `otpauth://` URI and a PNG QR code of it as a data URI.
#[derive(Debug)]
pub struct Enrollment {
    /// `otpauth://totp/<issuer>:<user>?secret=…&issuer=…`
    pub uri: String,
    /// `data:image/png;base64,…`
    pub qr_code: String,
}

/// The enrollment URI and QR code for `secret`.
pub fn enrollment(secret: &[u8], issuer: &str, account: &str) -> anyhow::Result<Enrollment> {
    let totp = build(secret, issuer, account)?;
    let uri = totp.to_url().map_err(|e| anyhow!("TOTP URI: {e:?}"))?;
    let png = totp
        .to_qr_png()
        .map_err(|e| anyhow!("TOTP QR code: {e:?}"))?;
    Ok(Enrollment {
        uri,
        qr_code: format!("data:image/png;base64,{}", STANDARD.encode(png)),
    })
}

/// The step (`unix time / 30`) whose code `code` is, within one step of `now` (Unix seconds),
/// or `None` when the code matches none of the three.
pub fn check(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = build(secret, "keystead", "check").ok()?;
    totp.check(code, now)
}

/// The code for `now` (Unix seconds); used by tests and the documentation examples.
pub fn generate(secret: &[u8], now: u64) -> anyhow::Result<String> {
    Ok(build(secret, "keystead", "check")?
        .generate(now)
        .to_string())
}

/// The current Unix time in seconds.
pub fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 seed, T = 59 s: 94287082 (8 digits), so 287082 with 6.
    #[test]
    fn matches_the_rfc_6238_vector_and_accepts_one_step_either_side() {
        let seed = b"12345678901234567890";
        assert_eq!(generate(seed, 59).unwrap(), "287082");
        assert_eq!(check(seed, "287082", 59), Some(1));
        assert_eq!(check(seed, "287082", 59 + 30), Some(1), "one step late");
        assert_eq!(check(seed, "287082", 59 + 60), None, "two steps late");
        assert_eq!(check(seed, "28708", 59), None);
        assert_eq!(check(seed, "abcdef", 59), None);
        // RFC 6238: T = 1111111109 → 07081804.
        assert_eq!(generate(seed, 1_111_111_109).unwrap(), "081804");
    }

    #[test]
    fn enrollment_has_an_otpauth_uri_and_a_png_data_uri() {
        let secret = generate_secret();
        assert_eq!(secret.len(), 20);
        let e = enrollment(&secret, "Acme", "ada@example.com").unwrap();
        assert!(
            e.uri.starts_with("otpauth://totp/Acme:ada%40example.com?"),
            "{}",
            e.uri
        );
        assert!(e.uri.contains(&format!("secret={}", to_base32(&secret))));
        assert!(e.qr_code.starts_with("data:image/png;base64,iVBOR"));
        assert_eq!(from_base32(&to_base32(&secret)).unwrap(), secret);
        assert!(from_base32("not base32!").is_none());
    }
}
