//! Standard Webhooks signing and delivery (SPEC §8): being written.
