//! The line's top page, its notification settings and its disclosures.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use shared::api::{DisclosurePage, DisclosureRow, LineOverview, NotificationRow, PageQuery};
use shared::domain::ServiceStatus;

use crate::error::ApiError;
use crate::extract::CurrentLine;
use crate::state::AppState;
use crate::store::{StoreError, rules};

/// `GET /api/line`: the top page (S1).
pub async fn get_line_overview(
    State(state): State<AppState>,
    line: CurrentLine,
) -> Result<Json<LineOverview>, ApiError> {
    let store = &state.store;
    let id = &line.customer_id;
    let (record, notices, changing) =
        tokio::try_join!(store.line(id), store.notices(), store.changing(id))?;
    let record = record.ok_or(ApiError::NotFound)?;
    Ok(Json(LineOverview {
        customer_id: line.customer_id,
        notices,
        notification_status: if changing {
            ServiceStatus::Changing
        } else {
            ServiceStatus::InUse
        },
        services: record.services,
    }))
}

/// `GET /api/notifications`: the providers set to 「通知する」 (S2).
pub async fn list_notifications(
    State(state): State<AppState>,
    line: CurrentLine,
) -> Result<Json<Vec<NotificationRow>>, ApiError> {
    let rows = state.store.notifications(&line.customer_id).await?;
    Ok(Json(
        rows.into_iter()
            .map(|n| NotificationRow {
                provider: n.code,
                service_name: n.provider.service_name,
                provider_name: n.provider.name,
                purpose: n.provider.purpose,
                setting: n.setting.setting,
                set_on: n.setting.set_on,
                method: n.setting.method,
                last_disclosed_at: n.last_disclosed_at,
                pending: n.pending,
            })
            .collect(),
    ))
}

/// Disclosures on a page of S9.
const DISCLOSURES_PER_PAGE: u64 = 20;

/// `GET /api/disclosures?page=N`: every time the line's customer ID was
/// given to a provider, newest first, 20 a page (S9). A page past the last
/// gives the last.
pub async fn list_disclosures(
    State(state): State<AppState>,
    line: CurrentLine,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<DisclosurePage>, ApiError> {
    let asked = super::page_asked(query)?;
    let store = &state.store;
    let id = &line.customer_id;
    let per_page = DISCLOSURES_PER_PAGE as usize;
    let skip = |page: usize| (page as u64 - 1) * DISCLOSURES_PER_PAGE;
    let (mut found, catalogue) = tokio::try_join!(
        store.line_disclosures(id, skip(asked.max(1) as usize), DISCLOSURES_PER_PAGE),
        store.catalogue()
    )?;
    let (page, pages) = rules::page_of(
        usize::try_from(found.total).unwrap_or(usize::MAX),
        asked,
        per_page,
    );
    // Past the last page: the last one, read again (the total came with
    // the first read, so the common case is one read).
    if skip(page) != skip(asked.max(1) as usize) {
        found = store
            .line_disclosures(id, skip(page), DISCLOSURES_PER_PAGE)
            .await?;
    }
    let items = found
        .items
        .into_iter()
        .map(|d| {
            let provider = crate::store::provider_in(&catalogue, &d.provider).ok_or_else(|| {
                StoreError::Corrupt {
                    what: "disclosures",
                    detail: format!("a disclosure to unknown provider {}", d.provider),
                }
            })?;
            Ok(DisclosureRow {
                at: d.at,
                service_name: provider.service_name.clone(),
                provider_name: provider.name.clone(),
                prefix: d.lookup.map(|lookup| lookup.prefix.to_string()),
                reason: d.reason,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Json(DisclosurePage {
        total: found.total,
        page: u32::try_from(page).unwrap_or(u32::MAX),
        pages: u32::try_from(pages).unwrap_or(u32::MAX),
        items,
    }))
}
