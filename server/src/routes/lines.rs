//! The line's top page and its notification settings.

use axum::Json;
use axum::extract::State;
use shared::api::{LineOverview, NotificationRow};

use crate::error::ApiError;
use crate::extract::CurrentLine;
use crate::state::AppState;

/// `GET /api/line`: the top page (S1).
pub async fn get_line_overview(
    State(state): State<AppState>,
    line: CurrentLine,
) -> Result<Json<LineOverview>, ApiError> {
    let overview = state.inline(|store| {
        let record = store.line(&line.customer_id)?.ok_or(ApiError::NotFound)?;
        Ok::<_, ApiError>(store.overview(&line.customer_id, &record)?)
    })?;
    Ok(Json(overview))
}

/// `GET /api/notifications`: the providers set to 「通知する」 (S2).
pub async fn list_notifications(
    State(state): State<AppState>,
    line: CurrentLine,
) -> Result<Json<Vec<NotificationRow>>, ApiError> {
    Ok(Json(
        state.inline(|store| store.notifications(&line.customer_id))?,
    ))
}
