//! Submitting an application and reading receipts back.

use std::collections::HashSet;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use shared::api::{Receipt, SubmitApplication};
use shared::domain::{ApplicationId, Rules, nfkc};

use crate::error::ApiError;
use crate::extract::{AppJson, CurrentLine};
use crate::state::{AppState, now};
use crate::store::{ApplicationRecord, NewApplication};

/// The most providers one application may change.
const MAX_PROVIDERS: usize = 200;

/// The receipt of a stored application.
pub fn receipt(record: ApplicationRecord, contact: &[String]) -> Receipt {
    Receipt {
        id: record.id,
        received_at: record.received_at,
        expected_done_at: record.expected_done_at,
        completed_at: record.completed_at,
        state: record.state,
        changes: record.changes.into_iter().map(Into::into).collect(),
        applicant: record.applicant,
        contact: contact.to_vec(),
    }
}

fn valid_idempotency_key(key: &str) -> bool {
    (16..=64).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `POST /api/applications`: validates the whole draft again, stores it in
/// one transaction, waits until it is on disk, and answers the receipt: 201
/// when new, 200 when the idempotency key had been used.
pub async fn submit_application(
    State(state): State<AppState>,
    line: CurrentLine,
    AppJson(form): AppJson<SubmitApplication>,
) -> Result<(StatusCode, Json<Receipt>), ApiError> {
    if !valid_idempotency_key(&form.idempotency_key) {
        return Err(ApiError::BadRequest(
            "リクエストの形式が正しくありません".into(),
        ));
    }
    if form.providers.is_empty() {
        return Err(ApiError::BadRequest("通知先を選択してください".into()));
    }
    if form.providers.len() > MAX_PROVIDERS {
        return Err(ApiError::BadRequest(format!(
            "一度に変更できる通知先は{MAX_PROVIDERS}件までです"
        )));
    }
    let rules = Rules {
        nfkc,
        extra_refused_domains: &state.config.refused_mail_domains,
    };
    let applicant = form
        .applicant
        .validate(&rules)
        .map_err(ApiError::Validation)?;
    let mut seen = HashSet::new();
    let providers = form
        .providers
        .into_iter()
        .filter(|p| seen.insert(p.clone()))
        .collect();
    let new = NewApplication {
        customer_id: line.customer_id,
        idempotency_key: form.idempotency_key,
        consent_hash: form.consent_hash,
        setting: form.setting,
        providers,
        applicant,
        received_at: now(),
        work_delay_secs: i64::try_from(state.config.work_delay.as_secs()).unwrap_or(i64::MAX),
    };
    let submitted = state.store.submit(&new).await?;
    if !submitted.replayed {
        tracing::info!(id = %submitted.record.id, "application received");
        metrics::counter!("kaisen_applications_received_total").increment(1);
        state.work_queued.notify_one();
    }
    let status = if submitted.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(receipt(submitted.record, &state.config.contact)),
    ))
}

/// `GET /api/applications`: the line's applications, newest first (S8).
pub async fn list_applications(
    State(state): State<AppState>,
    line: CurrentLine,
) -> Result<Json<Vec<Receipt>>, ApiError> {
    let records = state.store.line_applications(&line.customer_id).await?;
    Ok(Json(
        records
            .into_iter()
            .map(|r| receipt(r, &state.config.contact))
            .collect(),
    ))
}

/// `GET /api/applications/{id}`: one receipt (S7). Another line's
/// application is "not found", like one that does not exist.
pub async fn get_receipt(
    State(state): State<AppState>,
    line: CurrentLine,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Receipt>, ApiError> {
    // An ID that does not even percent-decode to UTF-8 (`%FF`) is not found
    // either, with the usual body rather than axum's plain-text rejection.
    let Ok(Path(id)) = id else {
        return Err(ApiError::NotFound);
    };
    let id = ApplicationId::parse(&id).map_err(|_| ApiError::NotFound)?;
    let record = state.store.application(id).await?;
    match record {
        Some(r) if r.customer_id == line.customer_id => Ok(Json(receipt(r, &state.config.contact))),
        _ => Err(ApiError::NotFound),
    }
}
