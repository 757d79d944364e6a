//! The portal's state shared by every page: the flow's draft (kept in
//! `sessionStorage`, so a reload keeps the subscriber in the flow), the
//! S3 selection, and a message for the next screen.

use leptos::prelude::*;
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

impl Portal {
    /// Restores the draft of this tab, and saves it on every change.
    pub fn new() -> Self {
        let saved = session_storage()
            .and_then(|s| s.get_item(DRAFT_KEY).ok().flatten())
            .and_then(|json| api::from_json(&json))
            .unwrap_or_default();
        let draft = RwSignal::new(saved);
        Effect::new(move |_| {
            let json = draft.with(|d| api::to_json(d).unwrap_or_default());
            if let Some(storage) = session_storage() {
                let _ = storage.set_item(DRAFT_KEY, &json);
            }
        });
        Self {
            draft,
            selection: RwSignal::new(Vec::new()),
            flash: RwSignal::new(None),
        }
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
