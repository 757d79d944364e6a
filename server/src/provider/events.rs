//! Events for providers (SPEC §8, "Events"): the body both ways give them
//! ([`EventBody`]), the pull (`GET /provider/v1/events`), and the worker
//! that POSTs each to the provider's webhook until it answers 2xx.
//!
//! The store writes the events in the completion's transaction, keeps them
//! for good, and claims each for one delivery at a time across processes;
//! this module sends them, in order per line and provider (the store hands
//! out only the first undelivered one of each), with back-off
//! ([`retry_delay`]).

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use shared::domain::{ApplicationId, CustomerId, ProviderCode, Timestamp};
use utoipa::{IntoParams, ToSchema};

use super::api::{Provider, ProviderApiError};
use super::webhook::{Sender, WebhookSecret, retry_delay};
use crate::state::{AppState, now};
use crate::store::{Catalogue, EventDelivery, EventKind, EventRecord, StoreError};

/// Events a pull answers at most.
pub const PAGE: usize = 100;

/// Events a delivery pass sends at most, at once: a stop waits for one
/// pass (each attempt has the sender's time limit), not for a backlog.
const PASS: usize = 16;

/// The longest the worker sleeps without looking for due events.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// An event as the provider receives it, POSTed to its webhook (signed as
/// the Standard Webhooks specification says) or pulled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EventBody {
    /// The event's ID, also its `webhook-id`: the same at every attempt
    /// and in the pull, for the provider to de-duplicate by.
    #[schema(format = "uuid", examples("019ad0f2-6b1c-7c3e-9a4b-5d6e7f809a1b"))]
    pub id: String,
    /// `notification.granted`: the line was set to 「通知する」 (the event
    /// is a disclosure); `notification.revoked`: set to 「通知しない」, so
    /// delete the customer ID.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// When the change was done (RFC 3339, Japan's offset).
    #[schema(format = DateTime, examples("2026-12-01T09:30:00+09:00"))]
    pub timestamp: String,
    /// What changed.
    pub data: EventData,
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EventData {
    /// The line's customer ID.
    #[schema(value_type = String, pattern = "^CAF[0-9]{10}$", examples("CAF0000000001"))]
    pub customer_id: CustomerId,
    /// The provider's code (yours).
    #[schema(value_type = String, examples("W0001"))]
    pub provider: ProviderCode,
    /// The application (16 digits) that made the change.
    #[schema(value_type = String, pattern = "^[0-9]{16}$", examples("2026120100000042"))]
    pub application_id: ApplicationId,
    /// For `notification.granted` only: the disclosure it is logged as.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = "uuid", required = false)]
    pub disclosure_id: Option<String>,
}

impl From<&EventRecord> for EventBody {
    fn from(event: &EventRecord) -> Self {
        Self {
            id: event.id.clone(),
            kind: event.kind,
            timestamp: crate::rfc3339::jst(event.at),
            data: EventData {
                customer_id: event.customer_id.clone(),
                provider: event.provider.clone(),
                application_id: event.application_id,
                disclosure_id: event.disclosure_id.clone(),
            },
        }
    }
}

/// `GET /provider/v1/events`'s query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// The cursor: the `next` of the previous answer. Without it, the
    /// provider's events from its first.
    #[param(example = "42")]
    pub after: Option<String>,
}

/// A page of a provider's events, and the cursor to ask for the next.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsPage {
    /// Up to 100 events, oldest first: the provider's own only, in the
    /// order of the changes.
    pub events: Vec<EventBody>,
    /// The cursor after the last of them; `after` again when there are
    /// none (ask again later with it). Opaque: pass it back as it is.
    #[schema(examples("43"))]
    pub next: String,
}

