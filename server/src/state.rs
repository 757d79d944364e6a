//! What every handler shares.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use shared::domain::Timestamp;
use tokio::sync::Notify;

use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::store::Store;

/// The state behind every handler: one `Arc`, so that the clones axum
/// makes for every request and every layer cost one reference count, not
/// one per part (the parts' counts were 10% of an S2 request's CPU).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state made of its parts.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What every handler shares.
pub struct Shared {
    /// The database.
    pub store: Store,
    /// The token endpoint's URL, which client assertions must name (`aud`).
    pub token_audience: String,
    /// The access tokens' key, read from the store at first use.
    pub token_key: tokio::sync::OnceCell<crate::provider::auth::TokenKey>,
    /// Provider API requests per provider.
    pub provider_limits: crate::provider::api::ProviderLimits,
    /// How the portal runs.
    pub config: Arc<ServeConfig>,
    /// Wakes the worker when new work is queued.
    pub work_queued: Arc<Notify>,
    /// Wakes the mailer when completed work queued a mail.
    pub mail_queued: Arc<Notify>,
    /// Wakes the event deliveries when work was completed.
    pub events_queued: Arc<Notify>,
    /// Slots for Argon2 hashing, each with its memory, and their queue.
    pub hashing: Arc<crate::hashing::HashingSlots>,
    /// Logins per line and per address (this process's hashing slots).
    pub login_limits: Arc<crate::limit::LoginLimits>,
    /// Whether the portal takes requests, and its open connections.
    pub health: Arc<Health>,
}

/// What `/readyz` and the metrics report of the process.
#[derive(Debug, Default)]
pub struct Health {
    ready: std::sync::atomic::AtomicBool,
    /// Connections open now.
    pub connections: Arc<crate::connections::ConnectionCount>,
}

impl Health {
    /// Whether the portal takes requests: not while starting or stopping.
    pub fn is_ready(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Marks the portal as taking requests, or not.
    pub fn set_ready(&self, ready: bool) {
        self.ready
            .store(ready, std::sync::atomic::Ordering::Relaxed);
    }
}

impl AppState {
    /// Runs Argon2 (or other CPU-bound work) off the async workers.
    pub async fn blocking<T, E>(
        &self,
        f: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        tokio::task::spawn_blocking(f).await?.map_err(Into::into)
    }
}

/// The current time.
pub fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Timestamp::from_unix(i64::try_from(secs).unwrap_or(i64::MAX))
}
