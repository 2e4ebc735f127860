//! Argon2id verification with a working buffer kept per hashing thread (the [`super::Hasher`]
//! threads), shared by native and imported argon2 hashes.

use std::cell::RefCell;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Version};

thread_local! {
    /// The argon2 working memory of a [`Hasher`] thread: `None` on every other thread (they
    /// allocate per call), `Some` (possibly empty) on hashing threads.
    pub(super) static SCRATCH: RefCell<Option<Vec<Block>>> = const { RefCell::new(None) };
}

/// Argon2 verification, shared by [`verify`] and [`import::StoredHash`]: recomputes the hash
/// with the stored algorithm, version, parameters and salt, and compares in constant time.
/// On a [`Hasher`] thread the computation runs in that thread's reused buffer.
pub(super) fn verify_argon2(password: &[u8], hash: &PasswordHash) -> bool {
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = [0u8; 64];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    let computed = SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) if slot.is_some() => {
            let buf = slot.get_or_insert_with(Vec::new);
            let blocks = argon2.params().block_count();
            buf.resize(blocks, Block::new());
            let r = argon2.hash_password_into_with_memory(password, salt, out, &mut buf[..]);
            // Leave nothing derived from the password in the kept buffer.
            buf.fill(Block::new());
            r
        }
        _ => argon2.hash_password_into(password, salt, out),
    });
    computed.is_ok() && crate::crypto::ct_eq(out, expected.as_bytes())
}