/// `GET /provider/v1/events?after=<cursor>`: the provider's own events
/// after the cursor, in order.
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    summary = "The provider's events after a cursor",
    description = "The same events the webhook receives, kept for good, in the order of the \
        changes: pull them to catch up after downtime, or instead of the webhook. A page has \
        at most 100; ask again with `next` until `events` is empty.",
    params(EventsQuery),
    responses(super::openapi::EventsAnswers),
    security(("bearer" = [])),
)]
pub async fn list_events(
    State(state): State<AppState>,
    provider: Provider,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EventsPage>, ProviderApiError> {
    let bad = || ProviderApiError::Request("after must be a cursor this API gave (next)".into());
    let Query(query) = query.map_err(|_| bad())?;
    let after = match query.after.as_deref() {
        None | Some("") => 0,
        Some(cursor) => cursor.parse::<u64>().map_err(|_| bad())?,
    };
    let events = state
        .store
        .provider_events(&provider.code, after, PAGE)
        .await?;
    let next = events.last().map_or(after, |e| e.sequence);
    Ok(Json(EventsPage {
        events: events.iter().map(EventBody::from).collect(),
        next: next.to_string(),
    }))
}

/// One attempt at `event`: how its delivery stands after it.
async fn attempt(
    sender: &Sender,
    catalogue: &Catalogue,
    event: &EventRecord,
    delivery: EventDelivery,
) -> EventDelivery {
    let sent =
        match crate::store::provider_in(catalogue, &event.provider).and_then(|p| p.api.as_ref()) {
            None => Err("the provider is not registered for the provider API".to_owned()),
            Some(api) => match (
                url::Url::parse(&api.webhook_url),
                WebhookSecret::parse(&api.webhook_secret),
            ) {
                (Ok(url), Ok(secret)) => {
                    let body = serde_json::to_vec(&EventBody::from(event))
                        .map_err(|e| format!("the event cannot be encoded: {e}"));
                    match body {
                        // The timestamp of this attempt: a receiver refuses old
                        // ones, and a retry may come hours later.
                        Ok(body) => sender
                            .send(&url, &secret, &event.id, now().unix(), &body)
                            .await
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e),
                    }
                }
                (Err(e), _) => Err(format!("the webhook URL is not a URL: {e}")),
                (_, Err(e)) => Err(e),
            },
        };
    match sent {
        Ok(()) => {
            tracing::info!(event = %event.id, provider = %event.provider, "event delivered");
            metrics::counter!("kaisen_events_delivered_total").increment(1);
            EventDelivery {
                delivered_at: Some(now()),
                last_error: None,
                ..delivery
            }
        }
        Err(error) => {
            let attempts = delivery.attempts.saturating_add(1);
            let wait = retry_delay(attempts).as_secs();
            tracing::warn!(
                event = %event.id,
                provider = %event.provider,
                attempts,
                %error,
                "event not delivered; will retry"
            );
            metrics::counter!("kaisen_event_delivery_failures_total").increment(1);
            EventDelivery {
                attempts,
                next_attempt_at: now().plus_secs(i64::try_from(wait).unwrap_or(i64::MAX)),
                last_error: Some(error),
                delivered_at: None,
            }
        }
    }
}

/// Delivers up to [`PASS`] due events; says whether a full pass went (more
/// may be due).
async fn pass(state: &AppState, sender: &Sender) -> Result<bool, StoreError> {
    let catalogue = state.store.catalogue().await?;
    let sender = sender.clone();
    let deliver = move |event: EventRecord, delivery: EventDelivery| {
        let (sender, catalogue) = (sender.clone(), catalogue.clone());
        let attempt = async move { attempt(&sender, &catalogue, &event, delivery).await };
        Box::pin(attempt) as futures_util::future::BoxFuture<'static, EventDelivery>
    };
    let tried = state
        .store
        .deliver_due_events(now(), PASS, &deliver)
        .await?;
    Ok(tried >= PASS)
}

/// Runs until `stop` turns true: deliver what is due, then sleep until the
/// next event is due or the worker completes more work. A pass that has
/// begun is finished, and recorded, before it stops.
pub async fn run(state: AppState, sender: Sender, mut stop: tokio::sync::watch::Receiver<bool>) {
    while !*stop.borrow() {
        let sleep = match pass(&state, &sender).await {
            Ok(true) => continue,
            Ok(false) => match state.store.next_event_due().await {
                Ok(Some(due)) => until(due).min(MAX_SLEEP),
                Ok(None) => MAX_SLEEP,
                Err(e) => failed(&e),
            },
            Err(e) => failed(&e),
        };
        tokio::select! {
            () = tokio::time::sleep(sleep.max(Duration::from_millis(200))) => {}
            () = state.events_queued.notified() => {}
            _ = stop.changed() => {}
        }
    }
}

fn until(due: Timestamp) -> Duration {
    Duration::from_secs(u64::try_from(due.unix() - now().unix()).unwrap_or(0))
}

fn failed(e: &StoreError) -> Duration {
    tracing::error!(error = %e, "event delivery failed; retrying");
    Duration::from_secs(1)
}
