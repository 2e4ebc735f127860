//! Vault's envelope encryption (the `/vault/v1/keys/*` and `/vault/v1/kv*` endpoints of
//! `api::vault`): key contexts, per-context key-encryption keys (KEKs) derived with HKDF from an
//! environment's root key, data keys wrapped under them, and AES-256-GCM values.
//!
//! **Key context.** Any map of strings to strings ([`KeyContext`]), e.g.
//! `{"organization_id": "org_…"}`. Its canonical form is the JSON object with keys sorted
//! ([`KeyContext::canonical`]); two contexts are the same context exactly when their canonical
//! forms are equal.
//!
//! **KEK.** `HKDF-SHA256(salt = "keystead-vault-kek-v1", ikm = root key, info = environment id ‖
//! 0x00 ‖ canonical context)`, 32 bytes ([`derive_kek`]). A context's KEK is never stored.
//!
//! **Encrypted key blob** ([`EncryptedKey`]), what the SDKs call `encrypted_keys` (base64 on the
//! wire). It is self-describing, so `POST /vault/v1/keys/decrypt` needs nothing else:
//!
//! ```text
//! "KSV1"                      4 bytes, magic and format version
//! kind                        1 byte: 1 = environment root key + HKDF
//! key ref length, key ref     1 byte + ASCII: the root key's id (`vault_root_key_…`)
//! data key id                 16 bytes (rendered as a UUID)
//! context length, context     LEB128 u32 + canonical context JSON (UTF-8)
//! wrapped length, wrapped     LEB128 u32 + nonce (12) ‖ AES-256-GCM(KEK, data key) ‖ tag (16)
//! ```
//!
//! The wrap's associated data is everything before the wrapped section followed by the
//! environment id, so changing the context, the key reference or the id inside a blob, or
//! presenting it in another environment, makes it fail to unwrap.
//!
//! **Values** ([`seal_value`]): `nonce (12) ‖ AES-256-GCM(data key, value, aad) ‖ tag (16)`.
//! The SDKs' local `encrypt` helpers use the data keys with their own layout (`iv ‖ tag ‖
//! LEB128(len) ‖ encrypted key blob ‖ ciphertext`); the server never sees that data.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::Rng;
use sha2::{Digest, Sha256};

/// Magic and format version at the start of every encrypted key blob.
const MAGIC: &[u8; 4] = b"KSV1";
/// Blob kind: wrapped by a KEK derived from an environment root key.
const KIND_ROOT_HKDF: u8 = 1;
/// HKDF salt of the KEK derivation (fixed; the root key is the secret input).
const KEK_SALT: &[u8] = b"keystead-vault-kek-v1";
/// Length of an AES-GCM nonce.
const NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag.
const TAG_LEN: usize = 16;
/// Length of a data key (AES-256).
pub const DATA_KEY_LEN: usize = 32;

/// Most entries in a key context.
pub const CONTEXT_MAX_ENTRIES: usize = 32;
/// Longest key of a key context, in bytes.
pub const CONTEXT_KEY_MAX: usize = 128;
/// Longest value of a key context, in bytes.
pub const CONTEXT_VALUE_MAX: usize = 1024;
/// Longest encrypted key blob accepted, in bytes (decoded).
pub const BLOB_MAX: usize = 64 * 1024;

/// Why a key context was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextError {
    /// Not a JSON object.
    NotAnObject,
    /// A value is not a string.
    NotAString(String),
    /// More than [`CONTEXT_MAX_ENTRIES`] entries.
    TooManyEntries,
    /// An empty key, or a key or value over its limit, or one with a NUL character.
    BadEntry(String),
}

impl std::fmt::Display for ContextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAnObject => f.write_str("must be an object mapping strings to strings"),
            Self::NotAString(k) => write!(f, "the value of '{k}' must be a string"),
            Self::TooManyEntries => write!(f, "must have at most {CONTEXT_MAX_ENTRIES} entries"),
            Self::BadEntry(k) => write!(
                f,
                "key '{k}' must be 1-{CONTEXT_KEY_MAX} bytes with a value of at most \
                 {CONTEXT_VALUE_MAX} bytes, without NUL characters"
            ),
        }
    }
}

/// A key context: a map of strings to strings, kept sorted by key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyContext(BTreeMap<String, String>);

