//! One module per screen; the application flow's steps are in `apply`.

pub mod apply;
mod destination;
mod detail;
mod disclosures;
mod history;
mod login;
mod not_found;
pub mod receipt;
mod top;

pub use destination::AddDestination;
pub use detail::NotificationDetail;
pub use disclosures::DisclosureHistory;
pub use history::History;
pub use login::Login;
pub use not_found::NotFound;
pub use receipt::CompletionReceipt;
pub use top::Top;

use leptos::prelude::*;

/// Shown while a page's data loads.
#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <p class="loading" role="status">
            "読み込み中です…"
        </p>
    }
}

/// A page-level error message.
#[component]
pub fn PageError(
    /// The message.
    message: String,
) -> impl IntoView {
    view! {
        <p class="page-error" role="alert">
            {message}
        </p>
    }
}
