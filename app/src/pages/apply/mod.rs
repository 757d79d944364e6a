//! The application flow's steps, S4 → S6, under one parent route. The step
//! is in the URL; the draft is the portal's one signal.

mod applicant;
mod confirm;
mod consent;

pub use applicant::ApplicantStep;
pub use confirm::ConfirmStep;
pub use consent::ConsentStep;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::components::Outlet;
use leptos_router::hooks::use_navigate;
use shared::domain::ApplicationId;
use shared::draft::Step;

use crate::Page;
use crate::components::SessionShell;
use crate::portal::Portal;

/// The parent of the steps: once the draft has been submitted, every step
/// shows that (with the way to the receipt) instead of a second 「変更」.
#[component]
pub fn ApplyFlow() -> impl IntoView {
    let portal = expect_context::<Portal>();
    // A memo, so that only a change of `submitted` re-renders: every
    // keystroke changes the draft, and must not mount the step again.
    let submitted = Memo::new(move |_| portal.draft().with(|d| d.submitted));
    move || match submitted.get() {
        Some(id) => view! { <SubmittedNotice id /> }.into_any(),
        None => view! { <Outlet /> }.into_any(),
    }
}

/// What a step shows once its draft has been submitted.
#[component]
fn SubmittedNotice(
    /// The stored application.
    id: ApplicationId,
) -> impl IntoView {
    view! {
        <SessionShell heading="お申し込みは受付済みです" top_link=true>
            <p>
                "このお申し込みはすでに受け付けています。同じ内容を重ねてお申し込みいただく必要はありません。"
            </p>
            <p>
                <a href=Page::Receipt(id).path()>
                    {format!("受付内容（お申し込みID: {id}）を表示する")}
                </a>
            </p>
        </SessionShell>
    }
}

fn page_of(step: Step) -> Page {
    match step {
        Step::Consent => Page::Consent,
        Step::Applicant => Page::Applicant,
        Step::Confirm => Page::Confirm,
    }
}

/// Whether `step` may be shown. If not, the subscriber is sent to the
/// furthest step the draft allows, or to S2 with a message saying why.
fn use_step_guard(step: Step) -> bool {
    let portal = expect_context::<Portal>();
    let draft = portal.draft().get_untracked();
    if draft.can_enter(step) {
        return true;
    }
    let target = match draft.furthest_step() {
        Some(furthest) if furthest < step => page_of(furthest),
        _ => {
            portal.flash.set(Some(
                "お手続きの途中の情報が見つからないため、はじめからお手続きをやり直してください。"
                    .into(),
            ));
            Page::Detail
        }
    };
    let navigate = use_navigate();
    // Navigate after this render, not during it.
    spawn_local(async move {
        navigate(
            &target.path(),
            NavigateOptions {
                replace: true,
                ..Default::default()
            },
        )
    });
    false
}

/// NFKC from the browser's own `String.prototype.normalize`, so the wasm
/// carries no Unicode tables. The server checks again with its own.
fn browser_nfkc(s: &str) -> String {
    js_sys::JsString::from(s).normalize("NFKC").into()
}

/// A fresh idempotency key: a random UUID (122 random bits) from
/// `crypto.getRandomValues`, which works on plain HTTP too (not
/// `crypto.randomUUID`: secure contexts only).
fn new_idempotency_key() -> String {
    let mut random = [0; 16];
    match window()
        .crypto()
        .and_then(|c| c.get_random_values_with_u8_array(&mut random))
    {
        Ok(_) => shared::draft::idempotency_key(random),
        // Every browser that runs wasm has it. Without it, no key: the
        // server refuses the submission rather than take a guessable one.
        Err(_) => String::new(),
    }
}