impl KeyContext {
    /// Parses a JSON value: an object whose values are all strings, within the limits above.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, ContextError> {
        let obj = value.as_object().ok_or(ContextError::NotAnObject)?;
        if obj.len() > CONTEXT_MAX_ENTRIES {
            return Err(ContextError::TooManyEntries);
        }
        let mut map = BTreeMap::new();
        for (k, v) in obj {
            let v = v
                .as_str()
                .ok_or_else(|| ContextError::NotAString(k.clone()))?;
            if k.is_empty()
                || k.len() > CONTEXT_KEY_MAX
                || v.len() > CONTEXT_VALUE_MAX
                || k.contains('\0')
                || v.contains('\0')
            {
                return Err(ContextError::BadEntry(k.chars().take(64).collect()));
            }
            map.insert(k.clone(), v.to_string());
        }
        Ok(Self(map))
    }

    /// The canonical form: compact JSON with keys in byte order.
    pub fn canonical(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_default()
    }

    /// The context as a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect(),
        )
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// The 32-byte KEK of `context` in environment `env` under `root`.
pub fn derive_kek(root: &[u8; 32], env: &str, context: &KeyContext) -> [u8; 32] {
    let mut info = Vec::with_capacity(env.len() + 64);
    info.extend_from_slice(env.as_bytes());
    info.push(0);
    info.extend_from_slice(context.canonical().as_bytes());
    let hk = hkdf::Hkdf::<Sha256>::new(Some(KEK_SALT), root);
    let mut okm = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte output limit, so expand cannot fail.
    let _ = hk.expand(&info, &mut okm);
    okm
}

/// The public identifier of a context's KEK (`key_id` in object metadata): a UUID-shaped
/// SHA-256 digest of the root key's id, the environment and the canonical context. It reveals
/// nothing about the key.
pub fn kek_id(root_key_id: &str, env: &str, context: &KeyContext) -> String {
    let mut h = Sha256::new();
    h.update(b"keystead-vault-key-id\0");
    h.update(root_key_id.as_bytes());
    h.update([0]);
    h.update(env.as_bytes());
    h.update([0]);
    h.update(context.canonical().as_bytes());
    uuid_string(&h.finalize()[..16])
}

/// `8-4-4-4-12` lowercase hex of 16 bytes.
pub fn uuid_string(b: &[u8]) -> String {
    let h = hex::encode(b);
    if h.len() < 32 {
        return h;
    }
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A fresh random data key and its id (16 random bytes with UUID v4 bits).
pub fn new_data_key() -> ([u8; DATA_KEY_LEN], [u8; 16]) {
    let mut key = [0u8; DATA_KEY_LEN];
    let mut id = [0u8; 16];
    let mut rng = rand::rng();
    rng.fill(&mut key);
    rng.fill(&mut id);
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    (key, id)
}

/// Why an encrypted key blob was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobError {
    /// Not a blob of this format (bad magic, truncated, lengths that do not add up).
    Malformed,
    /// Well formed, but the wrap did not authenticate (tampered, another environment, another
    /// root key).
    Unauthentic,
}

/// A parsed encrypted key blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedKey {
    /// The root key the KEK derives from (`vault_root_key_…`).
    pub root_key_id: String,
    /// The data key's id.
    pub data_key_id: [u8; 16],
    /// The context the data key is wrapped for.
    pub context: KeyContext,
    /// `nonce ‖ ciphertext ‖ tag` of the data key.
    wrapped: Vec<u8>,
}

fn push_leb128(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads a LEB128 u32 (at most 5 bytes) from the front of `b`; returns it and the rest.
fn read_leb128(b: &[u8]) -> Option<(u32, &[u8])> {
    let mut v: u64 = 0;
    for (i, &byte) in b.iter().enumerate().take(5) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return u32::try_from(v).ok().map(|v| (v, &b[i + 1..]));
        }
    }
    None
}

/// Splits `n` bytes off the front of `b`.
fn take(b: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (b.len() >= n).then(|| b.split_at(n))
}

