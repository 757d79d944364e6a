//! Building blocks shared by the screens.

mod error_summary;
mod provider_cells;
mod shell;
mod text_field;
mod timeout_warning;

pub use error_summary::{ErrorSummary, SummaryItem};
pub use provider_cells::{SelectCell, SettingCell};
pub use shell::{Shell, use_error_handler};
pub use text_field::TextField;
pub use timeout_warning::TimeoutWarning;
