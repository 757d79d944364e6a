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

/// The page a paged list (S3, S9) asks for with `?page=N`, 1 when none is
/// given; a query that is not a page number is refused.
fn page_asked(
    query: Result<
        axum::extract::Query<shared::api::PageQuery>,
        axum::extract::rejection::QueryRejection,
    >,
) -> Result<u32, ApiError> {
    match query {
        Ok(axum::extract::Query(query)) => Ok(query.page.unwrap_or(1)),
        Err(_) => Err(ApiError::BadRequest(
            "ページの指定が正しくありません".into(),
        )),
    }
}

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
