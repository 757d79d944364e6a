//! The providers a line may add, and the consent document.

use axum::Json;
use axum::extract::{Query, State};
use shared::api::{Consent, PageQuery, ProviderPage, ProviderRow};

use crate::error::ApiError;
use crate::extract::CurrentLine;
use crate::state::AppState;

/// `GET /api/providers?page=N`: a page of the providers that are
/// 「通知しない」 for this line (S3).
pub async fn list_providers(
    State(state): State<AppState>,
    line: CurrentLine,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ProviderPage>, ApiError> {
    let offered = state
        .store
        .offered_page(&line.customer_id, super::page_asked(query)?)
        .await?;
    Ok(Json(ProviderPage {
        total: offered.total,
        page: offered.page,
        pages: offered.pages,
        items: offered
            .items
            .into_iter()
            .map(|o| ProviderRow {
                code: o.code,
                service_name: o.provider.service_name,
                name: o.provider.name,
                purpose: o.provider.purpose,
                pending: o.pending,
            })
            .collect(),
    }))
}

/// `GET /api/consent`: the consent document in force (S4).
pub async fn get_consent(
    State(state): State<AppState>,
    _line: CurrentLine,
) -> Result<Json<Consent>, ApiError> {
    let consent = state.store.consent().await?.ok_or(ApiError::NotFound)?;
    Ok(Json(Consent {
        version: consent.version,
        text: consent.text,
        hash: consent.hash,
    }))
}
