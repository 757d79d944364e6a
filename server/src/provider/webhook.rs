//! How a provider is told of a change (SPEC §8, "Events"): each event is
//! POSTed to the provider's `webhook_url`, signed as the Standard Webhooks
//! specification says, and retried with back-off until a 2xx.
//!
//! The worker owns the outbox and the order; this module checks what the
//! import registers ([`check_webhook_url`], [`WebhookSecret`]), signs
//! ([`signature`]), makes one attempt ([`Sender::send`]) and says when to
//! make the next ([`retry_delay`]).

mod endpoint;
mod retry;
mod secret;
mod sender;

#[cfg(test)]
mod tests;

pub use endpoint::check_webhook_url;
pub use retry::{FIRST_RETRY, LONGEST_RETRY, retry_delay};
pub use secret::{WebhookSecret, signature};
pub use sender::{DEFAULT_TIMEOUT, Failure, Sender};
