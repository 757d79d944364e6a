//! The line's top page and its notification settings.

use axum::Json;
use axum::extract::State;
use shared::api::{LineOverview, NotificationRow};
use shared::domain::ServiceStatus;

use crate::error::ApiError;
use crate::extract::CurrentLine;
use crate::state::AppState;

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
                pending: n.pending,
            })
            .collect(),
    ))
}
