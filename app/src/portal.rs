//! The portal's state shared by every page: the flow's draft (kept in
//! `sessionStorage`, so a reload keeps the subscriber in the flow) with the
//! 利用目的 of its providers, the S3 selection, and a message for the next
//! screen.

use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
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

/// The 利用目的 of one provider of the draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purpose {
    /// The provider's code.
    pub code: ProviderCode,
    /// 利用目的, if the provider stated one.
    pub purpose: Option<String>,
}

/// Shared state, provided by `App`.
#[derive(Clone, Copy)]
pub struct Portal {
    /// The application being made.
    pub draft: RwSignal<ApplicationDraft>,
    /// The 利用目的 of the draft's providers, as S2 or S3 showed them.
    pub purposes: RwSignal<Vec<Purpose>>,
    /// Providers ticked on S3, across its pages.
    pub selection: RwSignal<Vec<Chosen>>,
    /// A message the next screen shows once (e.g. why the subscriber was
    /// sent to the login page).
    pub flash: RwSignal<Option<String>>,
}

fn session_storage() -> Option<web_sys::Storage> {
    window().session_storage().ok().flatten()
}

/// A signal restored from this tab's `sessionStorage` under `key`, and
/// saved there on every change.
fn stored<T>(key: &'static str) -> RwSignal<T>
where
    T: Default + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let saved = session_storage()
        .and_then(|s| s.get_item(key).ok().flatten())
        .and_then(|json| api::from_json(&json))
        .unwrap_or_default();
    let signal = RwSignal::new(saved);
    Effect::new(move |_| {
        let json = signal.with(|v| api::to_json(v).unwrap_or_default());
        if let Some(storage) = session_storage() {
            let _ = storage.set_item(key, &json);
        }
    });
    signal
}

impl Portal {
    /// Restores the draft of this tab, and saves it on every change.
    pub fn new() -> Self {
        Self {
            draft: stored(DRAFT_KEY),
            purposes: stored(PURPOSES_KEY),
            selection: RwSignal::new(Vec::new()),
            flash: RwSignal::new(None),
        }
    }

    /// Starts a new flow that changes `chosen` to `setting`.
    pub fn start(&self, setting: Setting, chosen: Vec<Chosen>) {
        self.purposes.set(
            chosen
                .iter()
                .map(|c| Purpose {
                    code: c.choice.code.clone(),
                    purpose: c.purpose.clone(),
                })
                .collect(),
        );
        self.draft.set(ApplicationDraft::start(
            setting,
            chosen.into_iter().map(|c| c.choice).collect(),
        ));
    }

    /// The 利用目的 of the draft's provider `code` (untracked).
    pub fn purpose_of(&self, code: &ProviderCode) -> Option<String> {
        self.purposes.with_untracked(|p| {
            p.iter()
                .find(|p| p.code == *code)
                .and_then(|p| p.purpose.clone())
        })
    }

    /// Forgets everything (at logout, or when the session has ended).
    pub fn reset(&self) {
        self.draft.set(ApplicationDraft::default());
        self.purposes.set(Vec::new());
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
