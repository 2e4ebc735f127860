//! `password_hash_type: "firebase-scrypt"`: Firebase Auth's modified scrypt.
//!
//! The algorithm (firebase/scrypt README, "Password Hashing"): derive a 32-byte key with scrypt
//! (password, salt ‖ salt separator, N = 2^mem_cost, r = rounds, p = 1), then encrypt the
//! project's signer key with AES-256-CTR under that key and a zero IV; the result is the user's
//! `passwordHash`. Verification recomputes it and compares in constant time.
//!
//! The wire format follows the WorkOS guide "Migrate from Firebase": a PHC string whose
//! parameters map `base64_signer_key` → `sk`, `base64_salt_separator` → `ss`, `rounds` → `r` and
//! `mem_cost` → `m`, with hash, salt, `sk` and `ss` in unpadded base64, as `@phc/format` writes
//! it (the guide's suggested library):
//!
//! `$firebase-scrypt$v=1$r=8,m=14,ss=Bw,sk=<signer key>$<salt>$<hash>` (`v=1` optional)
//!
//! The guide shows no literal example string, so we also accept the named-field variant
//! `$firebase-scrypt$hash=<b64>$salt=<b64>$sk=<b64>$ss=<b64>$r=<rounds>$m=<mem_cost>` (fields in
//! any order, one per `$` segment), padded base64 and the URL-safe alphabet (Firebase's Admin
//! SDK exports it). Everything is stored in the first, canonical form.

use aes::Aes256;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use ctr::cipher::{KeyIvInit, StreamCipher};
use subtle::ConstantTimeEq;

/// The PHC identifier prefix.
pub(super) const PREFIX: &str = "$firebase-scrypt$";

/// Firebase's own limits (Admin SDK `UserImportHash` scrypt): rounds 1..=8, memory cost 1..=14.
const MAX_ROUNDS: u32 = 8;
const MAX_MEM_COST: u32 = 14;
/// Longest accepted salt, salt separator or signer key, in bytes (real ones are 1 to 64).
const MAX_FIELD_LEN: usize = 256;

/// A parsed `$firebase-scrypt$` hash with the project's parameters embedded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FirebaseHash {
    /// The user's `passwordHash`.
    hash: Vec<u8>,
    /// The user's `salt`.
    salt: Vec<u8>,
    /// The project's `base64_signer_key`.
    signer_key: Vec<u8>,
    /// The project's `base64_salt_separator`.
    salt_separator: Vec<u8>,
    /// The project's `rounds` (scrypt r).
    rounds: u32,
    /// The project's `mem_cost` (scrypt log2 N).
    mem_cost: u32,
}

impl FirebaseHash {
    /// Parses either accepted form (see the module docs).
    pub(super) fn parse(s: &str) -> Result<Self, String> {
        let body = s.strip_prefix(PREFIX).ok_or("missing $firebase-scrypt$")?;
        let mut named: Vec<(&str, &str)> = Vec::new();
        let mut positional: Vec<&str> = Vec::new();
        for segment in body.split('$') {
            let pairs: Option<Vec<(&str, &str)>> = segment
                .split(',')
                .map(|piece| piece.split_once('=').filter(|(k, _)| is_field(k)))
                .collect();
            match pairs {
                Some(pairs) => named.extend(pairs),
                None => positional.push(segment),
            }
        }
        let field = |name: &str| -> Result<Option<&str>, String> {
            let mut values = named.iter().filter(|(k, _)| *k == name).map(|(_, v)| *v);
            let first = values.next();
            match values.next() {
                Some(_) => Err(format!("{name} is given twice")),
                None => Ok(first),
            }
        };
        let (salt, hash) = match positional.as_slice() {
            [] => (field("salt")?, field("hash")?),
            [salt, hash] if field("salt")?.is_none() && field("hash")?.is_none() => {
                (Some(*salt), Some(*hash))
            }
            _ => return Err("expected <params>$<salt>$<hash> or named hash= and salt=".into()),
        };
        if field("v")?.is_some_and(|v| v != "1") {
            return Err("unsupported version (only v=1)".into());
        }
        let bytes = |name: &str, value: Option<&str>| -> Result<Vec<u8>, String> {
            let value = value.ok_or_else(|| format!("{name} is missing"))?;
            match super::encoding::decode_b64(value) {
                Some(b) if !b.is_empty() && b.len() <= MAX_FIELD_LEN => Ok(b),
                _ => Err(format!(
                    "{name} must be 1 to {MAX_FIELD_LEN} bytes of base64"
                )),
            }
        };
        let number = |name: &str, max: u32| -> Result<u32, String> {
            field(name)?
                .ok_or_else(|| format!("{name} is missing"))?
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| format!("{name} must be an integer from 1 to {max}"))
        };
        let parsed = Self {
            hash: bytes("hash", hash)?,
            salt: bytes("salt", salt)?,
            signer_key: bytes("sk", field("sk")?)?,
            salt_separator: bytes("ss", field("ss")?)?,
            rounds: number("r", MAX_ROUNDS)?,
            mem_cost: number("m", MAX_MEM_COST)?,
        };
        if parsed.hash.len() != parsed.signer_key.len() {
            return Err("hash must be as long as the signer key (sk)".into());
        }
        Ok(parsed)
    }

    /// The canonical stored form, `$firebase-scrypt$v=1$r=…,m=…,ss=…,sk=…$<salt>$<hash>`.
    pub(super) fn to_phc(&self) -> String {
        let b64 = |b: &[u8]| STANDARD_NO_PAD.encode(b);
        format!(
            "{PREFIX}v=1$r={},m={},ss={},sk={}${}${}",
            self.rounds,
            self.mem_cost,
            b64(&self.salt_separator),
            b64(&self.signer_key),
            b64(&self.salt),
            b64(&self.hash),
        )
    }

    /// Recomputes the hash for `password` and compares it in constant time.
    pub(super) fn verify(&self, password: &[u8]) -> bool {
        firebase_scrypt(
            password,
            &self.salt,
            &self.salt_separator,
            &self.signer_key,
            self.rounds,
            self.mem_cost,
        )
        .is_some_and(|computed| bool::from(computed.ct_eq(&self.hash)))
    }
}

/// Whether `key` names a field of the format (so `abc=` in a padded base64 salt is not one).
fn is_field(key: &str) -> bool {
    matches!(key, "v" | "r" | "m" | "ss" | "sk" | "salt" | "hash")
}

/// Firebase's modified scrypt: AES-256-CTR(key = scrypt(password, salt ‖ separator), IV = 0)
/// applied to the signer key. `None` if the parameters are out of range.
pub(super) fn firebase_scrypt(
    password: &[u8],
    salt: &[u8],
    salt_separator: &[u8],
    signer_key: &[u8],
    rounds: u32,
    mem_cost: u32,
) -> Option<Vec<u8>> {
    let log_n = u8::try_from(mem_cost).ok()?;
    super::encoding::scrypt_within_limits(log_n, rounds).ok()?;
    let params = scrypt::Params::new(log_n, rounds, 1).ok()?;
    let mut full_salt = Vec::with_capacity(salt.len() + salt_separator.len());
    full_salt.extend_from_slice(salt);
    full_salt.extend_from_slice(salt_separator);
    let mut key = [0u8; 32];
    scrypt::scrypt(password, &full_salt, &params, &mut key).ok()?;
    let mut out = signer_key.to_vec();
    let mut cipher = ctr::Ctr128BE::<Aes256>::new_from_slices(&key, &[0u8; 16]).ok()?;
    cipher.apply_keystream(&mut out);
    Some(out)
}