/// Header bytes (everything before the wrapped section) of a blob.
fn header(root_key_id: &str, data_key_id: &[u8; 16], context: &KeyContext) -> Vec<u8> {
    let ctx = context.canonical();
    let mut out = Vec::with_capacity(24 + root_key_id.len() + ctx.len());
    out.extend_from_slice(MAGIC);
    out.push(KIND_ROOT_HKDF);
    out.push(u8::try_from(root_key_id.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(root_key_id.as_bytes());
    out.extend_from_slice(data_key_id);
    push_leb128(&mut out, u32::try_from(ctx.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(ctx.as_bytes());
    out
}

fn aad(header: &[u8], env: &str) -> Vec<u8> {
    [header, env.as_bytes()].concat()
}

/// Wraps `data_key` (with id `data_key_id`) for `context` under root key `root` (id
/// `root_key_id`) of environment `env`; returns the blob's bytes.
pub fn wrap(
    root: &[u8; 32],
    root_key_id: &str,
    env: &str,
    context: &KeyContext,
    data_key: &[u8; DATA_KEY_LEN],
    data_key_id: &[u8; 16],
) -> Vec<u8> {
    let kek = derive_kek(root, env, context);
    let head = header(root_key_id, data_key_id, context);
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill(&mut nonce);
    let ct = Aes256Gcm::new((&kek).into())
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: data_key,
                aad: &aad(&head, env),
            },
        )
        .unwrap_or_default();
    let mut out = head;
    push_leb128(&mut out, u32::try_from(NONCE_LEN + ct.len()).unwrap_or(0));
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

impl EncryptedKey {
    /// Parses a blob's bytes (not yet authenticated).
    pub fn parse(b: &[u8]) -> Result<Self, BlobError> {
        let m = BlobError::Malformed;
        if b.len() > BLOB_MAX {
            return Err(m);
        }
        let (magic, rest) = take(b, 4).ok_or(m.clone())?;
        if magic != MAGIC {
            return Err(m);
        }
        let (kind, rest) = take(rest, 1).ok_or(m.clone())?;
        if kind[0] != KIND_ROOT_HKDF {
            return Err(m);
        }
        let (len, rest) = take(rest, 1).ok_or(m.clone())?;
        let (key_ref, rest) = take(rest, usize::from(len[0])).ok_or(m.clone())?;
        let root_key_id = std::str::from_utf8(key_ref)
            .map_err(|_| m.clone())?
            .to_string();
        let (id, rest) = take(rest, 16).ok_or(m.clone())?;
        let (ctx_len, rest) = read_leb128(rest).ok_or(m.clone())?;
        let (ctx, rest) = take(rest, ctx_len as usize).ok_or(m.clone())?;
        let ctx: serde_json::Value = serde_json::from_slice(ctx).map_err(|_| m.clone())?;
        let context = KeyContext::from_json(&ctx).map_err(|_| m.clone())?;
        let (w_len, rest) = read_leb128(rest).ok_or(m.clone())?;
        let (wrapped, rest) = take(rest, w_len as usize).ok_or(m.clone())?;
        if !rest.is_empty() || wrapped.len() != NONCE_LEN + DATA_KEY_LEN + TAG_LEN {
            return Err(m);
        }
        let mut data_key_id = [0u8; 16];
        data_key_id.copy_from_slice(id);
        Ok(Self {
            root_key_id,
            data_key_id,
            context,
            wrapped: wrapped.to_vec(),
        })
    }

    /// The data key's id as a UUID string.
    pub fn id(&self) -> String {
        uuid_string(&self.data_key_id)
    }

    /// Unwraps the data key with root key `root` in environment `env`.
    pub fn unwrap_key(&self, root: &[u8; 32], env: &str) -> Result<[u8; DATA_KEY_LEN], BlobError> {
        let kek = derive_kek(root, env, &self.context);
        let head = header(&self.root_key_id, &self.data_key_id, &self.context);
        let (nonce, ct) = self.wrapped.split_at(NONCE_LEN);
        let key = Aes256Gcm::new((&kek).into())
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: &aad(&head, env),
                },
            )
            .map_err(|_| BlobError::Unauthentic)?;
        key.try_into().map_err(|_| BlobError::Unauthentic)
    }
}

/// Encrypts `value` under `data_key`, bound to `aad`: `nonce ‖ ciphertext ‖ tag`.
pub fn seal_value(data_key: &[u8; DATA_KEY_LEN], value: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill(&mut nonce);
    let ct = Aes256Gcm::new(data_key.into())
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: value, aad })
        .unwrap_or_default();
    [nonce.as_slice(), &ct].concat()
}

