//! The line's top page, its notification settings and its disclosures.

use axum::Json;
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
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DisclosurePage>, ApiError> {
    let Ok(Query(query)) = query else {
        return Err(ApiError::BadRequest(
            "ページの指定が正しくありません".into(),
        ));
    };
    let store = &state.store;
    let id = &line.customer_id;
    let total = store.line_disclosures(id, 0, 0).await?.total;
    let (page, pages) = rules::page_of(
        usize::try_from(total).unwrap_or(usize::MAX),
        query.page.unwrap_or(1),
        DISCLOSURES_PER_PAGE as usize,
    );
    let skip = (page as u64 - 1) * DISCLOSURES_PER_PAGE;
    let (found, catalogue) = tokio::try_join!(
        store.line_disclosures(id, skip, DISCLOSURES_PER_PAGE),
        store.catalogue()
    )?;
    let items = found
        .items
        .into_iter()
        .map(|d| {
            let provider = catalogue
                .binary_search_by(|(code, _)| code.cmp(&d.provider))
                .map(|i| &catalogue[i].1)
                .map_err(|_| StoreError::Corrupt {
                    what: "disclosures",
                    detail: format!("a disclosure to unknown provider {}", d.provider),
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
