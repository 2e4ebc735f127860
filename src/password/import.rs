//! `password_hash` + `password_hash_type` on `POST /user_management/users` and
//! `PUT /user_management/users/{id}`: recognising, validating and normalising imported hashes,
//! and verifying every stored format.
//!
//! Cost parameters are capped (see the `MAX_*` constants) so that one imported hash cannot make
//! each login attempt take minutes or gigabytes.

use argon2::PasswordVerifier;
use argon2::password_hash::phc::PasswordHash;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

use super::encoding::{decode_b64, scrypt_within_limits};
use super::firebase::FirebaseHash;
use crate::error::ApiError;

/// Highest accepted bcrypt cost (2^16 rounds, a few seconds); exports usually use 10 to 12.
const MAX_BCRYPT_COST: u32 = 16;
/// Highest accepted argon2 memory, in KiB (256 MiB).
const MAX_ARGON2_M_KIB: u32 = 256 * 1024;
/// Highest accepted argon2 memory × passes, in KiB (1 GiB of block work).
const MAX_ARGON2_WORK_KIB: u64 = 1024 * 1024;
/// Highest accepted argon2 and scrypt parallelism.
const MAX_PARALLELISM: u32 = 16;
/// Highest accepted PBKDF2 iteration count.
const MAX_PBKDF2_ROUNDS: u32 = 5_000_000;
/// SHA-1 digest length in an `{SSHA}` value.
const SHA1_LEN: usize = 20;
/// Longest accepted `{SSHA}` salt, in bytes.
const MAX_SSHA_SALT: usize = 64;

/// The `password_hash_type` of `POST/PUT /user_management/users`, with the format each accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum HashType {
    /// `bcrypt`: a 60-character Modular Crypt string, `$2a$`, `$2b$` or `$2y$` and a cost of at
    /// most 16, e.g. `$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy`.
    #[serde(rename = "bcrypt")]
    Bcrypt,
    /// `firebase-scrypt`: Firebase Auth's modified scrypt with the project parameters embedded,
    /// as in the WorkOS Firebase migration guide:
    /// `$firebase-scrypt$v=1$r=<rounds>,m=<mem_cost>,ss=<salt separator>,sk=<signer key>$<salt>$<hash>`
    /// (unpadded base64; `v=1` optional). The named form
    /// `$firebase-scrypt$hash=…$salt=…$sk=…$ss=…$r=…$m=…` is accepted too.
    #[serde(rename = "firebase-scrypt")]
    FirebaseScrypt,
    /// `ssha`: LDAP salted SHA-1, `{SSHA}` + base64(sha1(password ‖ salt) ‖ salt).
    #[serde(rename = "ssha")]
    Ssha,
    /// `scrypt`: a PHC string `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>` (passlib's form),
    /// at most 256 MiB of memory.
    #[serde(rename = "scrypt")]
    Scrypt,
    /// `pbkdf2`: a PHC string `$pbkdf2-sha256$i=<rounds>[,l=<len>]$<salt>$<hash>` or the same
    /// with `pbkdf2-sha512`; 1000 to 5,000,000 rounds.
    #[serde(rename = "pbkdf2")]
    Pbkdf2,
    /// `argon2`: a PHC string `$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>` (also `argon2i`,
    /// `argon2d`, `v=16`); at most 256 MiB and 16 lanes.
    #[serde(rename = "argon2")]
    Argon2,
}

impl HashType {
    /// The wire name, as sent in `password_hash_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bcrypt => "bcrypt",
            Self::FirebaseScrypt => "firebase-scrypt",
            Self::Ssha => "ssha",
            Self::Scrypt => "scrypt",
            Self::Pbkdf2 => "pbkdf2",
            Self::Argon2 => "argon2",
        }
    }
}

/// A `password_hash` that is not a valid hash of its `password_hash_type`; the API answers
/// 400 `{"code": "invalid_password_hash", "message": …}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidHash {
    /// Human-readable explanation, used as the response `message`.
    pub message: String,
}

impl InvalidHash {
    fn new(kind: HashType, detail: impl std::fmt::Display) -> Self {
        Self {
            message: format!(
                "The password_hash is not a valid {} hash: {detail}.",
                kind.as_str()
            ),
        }
    }
}

impl From<InvalidHash> for ApiError {
    fn from(e: InvalidHash) -> Self {
        ApiError::bad_request("invalid_password_hash", e.message)
    }
}