/// Decrypts what [`seal_value`] produced; `None` on a wrong key, `aad` or tampering.
pub fn open_value(data_key: &[u8; DATA_KEY_LEN], sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    Aes256Gcm::new(data_key.into())
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(v: serde_json::Value) -> KeyContext {
        KeyContext::from_json(&v).unwrap()
    }

    #[test]
    fn contexts_are_string_maps_with_a_canonical_order() {
        let a = ctx(json!({"b": "2", "a": "1"}));
        assert_eq!(a.canonical(), r#"{"a":"1","b":"2"}"#);
        assert_eq!(a, ctx(json!({"a": "1", "b": "2"})));
        assert_eq!(
            KeyContext::from_json(&json!([])),
            Err(ContextError::NotAnObject)
        );
        assert!(matches!(
            KeyContext::from_json(&json!({"a": 1})),
            Err(ContextError::NotAString(_))
        ));
        assert!(matches!(
            KeyContext::from_json(&json!({"": "x"})),
            Err(ContextError::BadEntry(_))
        ));
        assert!(KeyContext::from_json(&json!({})).is_ok());
    }

    #[test]
    fn a_wrapped_key_unwraps_only_with_its_context_root_and_environment() {
        let root = [7u8; 32];
        let c = ctx(json!({"organization_id": "org_1"}));
        let (key, id) = new_data_key();
        let blob = wrap(&root, "vault_root_key_1", "environment_1", &c, &key, &id);
        let parsed = EncryptedKey::parse(&blob).unwrap();
        assert_eq!(parsed.context, c);
        assert_eq!(parsed.root_key_id, "vault_root_key_1");
        assert_eq!(parsed.unwrap_key(&root, "environment_1").unwrap(), key);
        // Another environment, another root key.
        assert_eq!(
            parsed.unwrap_key(&root, "environment_2"),
            Err(BlobError::Unauthentic)
        );
        assert_eq!(
            parsed.unwrap_key(&[8u8; 32], "environment_1"),
            Err(BlobError::Unauthentic)
        );
        // The same wrapped bytes relabelled with another context.
        let mut forged = parsed.clone();
        forged.context = ctx(json!({"organization_id": "org_2"}));
        assert_eq!(
            forged.unwrap_key(&root, "environment_1"),
            Err(BlobError::Unauthentic)
        );
        // Different contexts have different KEKs and key ids.
        let other = ctx(json!({"organization_id": "org_2"}));
        assert_ne!(
            derive_kek(&root, "environment_1", &c),
            derive_kek(&root, "environment_1", &other)
        );
        assert_ne!(
            kek_id("r", "environment_1", &c),
            kek_id("r", "environment_1", &other)
        );
    }

    #[test]
    fn malformed_blobs_are_refused() {
        let root = [1u8; 32];
        let (key, id) = new_data_key();
        let blob = wrap(&root, "r", "e", &KeyContext::default(), &key, &id);
        for bad in [
            &b""[..],
            b"KSV1",
            b"XXXX\x01\x00",
            &blob[..blob.len() - 1],
            &[blob.as_slice(), b"x"].concat(),
        ] {
            assert_eq!(EncryptedKey::parse(bad), Err(BlobError::Malformed));
        }
        let mut flipped = blob.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            EncryptedKey::parse(&flipped)
                .unwrap()
                .unwrap_key(&root, "e"),
            Err(BlobError::Unauthentic)
        );
    }

    #[test]
    fn values_round_trip_and_are_bound_to_their_aad() {
        let (key, _) = new_data_key();
        let sealed = seal_value(&key, b"s3cr3t", b"secret_version_1");
        assert_eq!(
            open_value(&key, &sealed, b"secret_version_1").unwrap(),
            b"s3cr3t"
        );
        assert!(open_value(&key, &sealed, b"secret_version_2").is_none());
        assert!(open_value(&[0u8; 32], &sealed, b"secret_version_1").is_none());
    }

    #[test]
    fn leb128_round_trips() {
        for v in [0u32, 1, 127, 128, 300, 65_535, u32::MAX] {
            let mut out = Vec::new();
            push_leb128(&mut out, v);
            assert_eq!(read_leb128(&out), Some((v, &[][..])));
        }
        assert_eq!(read_leb128(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), None);
    }
}
