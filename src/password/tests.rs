//! Unit tests for hashing, verification, import and the Firebase port.

use argon2::PasswordHasher;
use argon2::password_hash::phc::PasswordHash;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

use super::firebase::{FirebaseHash, firebase_scrypt};
use super::*;

const PW: &str = "correct horse battery staple";
const WRONG: &str = "correct horse battery stapler";

/// firebase/scrypt README, "Password Hashing" example (also used by its Python/Java/Rust ports).
mod vector {
    pub const PASSWORD: &str = "user1password";
    pub const SALT: &str = "42xEC+ixf3L2lw==";
    pub const SALT_SEPARATOR: &str = "Bw==";
    pub const SIGNER_KEY: &str =
        "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==";
    pub const ROUNDS: u32 = 8;
    pub const MEM_COST: u32 = 14;
    pub const HASH: &str =
        "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==";
}

fn unpad(s: &str) -> &str {
    s.trim_end_matches('=')
}

/// The vector in the canonical (`@phc/format`) form.
fn firebase_phc() -> String {
    use vector::*;
    format!(
        "$firebase-scrypt$v=1$r={ROUNDS},m={MEM_COST},ss={},sk={}${}${}",
        unpad(SALT_SEPARATOR),
        unpad(SIGNER_KEY),
        unpad(SALT),
        unpad(HASH)
    )
}

/// The error of an import that must fail.
fn rejected(password_hash: &str, kind: HashType) -> InvalidHash {
    match import(password_hash, kind) {
        Ok(stored) => panic!("{password_hash} was accepted as {stored}"),
        Err(e) => e,
    }
}

fn assert_verifies(stored: &str) {
    assert!(verify(PW, stored), "right password rejected for {stored}");
    assert!(
        !verify(WRONG, stored),
        "wrong password accepted for {stored}"
    );
}

fn ssha(password: &str, salt: &[u8]) -> String {
    let mut raw = Sha1::new()
        .chain_update(password)
        .chain_update(salt)
        .finalize()
        .to_vec();
    raw.extend_from_slice(salt);
    format!("{{SSHA}}{}", STANDARD.encode(raw))
}

#[test]
fn a_new_hash_is_current_argon2id_and_verifies() -> anyhow::Result<()> {
    let h = hash(PW)?;
    assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
    assert_verifies(&h);
    assert!(!needs_rehash(&h));
    assert_ne!(h, hash(PW)?, "salts must differ");
    Ok(())
}

#[test]
fn the_dummy_hash_is_current_argon2id_and_matches_nothing_plausible() -> anyhow::Result<()> {
    assert!(!needs_rehash(DUMMY_HASH));
    assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    assert!(!verify("", DUMMY_HASH));
    assert!(!verify(PW, DUMMY_HASH));
    Ok(())
}

#[test]
fn garbage_and_unknown_formats_never_verify() -> anyhow::Result<()> {
    for stored in [
        "",
        "password",
        "$",
        "$2b$",
        "$2b$99$abc",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$",
        "$scrypt$ln=99,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "$pbkdf2-sha1$i=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "{SSHA}",
        "{SSHA}!!!",
        "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
        "$firebase-scrypt$",
        "$firebase-scrypt$r=8,m=99,ss=Bw,sk=AAAA$AAAA$AAAA",
        "$md5$abc",
        "é$2b$",
    ] {
        assert!(!verify(PW, stored), "{stored:?} verified");
        assert!(needs_rehash(stored));
    }
    Ok(())
}

#[test]
fn bcrypt_hashes_import_and_verify() -> anyhow::Result<()> {
    let h = bcrypt::hash(PW, 4)?;
    assert!(h.starts_with("$2b$04$"));
    assert_eq!(import(&h, HashType::Bcrypt)?, h);
    assert_verifies(&h);
    for prefix in ["$2a$", "$2y$"] {
        let other = format!("{prefix}{}", &h[4..]);
        assert_eq!(import(&other, HashType::Bcrypt)?, other);
        assert_verifies(&other);
    }
    assert!(needs_rehash(&h));
    Ok(())
}

