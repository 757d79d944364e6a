//! A provider's registered JWK set (RFC 7517): what the import accepts
//! ([`check_jwks`]), the keys an assertion is verified with, and the set's
//! fingerprint ([`jwks_fingerprint`]).
//!
//! Only public signature keys of the two algorithms the token endpoint
//! accepts are allowed: EC P-256 for ES256 and OKP Ed25519 for EdDSA. Each
//! key is parsed the way the verifier will use it, so a set that passes the
//! import is a set every key of which can verify.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// At most this many keys in a set: an assertion without `kid` is tried
/// against each key of its algorithm.
const MAX_KEYS: usize = 20;

/// One verification key of a registered set.
pub(super) struct VerificationKey {
    /// Its `kid`, if it has one.
    pub(super) kid: Option<String>,
    /// The one algorithm it verifies.
    pub(super) alg: Algorithm,
    /// The key as the JOSE library takes it.
    pub(super) key: DecodingKey,
}

/// Checks a provider's JWK set (the import file's `api.jwks`): a set with at
/// least one key; every key public (no `d`), either `kty` EC with `crv`
/// P-256 (ES256) or `kty` OKP with `crv` Ed25519 (EdDSA), its coordinates
/// of the curve's size and a point of it; `alg`, if given, that algorithm;
/// `use`, if given, `sig`; `key_ops`, if given, including `verify`; `kid`s
/// unique where given.
///
/// The message names the key (`keys[1]: …`) and says what is wrong.
pub fn check_jwks(jwks: &Value) -> Result<(), String> {
    verification_keys(jwks).map(drop)
}

/// The keys of a set, each checked as [`check_jwks`] says.
pub(super) fn verification_keys(jwks: &Value) -> Result<Vec<VerificationKey>, String> {
    let set = jwks
        .as_object()
        .ok_or("the JWK set is not a JSON object (expected {\"keys\": [...]})")?;
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the JWK set has no \"keys\" array")?;
    if keys.is_empty() {
        return Err("the JWK set has no key: register at least one".into());
    }
    if keys.len() > MAX_KEYS {
        return Err(format!(
            "the JWK set has {} keys; at most {MAX_KEYS} are accepted",
            keys.len()
        ));
    }
    let mut parsed: Vec<VerificationKey> = Vec::with_capacity(keys.len());
    for (i, jwk) in keys.iter().enumerate() {
        let key = verification_key(jwk).map_err(|e| format!("keys[{i}]: {e}"))?;
        if let Some(kid) = &key.kid
            && let Some(first) = parsed.iter().position(|k| k.kid.as_ref() == Some(kid))
        {
            return Err(format!(
                "keys[{i}]: kid {kid:?} is already the kid of keys[{first}]; kids must be unique"
            ));
        }
        parsed.push(key);
    }
    Ok(parsed)
}

/// One JWK, checked and made a verification key.
fn verification_key(jwk: &Value) -> Result<VerificationKey, String> {
    let jwk = jwk.as_object().ok_or("is not a JSON object")?;
    let text = |name: &str| -> Result<Option<&str>, String> {
        match jwk.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("\"{name}\" is not a string")),
        }
    };
    if jwk.contains_key("d") {
        return Err(
            "is a private key (it has \"d\"): register only the public half of the key".into(),
        );
    }
    let kty = text("kty")?.ok_or("has no \"kty\"")?;
    let crv = text("crv")?;
    let (alg, key) = match kty {
        "EC" => {
            if crv != Some("P-256") {
                return Err(format!(
                    "crv {} is not accepted for an EC key: only P-256 (ES256)",
                    shown(crv)
                ));
            }
            let x = coordinate(text("x")?, "x")?;
            let y = coordinate(text("y")?, "y")?;
            let key = DecodingKey::from_ec_components(x, y)
                .map_err(|e| format!("x and y do not make a P-256 key: {e}"))?;
            (Algorithm::ES256, key)
        }
        "OKP" => {
            if crv != Some("Ed25519") {
                return Err(format!(
                    "crv {} is not accepted for an OKP key: only Ed25519 (EdDSA)",
                    shown(crv)
                ));
            }
            let x = coordinate(text("x")?, "x")?;
            let key = DecodingKey::from_ed_components(x)
                .map_err(|e| format!("x does not make an Ed25519 key: {e}"))?;
            (Algorithm::EdDSA, key)
        }
        other => {
            return Err(format!(
                "kty {other:?} is not accepted: only EC P-256 (ES256) and OKP Ed25519 (EdDSA)"
            ));
        }
    };
    let name = algorithm_name(alg);
    if let Some(given) = text("alg")?
        && given != name
    {
        return Err(format!(
            "alg {given:?} does not match the key (kty {kty}, crv {}): it must be {name:?} or absent",
            shown(crv)
        ));
    }
    if let Some(given) = text("use")?
        && given != "sig"
    {
        return Err(format!("use {given:?} is not \"sig\""));
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verifies {
            return Err("key_ops does not include \"verify\"".into());
        }
    }
    let kid = match text("kid")? {
        Some("") => return Err("kid is empty".into()),
        kid => kid.map(str::to_owned),
    };
    // The library parses the point when it makes a verifier: a key that
    // does not parse here would never verify anything.
    let provider = CryptoProvider::try_get_default()
        .ok_or("no JOSE crypto provider is installed (a build problem)")?;
    (provider.verifier_factory)(&alg, &key).map_err(|_| match alg {
        Algorithm::ES256 => "x and y are not a point of P-256",
        _ => "x is not an Ed25519 public key",
    })?;
    Ok(VerificationKey { kid, alg, key })
}

/// A base64url coordinate of 32 bytes (both P-256 and Ed25519 use 32).
fn coordinate<'a>(value: Option<&'a str>, name: &str) -> Result<&'a str, String> {
    let value = value.ok_or_else(|| format!("has no \"{name}\""))?;
    match URL_SAFE_NO_PAD.decode(value) {
        Ok(bytes) if bytes.len() == 32 => Ok(value),
        Ok(bytes) => Err(format!(
            "{name} is {} bytes long; it must be 32",
            bytes.len()
        )),
        Err(_) => Err(format!("{name} is not base64url without padding")),
    }
}

/// The JOSE name of one of the two accepted algorithms.
pub(super) fn algorithm_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::ES256 => "ES256",
        _ => "EdDSA",
    }
}

/// A `crv` value for a message.
fn shown(crv: Option<&str>) -> String {
    crv.map_or_else(|| "(none)".to_owned(), |c| format!("{c:?}"))
}

/// A stable SHA-256 (lowercase hex) of a JWK set: the same for the same keys
/// whatever the order of the keys and of their members or the whitespace,
/// different as soon as any key or member changes. An access token carries
/// the fingerprint of the set it was issued under; a token whose
/// fingerprint is not that of its provider's current set was issued under
/// keys since replaced.
pub fn jwks_fingerprint(jwks: &Value) -> String {
    let mut set = jwks.clone();
    if let Some(Value::Array(keys)) = set.get_mut("keys") {
        keys.sort_by_cached_key(canonical_json);
    }
    hex::encode(Sha256::digest(canonical_json(&set).as_bytes()))
}

/// A value as JSON with every object's members sorted by name.
fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

/// Appends `value` as JSON with every object's members sorted by name.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(members) => {
            let mut members: Vec<(&String, &Value)> = members.iter().collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (name, value)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(name.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}