/// Validates that `password_hash` is a well-formed hash of type `kind` within the cost limits,
/// and returns the string to store (re-serialised in canonical form where the format has one).
///
/// # Errors
/// [`InvalidHash`] if the string is malformed, of another type, or over a cost limit.
pub fn import(password_hash: &str, kind: HashType) -> Result<String, InvalidHash> {
    let parsed = StoredHash::parse(password_hash).map_err(|detail| match detail {
        ParseError::Unknown => InvalidHash::new(kind, format!("expected {}", expected(kind))),
        ParseError::Invalid(found, detail) if found == kind => InvalidHash::new(kind, detail),
        ParseError::Invalid(found, _) => {
            InvalidHash::new(kind, format!("it looks like a {} hash", found.as_str()))
        }
    })?;
    if parsed.kind() != kind {
        return Err(InvalidHash::new(
            kind,
            format!("it looks like a {} hash", parsed.kind().as_str()),
        ));
    }
    Ok(parsed.to_stored(password_hash))
}

/// What a hash of `kind` looks like, for error messages.
fn expected(kind: HashType) -> &'static str {
    match kind {
        HashType::Bcrypt => "a string starting with $2a$, $2b$ or $2y$",
        HashType::FirebaseScrypt => "a PHC string starting with $firebase-scrypt$",
        HashType::Ssha => "a string starting with {SSHA}",
        HashType::Scrypt => "a PHC string starting with $scrypt$",
        HashType::Pbkdf2 => "a PHC string starting with $pbkdf2-sha256$ or $pbkdf2-sha512$",
        HashType::Argon2 => "a PHC string starting with $argon2id$, $argon2i$ or $argon2d$",
    }
}

/// Why a stored string did not parse.
#[derive(Debug)]
pub(super) enum ParseError {
    /// No known prefix.
    Unknown,
    /// The prefix of this type, but the rest is malformed or over a limit.
    Invalid(HashType, String),
}

/// A parsed stored hash of any supported format, within the cost limits.
#[derive(Debug)]
pub(super) enum StoredHash {
    /// bcrypt, verified from the original string.
    Bcrypt(String),
    /// argon2i/d/id PHC.
    Argon2(PasswordHash),
    /// scrypt PHC.
    Scrypt(PasswordHash),
    /// pbkdf2-sha256/sha512 PHC.
    Pbkdf2(PasswordHash),
    /// `{SSHA}`: the SHA-1 digest and the salt.
    Ssha {
        /// sha1(password ‖ salt).
        digest: [u8; SHA1_LEN],
        /// The salt appended to the digest.
        salt: Vec<u8>,
    },
    /// Firebase modified scrypt.
    Firebase(FirebaseHash),
}

impl StoredHash {
    /// Recognises `s` by its prefix and parses it.
    pub(super) fn parse(s: &str) -> Result<Self, ParseError> {
        let kind = detect(s).ok_or(ParseError::Unknown)?;
        let invalid = |detail: String| ParseError::Invalid(kind, detail);
        match kind {
            HashType::Bcrypt => parse_bcrypt(s).map(|()| Self::Bcrypt(s.to_owned())),
            HashType::Argon2 => parse_argon2(s).map(Self::Argon2),
            HashType::Scrypt => parse_scrypt(s).map(Self::Scrypt),
            HashType::Pbkdf2 => parse_pbkdf2(s).map(Self::Pbkdf2),
            HashType::Ssha => parse_ssha(s),
            HashType::FirebaseScrypt => FirebaseHash::parse(s).map(Self::Firebase),
        }
        .map_err(invalid)
    }

    /// The `password_hash_type` this hash belongs to.
    pub(super) fn kind(&self) -> HashType {
        match self {
            Self::Bcrypt(_) => HashType::Bcrypt,
            Self::Argon2(_) => HashType::Argon2,
            Self::Scrypt(_) => HashType::Scrypt,
            Self::Pbkdf2(_) => HashType::Pbkdf2,
            Self::Ssha { .. } => HashType::Ssha,
            Self::Firebase(_) => HashType::FirebaseScrypt,
        }
    }

    /// The string to store: canonical PHC / `{SSHA}` re-encoding, or `original` for bcrypt.
    fn to_stored(&self, original: &str) -> String {
        match self {
            Self::Bcrypt(_) => original.to_owned(),
            Self::Argon2(h) | Self::Scrypt(h) | Self::Pbkdf2(h) => h.to_string(),
            Self::Ssha { digest, salt } => {
                let mut raw = digest.to_vec();
                raw.extend_from_slice(salt);
                format!("{{SSHA}}{}", STANDARD.encode(raw))
            }
            Self::Firebase(f) => f.to_phc(),
        }
    }

