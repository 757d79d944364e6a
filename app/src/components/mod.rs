//! Building blocks shared by the screens.

mod error_summary;
mod pager;
mod provider_cells;
mod shell;
mod text_field;
mod timeout_warning;

pub use error_summary::{ErrorSummary, SummaryItem};
pub use pager::{Pager, PagingStatus, use_paging};
pub use provider_cells::{PurposeCell, SelectCell, SettingCell};
pub use shell::{SessionShell, Shell, use_error_handler};
pub use text_field::TextField;
pub use timeout_warning::TimeoutWarning;
