//! The portal's state shared by every page: the flow's draft (kept in
//! `sessionStorage`, so a reload keeps the subscriber in the flow) with the
//! 利用目的 of its providers, the S3 selection, and a message for the next
//! screen.

use leptos::prelude::*;
use shared::domain::{ProviderCode, Setting};
use shared::draft::{ApplicationDraft, ProviderChoice};

use crate::api;

const DRAFT_KEY: &str = "kaisen.draft";
const PURPOSES_KEY: &str = "kaisen.purposes";

/// A provider ticked on S2 or S3: the draft's choice and its 利用目的,
/// which S4 and S6 show (the shared `ProviderChoice` does not carry it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    /// What the draft records.
    pub choice: ProviderChoice,
    /// 利用目的, if the provider stated one.
    pub purpose: Option<String>,
}

/// Shared state, provided by `App`.
#[derive(Clone, Copy)]
pub struct Portal {
    /// The application being made.
    pub draft: RwSignal<ApplicationDraft>,
    /// The 利用目的 of the draft's providers, as S2 or S3 showed them, one
    /// provider a line: its code, then a tab and its purpose if it stated
    /// one (codes are letters and digits; a purpose is one line without
    /// control characters). Plain text, so that the client carries no
    /// serde code for it.
    purposes: RwSignal<String>,
    /// Providers ticked on S3, across its pages.
    pub selection: RwSignal<Vec<Chosen>>,
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
        let purposes = RwSignal::new(saved(PURPOSES_KEY).unwrap_or_default());
        Effect::new(move |_| draft.with(|d| save(DRAFT_KEY, &api::to_json(d).unwrap_or_default())));
        Effect::new(move |_| purposes.with(|p| save(PURPOSES_KEY, p)));
        Self {
            draft,
            purposes,
            selection: RwSignal::new(Vec::new()),
            flash: RwSignal::new(None),
        }
    }

    /// Starts a new flow that changes `chosen` to `setting`.
    pub fn start(&self, setting: Setting, chosen: Vec<Chosen>) {
        let mut purposes = String::new();
        for c in &chosen {
            purposes.push_str(c.choice.code.as_str());
            if let Some(purpose) = &c.purpose {
                purposes.push('\t');
                purposes.push_str(purpose);
            }
            purposes.push('\n');
        }
        self.purposes.set(purposes);
        self.draft.set(ApplicationDraft::start(
            setting,
            chosen.into_iter().map(|c| c.choice).collect(),
        ));
    }

    /// The 利用目的 of the draft's provider `code` (untracked).
    pub fn purpose_of(&self, code: &ProviderCode) -> Option<String> {
        self.purposes
            .with_untracked(|p| {
                p.lines().find_map(|line| match line.split_once('\t') {
                    Some((c, purpose)) if c == code.as_str() => Some(Some(purpose.to_owned())),
                    None if line == code.as_str() => Some(None),
                    _ => None,
                })
            })
            .flatten()
    }

    /// Forgets everything (at logout, or when the session has ended).
    pub fn reset(&self) {
        self.draft.set(ApplicationDraft::default());
        self.purposes.set(String::new());
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