#[test]
fn bcrypt_over_the_cost_limit_is_rejected() -> anyhow::Result<()> {
    let h = bcrypt::hash(PW, 4)?.replacen("$04$", "$17$", 1);
    let err = rejected(&h, HashType::Bcrypt);
    assert!(err.message.contains("cost 17"), "{}", err.message);
    Ok(())
}

#[test]
fn scrypt_phc_hashes_import_and_verify() -> anyhow::Result<()> {
    let params = scrypt::Params::new(10, 8, 1)?;
    let h: PasswordHash = scrypt::Scrypt::new_with_params(params)
        .hash_password_with_salt(PW.as_bytes(), b"0123456789abcdef")?;
    let h = h.to_string();
    assert!(h.starts_with("$scrypt$ln=10,r=8,p=1$"), "{h}");
    assert_eq!(import(&h, HashType::Scrypt)?, h);
    assert_verifies(&h);
    assert!(needs_rehash(&h));
    Ok(())
}

#[test]
fn scrypt_over_the_memory_limit_is_rejected() -> anyhow::Result<()> {
    let h =
        "$scrypt$ln=20,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E";
    let err = rejected(h, HashType::Scrypt);
    assert!(err.message.contains("MiB"), "{}", err.message);
    assert!(!verify(PW, h));
    Ok(())
}

#[test]
fn pbkdf2_phc_hashes_import_and_verify() -> anyhow::Result<()> {
    for algorithm in [
        pbkdf2::Algorithm::Pbkdf2Sha256,
        pbkdf2::Algorithm::Pbkdf2Sha512,
    ] {
        let params = pbkdf2::Params::new(1000)?;
        let h: PasswordHash = pbkdf2::Pbkdf2::new(algorithm, params)
            .hash_password_with_salt(PW.as_bytes(), b"0123456789abcdef")?;
        let h = h.to_string();
        assert!(h.starts_with(&format!("${algorithm}$i=1000")), "{h}");
        assert_eq!(import(&h, HashType::Pbkdf2)?, h);
        assert_verifies(&h);
        assert!(needs_rehash(&h));
    }
    Ok(())
}

#[test]
fn argon2_phc_hashes_of_every_variant_import_and_verify() -> anyhow::Result<()> {
    for algorithm in [
        argon2::Algorithm::Argon2id,
        argon2::Algorithm::Argon2i,
        argon2::Algorithm::Argon2d,
    ] {
        let params = argon2::Params::new(8192, 1, 1, None)?;
        let h = argon2::Argon2::new(algorithm, argon2::Version::V0x13, params)
            .hash_password_with_salt(PW.as_bytes(), b"0123456789abcdef")?
            .to_string();
        assert_eq!(import(&h, HashType::Argon2)?, h);
        assert_verifies(&h);
        assert!(needs_rehash(&h), "weaker params must be upgraded: {h}");
    }
    let current = hash(PW)?;
    assert_eq!(import(&current, HashType::Argon2)?, current);
    Ok(())
}

#[test]
fn argon2_without_a_version_or_over_the_limits_is_rejected() -> anyhow::Result<()> {
    let h = hash(PW)?;
    let no_version = h.replacen("v=19$", "", 1);
    assert!(import(&no_version, HashType::Argon2).is_err());
    let huge = h.replacen("m=19456", "m=1048576", 1);
    assert!(import(&huge, HashType::Argon2).is_err());
    assert!(!verify(PW, &huge));
    Ok(())
}

