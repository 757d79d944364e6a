//! Access-key hashing with Argon2id (m = 19456 KiB, t = 2, p = 1: the
//! `argon2` crate's defaults, OWASP's recommendation). CPU-heavy: callers
//! run it on `spawn_blocking`.
//!
//! Memory-heavy too: each hash fills 19 MiB of Argon2 blocks. A [`Hasher`]
//! owns one such buffer and computes every hash and every check in it, so
//! that the server allocates one buffer per hashing slot, once, and never
//! hands it back. (Allocated per hash, glibc kept the freed blocks in its
//! per-thread arenas: gigabytes resident after a few hundred logins.)

use argon2::password_hash::errors::InvalidValue;
use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use shared::domain::AccessKey;

pub use argon2::password_hash::Error;

/// The largest memory cost (KiB) of a hash this server checks: 256 MiB,
/// thirteen times the default. A buffer grows to the largest hash it has
/// checked and stays so, so this bounds a hashing slot's memory.
pub const MAX_M_COST: u32 = 256 * 1024;

/// A hash with the default parameters, a random salt and a random output,
/// which no key matches: checked when the customer ID is unknown, so that an
/// unknown ID costs the same work as a wrong key.
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$hyW5J3yQ9m0yYEizz3bNhA$Ae7KQ7URPNavXV3TcV0RvkrqYsRJ1c/bY/+bHK8rDcQ";

/// One Argon2 memory buffer, reused for every hash and check made with it.
/// `Default` is an empty one, which grows at its first use.
#[derive(Default)]
pub struct Hasher {
    memory: Vec<Block>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("blocks", &self.memory.len())
            .finish()
    }
}

impl Hasher {
    /// A hasher with the buffer of the default parameters (19 MiB), written
    /// once now, so that it is resident from the start.
    pub fn new() -> Self {
        Self {
            memory: vec![Block::default(); Params::DEFAULT.block_count()],
        }
    }

    /// Hashes `key` into a PHC string, with the default parameters and a
    /// fresh random salt.
    pub fn hash(&mut self, key: &AccessKey) -> Result<String, Error> {
        self.hash_secret(key.expose().as_bytes())
    }

    /// Hashes any secret (an operator's password) as [`Hasher::hash`] does.
    pub fn hash_secret(&mut self, secret: &[u8]) -> Result<String, Error> {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())?;
        let mut raw = [0u8; Salt::MAX_LENGTH];
        let salt_bytes = salt.decode_b64(&mut raw)?;
        let params = Params::DEFAULT;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into_with_memory(secret, salt_bytes, &mut out, self.blocks(&params))?;
        Ok(PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out)?),
        }
        .to_string())
    }

    /// Whether `key` matches the PHC string `phc`, the outputs compared in
    /// constant time. An error when `phc` is not a hash this server checks
    /// (see [`is_valid_phc`]).
    pub fn verify(&mut self, key: &AccessKey, phc: &str) -> Result<bool, Error> {
        self.verify_secret(key.expose().as_bytes(), phc)
    }

    /// Checks any secret against a PHC string, as [`Hasher::verify`] does.
    pub fn verify_secret(&mut self, secret: &[u8], phc: &str) -> Result<bool, Error> {
        let target = Target::parse(phc)?;
        let mut out = [0u8; Output::MAX_LENGTH];
        let out = &mut out[..target.expected.len()];
        Argon2::new(target.algorithm, target.version, target.params.clone())
            .hash_password_into_with_memory(
                secret,
                &target.salt[..target.salt_len],
                out,
                self.blocks(&target.params),
            )?;
        // `Output`'s equality is constant-time.
        Ok(Output::new(out)? == target.expected)
    }

    /// Spends the work of [`Self::verify`] against a default-cost hash, for
    /// an unknown customer ID. It cannot fail unless the built-in dummy hash
    /// is broken, which [`check_dummy`] finds at start-up.
    pub fn verify_dummy(&mut self, key: &AccessKey) -> Result<(), Error> {
        self.verify(key, DUMMY_PHC).map(|_| ())
    }

    /// Spends the time of a verification on any secret (an unknown
    /// operator), so that timing does not tell which names exist.
    pub fn verify_dummy_secret(&mut self, secret: &[u8]) -> Result<(), Error> {
        self.verify_secret(secret, DUMMY_PHC).map(|_| ())
    }

    /// The blocks `params` need, the buffer grown first if it is smaller.
    fn blocks(&mut self, params: &Params) -> &mut [Block] {
        let needed = params.block_count();
        if self.memory.len() < needed {
            self.memory.resize(needed, Block::default());
        }
        &mut self.memory[..needed]
    }
}

/// A PHC string taken apart: what to compute, and what to compare with.
struct Target {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: [u8; Salt::MAX_LENGTH],
    salt_len: usize,
    expected: Output,
}

