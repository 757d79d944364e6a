//! The provider API's building blocks that need no storage (SPEC §8): how a
//! provider authenticates (`auth`: RFC 7523 client assertions, the access
//! tokens issued for them) and how it is told of changes (`webhook`:
//! Standard Webhooks signing and delivery). The routes, the store and the
//! worker use them; nothing in them touches the database. `api` is the
//! routes under `/provider/v1`, on the store; `events` the events' pull and
//! their delivery worker; `openapi` their contract.

pub mod api;
pub mod auth;
pub mod events;
pub mod openapi;
pub mod webhook;
