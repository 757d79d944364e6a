//! The portal's state shared by every page: the flow's draft (kept in
//! `sessionStorage`, so a reload keeps the subscriber in the flow; its
//! providers carry the 利用目的 S4 and S6 show), the S3 selection, and a
//! message for the next screen.

use leptos::prelude::*;
use shared::domain::Setting;
use shared::draft::{ApplicationDraft, ProviderChoice};

use crate::api;

const DRAFT_KEY: &str = "kaisen.draft";

/// Shared state, provided by `App`.
#[derive(Clone, Copy)]
pub struct Portal {
    /// The application being made.
    pub draft: RwSignal<ApplicationDraft>,
    /// Providers ticked on S3, across its pages.
    pub selection: RwSignal<Vec<ProviderChoice>>,
    /// A message the next screen shows once (e.g. why the subscriber was
    /// sent to the login page).
    pub flash: RwSignal<Option<String>>,
}

fn session_storage() -> Option<web_sys::Storage> {
    window().session_storage().ok().flatten()
}

/// This tab's `sessionStorage` item `key`.
fn saved(key: &str) -> Option<String> {
    session_storage().and_then(|s| s.get_item(key).ok().flatten())
}

/// Saves `value` as `key` in this tab's `sessionStorage`.
fn save(key: &str, value: &str) {
    if let Some(storage) = session_storage() {
        let _ = storage.set_item(key, value);
    }
}

impl Portal {
    /// Restores the draft of this tab, and saves it on every change.
    pub fn new() -> Self {
        let draft = RwSignal::new(
            saved(DRAFT_KEY)
                .and_then(|json| api::from_json(&json))
                .unwrap_or_default(),
        );
        Effect::new(move |_| draft.with(|d| save(DRAFT_KEY, &api::to_json(d).unwrap_or_default())));
        Self {
            draft,
            selection: RwSignal::new(Vec::new()),
            flash: RwSignal::new(None),
        }
    }

    /// Starts a new flow that changes `chosen` to `setting`.
    pub fn start(&self, setting: Setting, chosen: Vec<ProviderChoice>) {
        self.draft.set(ApplicationDraft::start(setting, chosen));
    }

    /// Forgets everything (at logout, or when the session has ended).
    pub fn reset(&self) {
        self.draft.set(ApplicationDraft::default());
        self.selection.set(Vec::new());
    }

    /// Takes the message for this screen, if any.
    pub fn take_flash(&self) -> Option<String> {
        let message = self.flash.get_untracked();
        if message.is_some() {
            self.flash.set(None);
        }
        message
    }
}
