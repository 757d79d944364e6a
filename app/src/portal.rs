//! The portal's state shared by every page: the flow's draft (kept in
//! `sessionStorage`, so a reload keeps the subscriber in the flow; its
//! providers carry the 利用目的 S4 and S6 show), the S3 selection, and a
//! message for the next screen.
//!
//! The draft is read from `sessionStorage` when a screen first asks for it,
//! not at start: its (de)serialisation then lives in the screens' lazy
//! wasm, not in the first load.

use leptos::prelude::*;
use shared::domain::Setting;
use shared::draft::{ApplicationDraft, ProviderChoice};

use crate::api;

const DRAFT_KEY: &str = "kaisen.draft";

/// Shared state, provided by `App`.
#[derive(Clone, Copy)]
pub struct Portal {
    /// The application being made: [`Self::draft`].
    draft: RwSignal<ApplicationDraft>,
    /// Whether `draft` has been restored (and is saved on every change).
    restored: StoredValue<bool>,
    /// The portal's owner, which owns the effect that saves the draft.
    owner: StoredValue<Owner>,
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
    /// The portal's state, owned by the current owner (`App`'s).
    pub fn new() -> Self {
        Self {
            draft: RwSignal::new(ApplicationDraft::default()),
            restored: StoredValue::new(false),
            owner: StoredValue::new(Owner::current().unwrap_or_default()),
            selection: RwSignal::new(Vec::new()),
            flash: RwSignal::new(None),
        }
    }

    /// The application being made: on first use, the draft this tab saved
    /// is restored, and from then on saved on every change.
    pub fn draft(&self) -> RwSignal<ApplicationDraft> {
        let draft = self.draft;
        if !self.restored.get_value() {
            self.restored.set_value(true);
            if let Some(saved) = saved(DRAFT_KEY).and_then(|json| api::from_json(&json)) {
                draft.set(saved);
            }
            // Owned by the portal, not by the screen that asked first.
            self.owner.with_value(|owner| {
                owner.with(|| {
                    Effect::new(move |_| {
                        draft.with(|d| save(DRAFT_KEY, &api::to_json(d).unwrap_or_default()));
                    });
                });
            });
        }
        draft
    }

    /// Starts a new flow that changes `chosen` to `setting`.
    pub fn start(&self, setting: Setting, chosen: Vec<ProviderChoice>) {
        self.draft().set(ApplicationDraft::start(setting, chosen));
    }

    /// Forgets everything (at logout, or when the session has ended): also
    /// the saved draft, which would otherwise be restored later.
    pub fn reset(&self) {
        if let Some(storage) = session_storage() {
            let _ = storage.remove_item(DRAFT_KEY);
        }
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