impl Target {
    fn parse(phc: &str) -> Result<Self, Error> {
        let hash = PasswordHash::new(phc)?;
        let algorithm = Algorithm::try_from(hash.algorithm)?;
        let version = hash
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let params = Params::try_from(&hash)?;
        if params.m_cost() > MAX_M_COST {
            return Err(Error::ParamValueInvalid(InvalidValue::TooLong));
        }
        let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
            return Err(Error::PhcStringField);
        };
        let mut raw = [0u8; Salt::MAX_LENGTH];
        let salt_len = salt.decode_b64(&mut raw)?.len();
        Ok(Self {
            algorithm,
            version,
            params,
            salt: raw,
            salt_len,
            expected,
        })
    }
}

/// Hashes `key` with a buffer of its own, for a one-off hash (tools,
/// tests). The server hashes in its slots' buffers instead.
pub fn hash(key: &AccessKey) -> Result<String, Error> {
    Hasher::new().hash(key)
}

/// Whether `key` matches `phc`, with a buffer of its own (see [`hash`]);
/// a hash that cannot be checked never matches.
pub fn verify(key: &AccessKey, phc: &str) -> bool {
    Hasher::default().verify(key, phc).unwrap_or(false)
}

/// Whether `phc` is an Argon2 PHC string this server can check: its
/// algorithm, version and parameters known, at most [`MAX_M_COST`], with a
/// salt and an output.
pub fn is_valid_phc(phc: &str) -> bool {
    Target::parse(phc).is_ok()
}

/// Checks that the dummy hash of unknown IDs can be checked at all, so that
/// a broken one stops the server at start-up instead of answering unknown
/// IDs faster than known ones.
pub fn check_dummy() -> Result<(), Error> {
    let target = Target::parse(DUMMY_PHC)?;
    let default = Params::DEFAULT;
    if target.algorithm == Algorithm::Argon2id
        && target.version == Version::V0x13
        && (
            target.params.m_cost(),
            target.params.t_cost(),
            target.params.p_cost(),
        ) == (default.m_cost(), default.t_cost(), default.p_cost())
    {
        Ok(())
    } else {
        Err(Error::ParamValueInvalid(InvalidValue::Malformed))
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::PasswordVerifier;

    use super::*;

    fn key(text: &str) -> AccessKey {
        AccessKey::parse(text).unwrap()
    }

    #[test]
    fn right_key_verifies_and_wrong_key_does_not() {
        let mut hasher = Hasher::new();
        let phc = hasher.hash(&key("abcd1234")).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(hasher.verify(&key("abcd1234"), &phc), Ok(true));
        assert_eq!(hasher.verify(&key("abcd1235"), &phc), Ok(false));
        assert!(hasher.verify(&key("abcd1234"), "not a hash").is_err());
        assert!(!verify(&key("abcd1234"), "not a hash"));
    }

    #[test]
    fn hashes_agree_with_the_argon2_crate_both_ways() {
        let mut hasher = Hasher::new();
        let ours = hasher.hash(&key("Alpha-Key-0001")).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"Alpha-Key-0001", &parsed)
                .is_ok()
        );
        // The crate's own hash, with other parameters and argon2i: the
        // buffer grows to fit and the version and algorithm are honoured.
        let params = Params::new(32 * 1024, 1, 2, None).unwrap();
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        for (algorithm, version) in [
            (Algorithm::Argon2i, Version::V0x13),
            (Algorithm::Argon2id, Version::V0x10),
        ] {
            let theirs = argon2::password_hash::PasswordHasher::hash_password(
                &Argon2::new(algorithm, version, params.clone()),
                b"Bravo-Key-0002",
                &salt,
            )
            .unwrap()
            .to_string();
            assert_eq!(hasher.verify(&key("Bravo-Key-0002"), &theirs), Ok(true));
            assert_eq!(hasher.verify(&key("Bravo-Key-0003"), &theirs), Ok(false));
        }
        assert_eq!(hasher.memory.len(), 32 * 1024);
    }

    #[test]
    fn the_dummy_hash_is_checked_at_the_default_cost_and_matches_no_key() {
        assert_eq!(check_dummy(), Ok(()));
        let mut hasher = Hasher::new();
        assert_eq!(hasher.verify_dummy(&key("kaisen-dummy-key")), Ok(()));
        assert_eq!(
            hasher.verify(&key("kaisen-dummy-key"), DUMMY_PHC),
            Ok(false)
        );
        // The same buffer, no larger: the same work as a default-cost line.
        assert_eq!(hasher.memory.len(), Params::DEFAULT.block_count());
    }

    #[test]
    fn hashes_beyond_the_memory_bound_or_without_an_output_are_not_checked() {
        let huge = "$argon2id$v=19$m=4194304,t=2,p=1$hyW5J3yQ9m0yYEizz3bNhA$Ae7KQ7URPNavXV3TcV0RvkrqYsRJ1c/bY/+bHK8rDcQ";
        assert!(!is_valid_phc(huge));
        assert!(Hasher::default().verify(&key("abcd1234"), huge).is_err());
        assert!(!is_valid_phc(
            "$argon2id$v=19$m=19456,t=2,p=1$hyW5J3yQ9m0yYEizz3bNhA"
        ));
        assert!(!is_valid_phc(
            "$2b$12$abcdefghijklmnopqrstuuOKyJ1dnSDbaK.xW8yQz0eEjXlFZJdnu"
        ));
        assert!(is_valid_phc(DUMMY_PHC));
    }
}