    /// Constant-time check of `password` against this hash.
    pub(super) fn verify(&self, password: &[u8]) -> bool {
        match self {
            Self::Bcrypt(s) => bcrypt::verify(password, s).unwrap_or(false),
            Self::Argon2(h) => super::argon::verify_argon2(password, h),
            Self::Scrypt(h) => scrypt::Scrypt::new().verify_password(password, h).is_ok(),
            Self::Pbkdf2(h) => pbkdf2::Pbkdf2::SHA256.verify_password(password, h).is_ok(),
            Self::Ssha { digest, salt } => {
                let mut sha = Sha1::new();
                sha.update(password);
                sha.update(salt);
                bool::from(sha.finalize().as_slice().ct_eq(digest))
            }
            Self::Firebase(f) => f.verify(password),
        }
    }
}

/// The type whose prefix `s` carries, if any.
fn detect(s: &str) -> Option<HashType> {
    let prefixed = |prefixes: &[&str]| prefixes.iter().any(|p| s.starts_with(p));
    if prefixed(&["$2a$", "$2b$", "$2y$"]) {
        Some(HashType::Bcrypt)
    } else if prefixed(&["$argon2id$", "$argon2i$", "$argon2d$"]) {
        Some(HashType::Argon2)
    } else if prefixed(&["$scrypt$"]) {
        Some(HashType::Scrypt)
    } else if prefixed(&["$pbkdf2-sha256$", "$pbkdf2-sha512$"]) {
        Some(HashType::Pbkdf2)
    } else if s.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("{SSHA}")) {
        Some(HashType::Ssha)
    } else if prefixed(&[super::firebase::PREFIX]) {
        Some(HashType::FirebaseScrypt)
    } else {
        None
    }
}

fn parse_bcrypt(s: &str) -> Result<(), String> {
    let parts: bcrypt::HashParts = s.parse().map_err(|e| format!("{e}"))?;
    let cost = parts.get_cost();
    if !(4..=MAX_BCRYPT_COST).contains(&cost) {
        return Err(format!("cost {cost} is outside 4..={MAX_BCRYPT_COST}"));
    }
    Ok(())
}

/// Parses a PHC string that must carry both a salt and a hash.
fn parse_phc(s: &str) -> Result<PasswordHash, String> {
    let h = PasswordHash::new(s).map_err(|e| format!("malformed PHC string ({e})"))?;
    if h.salt.is_none() || h.hash.is_none() {
        return Err("the PHC string has no salt or no hash".into());
    }
    Ok(h)
}

fn parse_argon2(s: &str) -> Result<PasswordHash, String> {
    let h = parse_phc(s)?;
    match h.version {
        Some(0x10 | 0x13) => {}
        Some(v) => return Err(format!("unsupported version v={v}")),
        None => return Err("the version (v=19 or v=16) is missing".into()),
    }
    let p = argon2::Params::try_from(&h).map_err(|e| format!("invalid parameters ({e})"))?;
    let work = u64::from(p.m_cost()) * u64::from(p.t_cost());
    if p.m_cost() > MAX_ARGON2_M_KIB || work > MAX_ARGON2_WORK_KIB || p.p_cost() > MAX_PARALLELISM {
        return Err(format!(
            "parameters over the limits (m <= {MAX_ARGON2_M_KIB}, m*t <= {MAX_ARGON2_WORK_KIB}, \
             p <= {MAX_PARALLELISM})"
        ));
    }
    Ok(h)
}

fn parse_scrypt(s: &str) -> Result<PasswordHash, String> {
    let h = parse_phc(s)?;
    let p = scrypt::Params::try_from(&h).map_err(|e| format!("invalid parameters ({e})"))?;
    scrypt_within_limits(p.log_n(), p.r())?;
    if p.p() > MAX_PARALLELISM {
        return Err(format!("p over the limit of {MAX_PARALLELISM}"));
    }
    Ok(h)
}

fn parse_pbkdf2(s: &str) -> Result<PasswordHash, String> {
    let h = parse_phc(s)?;
    let p = pbkdf2::Params::try_from(&h).map_err(|e| format!("invalid parameters ({e})"))?;
    if p.rounds() > MAX_PBKDF2_ROUNDS {
        return Err(format!("i over the limit of {MAX_PBKDF2_ROUNDS}"));
    }
    Ok(h)
}

fn parse_ssha(s: &str) -> Result<StoredHash, String> {
    let b64 = s.get(6..).unwrap_or_default();
    let raw = decode_b64(b64).ok_or("the value after {SSHA} is not base64")?;
    if raw.len() <= SHA1_LEN || raw.len() > SHA1_LEN + MAX_SSHA_SALT {
        return Err(format!(
            "expected a 20-byte SHA-1 digest followed by a 1 to {MAX_SSHA_SALT} byte salt"
        ));
    }
    let (digest, salt) = raw.split_at(SHA1_LEN);
    let digest = <[u8; SHA1_LEN]>::try_from(digest).map_err(|e| e.to_string())?;
    Ok(StoredHash::Ssha {
        digest,
        salt: salt.to_vec(),
    })
}