#[test]
fn ssha_hashes_import_normalised_and_verify() -> anyhow::Result<()> {
    let h = ssha(PW, b"8bytes!!");
    assert_eq!(import(&h, HashType::Ssha)?, h);
    assert_verifies(&h);
    let lower_unpadded = format!("{{ssha}}{}", unpad(&h[6..]));
    assert_eq!(import(&lower_unpadded, HashType::Ssha)?, h);
    assert_verifies(&lower_unpadded);
    assert!(needs_rehash(&h));
    let digest_only = format!("{{SSHA}}{}", STANDARD.encode([0u8; 20]));
    assert!(import(&digest_only, HashType::Ssha).is_err());
    Ok(())
}

#[test]
fn the_published_firebase_vector_computes_the_published_hash() -> anyhow::Result<()> {
    use vector::*;
    let computed = firebase_scrypt(
        PASSWORD.as_bytes(),
        &STANDARD.decode(SALT)?,
        &STANDARD.decode(SALT_SEPARATOR)?,
        &STANDARD.decode(SIGNER_KEY)?,
        ROUNDS,
        MEM_COST,
    )
    .ok_or_else(|| anyhow::anyhow!("parameters rejected"))?;
    assert_eq!(STANDARD.encode(computed), HASH);
    Ok(())
}

#[test]
fn firebase_hashes_import_in_either_form_and_verify() -> anyhow::Result<()> {
    use vector::*;
    let canonical = firebase_phc();
    assert_eq!(import(&canonical, HashType::FirebaseScrypt)?, canonical);
    assert!(verify(PASSWORD, &canonical));
    assert!(!verify("user1passwore", &canonical));
    assert!(needs_rehash(&canonical));

    let without_version = canonical.replacen("v=1$", "", 1);
    assert_eq!(
        import(&without_version, HashType::FirebaseScrypt)?,
        canonical
    );
    let named = format!(
        "$firebase-scrypt$hash={HASH}$salt={SALT}$sk={SIGNER_KEY}$ss={SALT_SEPARATOR}\
         $r={ROUNDS}$m={MEM_COST}"
    );
    assert_eq!(import(&named, HashType::FirebaseScrypt)?, canonical);
    assert!(verify(PASSWORD, &named));
    let url_safe = named.replace('+', "-").replace('/', "_");
    assert_eq!(import(&url_safe, HashType::FirebaseScrypt)?, canonical);
    Ok(())
}

#[test]
fn malformed_firebase_hashes_are_rejected() -> anyhow::Result<()> {
    let good = firebase_phc();
    for bad in [
        good.replacen("m=14", "m=15", 1),
        good.replacen("r=8", "r=0", 1),
        good.replacen("v=1", "v=2", 1),
        good.replacen(",ss=Bw", "", 1),
        good.replacen("r=8", "r=8,r=8", 1),
        format!("{good}$extra"),
        good[..good.rfind('$').unwrap_or_default()].to_owned(),
        good.replacen("lSrfV", "", 1),
    ] {
        assert!(FirebaseHash::parse(&bad).is_err(), "{bad}");
        assert!(import(&bad, HashType::FirebaseScrypt).is_err(), "{bad}");
        assert!(!verify(vector::PASSWORD, &bad), "{bad}");
    }
    Ok(())
}

#[test]
fn import_rejects_a_hash_of_another_type_and_garbage() -> anyhow::Result<()> {
    let bcrypt = bcrypt::hash(PW, 4)?;
    let err = rejected(&bcrypt, HashType::Scrypt);
    assert_eq!(
        err.message,
        "The password_hash is not a valid scrypt hash: it looks like a bcrypt hash."
    );
    assert!(import(&hash(PW)?, HashType::Bcrypt).is_err());
    assert!(import(&firebase_phc(), HashType::Scrypt).is_err());
    assert!(import(&ssha(PW, b"salt"), HashType::Pbkdf2).is_err());
    for kind in [
        HashType::Bcrypt,
        HashType::FirebaseScrypt,
        HashType::Ssha,
        HashType::Scrypt,
        HashType::Pbkdf2,
        HashType::Argon2,
    ] {
        let err = rejected("not a hash", kind);
        assert!(err.message.contains(kind.as_str()), "{}", err.message);
        assert!(err.message.contains("expected"), "{}", err.message);
    }
    Ok(())
}

