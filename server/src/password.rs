//! Access-key hashing with Argon2id (m = 19456 KiB, t = 2, p = 1: the
//! `argon2` crate's defaults, OWASP's recommendation). CPU-heavy: callers
//! run it on `spawn_blocking`.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use shared::domain::AccessKey;

/// Hashes a key into a PHC string with a fresh random salt.
pub fn hash(key: &AccessKey) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())?;
    Ok(Argon2::default()
        .hash_password(key.expose().as_bytes(), &salt)?
        .to_string())
}

/// Whether `key` matches the PHC string `phc`. A malformed hash never matches.
pub fn verify(key: &AccessKey, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(key.expose().as_bytes(), &parsed)
            .is_ok()
    })
}

/// Whether `phc` is a PHC string this server can verify against.
pub fn is_valid_phc(phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|p| p.algorithm.as_str().starts_with("argon2"))
}

/// A hash of no line's key, verified against when the customer ID is
/// unknown, so that an unknown ID costs as much time as a wrong key.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    AccessKey::parse("kaisen-dummy-key")
        .ok()
        .and_then(|k| hash(&k).ok())
        .unwrap_or_default()
});

/// Spends the same work as [`verify`] and answers false.
pub fn verify_dummy(key: &AccessKey) -> bool {
    let _ = verify(key, &DUMMY_HASH);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_key_verifies_and_wrong_key_does_not() {
        let key = AccessKey::parse("abcd1234").unwrap();
        let phc = hash(&key).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(&key, &phc));
        assert!(!verify(&AccessKey::parse("abcd1235").unwrap(), &phc));
        assert!(!verify(&key, "not a hash"));
        assert!(!verify_dummy(&key));
    }
}
