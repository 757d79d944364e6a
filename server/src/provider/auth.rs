//! How a provider proves who it is (SPEC §8): OAuth 2.0 client credentials
//! with a `private_key_jwt` client assertion (RFC 7523), checked against the
//! JWK set registered for the provider at import, and the five-minute access
//! tokens issued in exchange.
//!
//! The token endpoint's whole logic is [`grant`]: the route hands it the
//! form and the store (through [`Clients`]) and answers what it returns. An
//! access token is self-contained (a JWT signed with the deployment's
//! [`TokenKey`]), so any `serve` process sharing the key verifies it with
//! [`verify_access_token`] without a database round trip; it names the
//! fingerprint of the key set it was issued under, so that a token outlives
//! no replacement of its provider's keys.
//!
//! Signatures are the `jsonwebtoken` crate's (RustCrypto backend); this
//! module only decides which key, which algorithm and which claims.

mod error;
mod grant;
mod jwks;
mod token;

#[cfg(test)]
mod tests;

pub use error::{ClientRejection, ErrorCode, ErrorResponse, OAuthError};
pub use grant::{
    CLIENT_ASSERTION_TYPE, Clients, MAX_ASSERTION_LIFETIME_SECS, MAX_CLOCK_SKEW_SECS,
    RegisteredClient, TokenResponse, grant,
};
pub use jwks::{check_jwks, jwks_fingerprint};
pub use token::{
    ACCESS_TOKEN_LIFETIME_SECS, AccessClaims, InvalidToken, TokenKey, verify_access_token,
};
