//! The JSON API under `/api`, one module per resource.

mod applications;
mod auth;
mod lines;
mod providers;

pub use auth::{ADDRESS_LIMIT, ID_LOCK};

use axum::Router;
use axum::routing::{get, post};

use crate::error::ApiError;
use crate::state::AppState;

/// Every `/api` route, with a JSON 404 for the rest.
pub fn api() -> Router<AppState> {
    Router::new()
        .route(
            "/session",
            post(auth::login)
                .get(auth::current_session)
                .delete(auth::logout),
        )
        .route("/line", get(lines::get_line_overview))
        .route("/notifications", get(lines::list_notifications))
        .route("/disclosures", get(lines::list_disclosures))
        .route("/providers", get(providers::list_providers))
        .route("/consent", get(providers::get_consent))
        .route(
            "/applications",
            post(applications::submit_application).get(applications::list_applications),
        )
        .route("/applications/{id}", get(applications::get_receipt))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
}
