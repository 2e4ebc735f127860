//! Helpers shared by the hash importers ([`super::import`], [`super::firebase`]): lenient
//! base64 and the scrypt memory bound.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

/// Highest accepted scrypt memory, 128 · r · 2^ln bytes (256 MiB).
pub(super) const MAX_SCRYPT_BYTES: u64 = 256 * 1024 * 1024;

/// Checks that scrypt with N = 2^`log_n` and block size `r` needs at most [`MAX_SCRYPT_BYTES`].
pub(super) fn scrypt_within_limits(log_n: u8, r: u32) -> Result<(), String> {
    let bytes = 1u64
        .checked_shl(u32::from(log_n))
        .and_then(|n| n.checked_mul(128 * u64::from(r)));
    match bytes {
        Some(b) if b <= MAX_SCRYPT_BYTES => Ok(()),
        _ => Err(format!(
            "parameters need more than {} MiB of memory",
            MAX_SCRYPT_BYTES >> 20
        )),
    }
}

/// Decodes base64 leniently: standard or URL-safe alphabet, with or without `=` padding.
pub(super) fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let normalised: String = s
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    STANDARD_NO_PAD.decode(normalised).ok()
}