#[test]
fn invalid_hash_maps_to_a_400_invalid_password_hash() -> anyhow::Result<()> {
    let err = rejected("x", HashType::Bcrypt);
    match crate::error::ApiError::from(err) {
        crate::error::ApiError::BadRequest { code, .. } => {
            assert_eq!(code, Some("invalid_password_hash"));
        }
        other => panic!("unexpected {other:?}"),
    }
    Ok(())
}

#[test]
fn hash_type_deserialises_from_the_workos_wire_names() -> anyhow::Result<()> {
    for (wire, kind) in [
        ("bcrypt", HashType::Bcrypt),
        ("firebase-scrypt", HashType::FirebaseScrypt),
        ("ssha", HashType::Ssha),
        ("scrypt", HashType::Scrypt),
        ("pbkdf2", HashType::Pbkdf2),
        ("argon2", HashType::Argon2),
    ] {
        let parsed: HashType = serde_json::from_value(serde_json::json!(wire))?;
        assert_eq!(parsed, kind);
        assert_eq!(kind.as_str(), wire);
    }
    assert!(serde_json::from_value::<HashType>(serde_json::json!("md5")).is_err());
    Ok(())
}

#[test]
fn strength_requires_8_characters_and_at_most_256_bytes() -> anyhow::Result<()> {
    assert!(check_strength("1234567").is_err());
    assert!(check_strength("12345678").is_ok());
    assert!(
        check_strength("éééééééé").is_ok(),
        "counts characters, not bytes"
    );
    assert!(check_strength(&"a".repeat(256)).is_ok());
    assert!(check_strength(&"a".repeat(257)).is_err());
    Ok(())
}

#[tokio::test]
async fn the_hasher_hashes_and_verifies_on_the_blocking_pool() -> anyhow::Result<()> {
    let hasher = Hasher::new(2);
    let h = hasher.hash(PW.to_owned()).await?;
    assert!(hasher.verify(PW.into(), Some(h.clone())).await?);
    assert!(!hasher.verify(WRONG.into(), Some(h)).await?);
    assert!(!hasher.verify(PW.into(), None).await?);
    assert!(!hasher.verify(PW.into(), Some("junk".into())).await?);
    Ok(())
}

#[tokio::test]
async fn a_hashing_thread_reuses_its_buffer_across_parameters_and_variants() -> anyhow::Result<()> {
    // One thread, so every verification below runs in the same kept buffer, which must grow,
    // shrink and be reused without one hash's state leaking into the next result.
    let hasher = Hasher::new(1);
    let current = hasher.hash(PW.to_owned()).await?;
    let mut stored = vec![current];
    for (algorithm, version, m_cost) in [
        (argon2::Algorithm::Argon2id, argon2::Version::V0x13, 8192),
        (argon2::Algorithm::Argon2i, argon2::Version::V0x10, 4096),
        (argon2::Algorithm::Argon2d, argon2::Version::V0x13, 32768),
    ] {
        let params = argon2::Params::new(m_cost, 1, 1, Some(24))?;
        stored.push(
            argon2::Argon2::new(algorithm, version, params)
                .hash_password_with_salt(PW.as_bytes(), b"0123456789abcdef")?
                .to_string(),
        );
    }
    for round in 0..2 {
        for h in &stored {
            assert!(
                hasher.verify(PW.into(), Some(h.clone())).await?,
                "{round}: {h}"
            );
            assert!(
                !hasher.verify(WRONG.into(), Some(h.clone())).await?,
                "{round}: {h}"
            );
            // The same answers as a thread without a kept buffer.
            assert!(verify(PW, h) && !verify(WRONG, h));
        }
    }
    Ok(())
}
