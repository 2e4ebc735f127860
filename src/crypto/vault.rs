//! At-rest encryption of server secrets (JWT signing keys) with AES-256-GCM.
//!
//! The 32-byte key comes from `KEYSTEAD_ENCRYPTION_KEY` (base64) or from
//! `<data-dir>/encryption.key`, created with mode 0600 on first start. Ciphertext layout:
//! `nonce (12 bytes) || ciphertext+tag`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;

/// Encrypts and decrypts secrets with the server's master key.
#[derive(Clone)]
pub struct Vault {
    cipher: Aes256Gcm,
    master: [u8; 32],
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(..)")
    }
}

impl Vault {
    /// A vault from a raw 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(key.into()),
            master: *key,
        }
    }

    /// The configured key (base64 of 32 bytes), else `<data_dir>/encryption.key`, created once.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        let encoded = match configured {
            Some(k) => k.trim().to_string(),
            None => {
                let path = data_dir.join("encryption.key");
                if !path.exists() {
                    fs::create_dir_all(data_dir)?;
                    let mut key = [0u8; 32];
                    rand::rng().fill(&mut key);
                    let mut f = fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    writeln!(f, "{}", STANDARD.encode(key))?;
                }
                fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .trim()
                    .to_string()
            }
        };
        let bytes = STANDARD
            .decode(encoded)
            .context("KEYSTEAD_ENCRYPTION_KEY is not base64")?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow!("KEYSTEAD_ENCRYPTION_KEY must be 32 bytes"))?;
        Ok(Self::new(&key))
    }

    /// Encrypts `plaintext` under a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; 12];
        rand::rng().fill(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .map_err(|_| anyhow!("encryption failed"))?;
        Ok([nonce.as_slice(), &ct].concat())
    }

    /// A 64-byte key for another purpose (e.g. cookie encryption), derived from the master key
    /// as HMAC-SHA512(master, `purpose`): replicas sharing the master key derive the same one,
    /// and keys for different purposes are independent.
    pub fn derive_key(&self, purpose: &str) -> [u8; 64] {
        use hmac::{KeyInit as _, Mac};
        let mut out = [0u8; 64];
        if let Ok(mut mac) = hmac::Hmac::<sha2::Sha512>::new_from_slice(&self.master) {
            mac.update(purpose.as_bytes());
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        out
    }

    /// Decrypts what [`Self::seal`] produced; fails on a wrong key or tampering.
    pub fn open(&self, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        if sealed.len() < 12 + 16 {
            bail!("ciphertext too short");
        }
        let (nonce, ct) = sealed.split_at(12);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| {
                anyhow!("decryption failed: wrong KEYSTEAD_ENCRYPTION_KEY or corrupted data")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_detects_a_wrong_key() {
        let v = Vault::new(&[7; 32]);
        let sealed = v.seal(b"secret").unwrap();
        assert_eq!(v.open(&sealed).unwrap(), b"secret");
        assert!(Vault::new(&[8; 32]).open(&sealed).is_err());
    }

    #[test]
    fn derived_keys_depend_on_the_master_key_and_the_purpose() {
        let v = Vault::new(&[7; 32]);
        assert_eq!(v.derive_key("a"), Vault::new(&[7; 32]).derive_key("a"));
        assert_ne!(v.derive_key("a"), v.derive_key("b"));
        assert_ne!(v.derive_key("a"), Vault::new(&[8; 32]).derive_key("a"));
        assert_ne!(v.derive_key("a"), [0u8; 64]);
    }
}
