//! The screens after S0, in one split: the build (`cargo xtask client`)
//! moves their code into a wasm file of its own, fetched when one of their
//! routes is first matched, so that the first load carries only the
//! router, the portal's state and the login form.
//!
//! Every such route shows a [`Screen`], one type, so that the router's
//! generic code is there once, not once per route. Leptos's `#[lazy_route]`
//! would panic when the file cannot be fetched, and a panic aborts the
//! whole client; a `Screen` shows 「ページを表示できませんでした」 instead,
//! with 「再読み込み」, and the next screen opened fetches the file again.

use leptos::prelude::*;
use leptos::wasm_split::{SplitLoaderError, wasm_split};
use leptos_router::ChooseView;

use crate::api::NETWORK_ERROR;
use crate::components::Shell;
use crate::pages::apply::{ApplicantStep, ApplyFlow, ConfirmStep, ConsentStep};
use crate::pages::{
    AddDestination, CompletionReceipt, DisclosureHistory, History, NotificationDetail, Top,
};

/// A screen after S0 (the view of its route).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Screen {
    /// S1 トップページ
    Top,
    /// S2 ご利用状況詳細
    Detail,
    /// S3 通知先追加
    Add,
    /// S9 通知履歴
    Disclosures,
    /// The application flow's parent: S4–S6 or 「受付済み」.
    Apply,
    /// S4 同意書
    Consent,
    /// S5 申込者情報入力
    Applicant,
    /// S6 変更内容確認
    Confirm,
    /// S8 申込履歴
    History,
    /// S7 変更受付完了
    Receipt,
}

impl ChooseView for Screen {
    async fn choose(self) -> AnyView {
        view(self).await.unwrap_or_else(|_| load_failed())
    }

    async fn preload(&self) {
        // A failure shows when the screen is visited.
        let _ = preload_screens().await;
    }
}

/// Fetches the screens' file, unless it has been: S0 does, once it is
/// drawn, so that S1 follows the login without waiting for it.
pub fn prefetch() {
    leptos::task::spawn_local(async {
        let _ = preload_screens().await;
    });
}

/// `screen`'s view: the code of every screen after S0 is reached from
/// here alone, so it all goes into the split `screens`.
#[wasm_split(screens, fallible, preload(preload_screens), wasm_split_path = ::leptos::wasm_split)]
fn view(screen: Screen) -> Result<AnyView, SplitLoaderError> {
    Ok(match screen {
        Screen::Top => view! { <Top /> }.into_any(),
        Screen::Detail => view! { <NotificationDetail /> }.into_any(),
        Screen::Add => view! { <AddDestination /> }.into_any(),
        Screen::Disclosures => view! { <DisclosureHistory /> }.into_any(),
        Screen::Apply => view! { <ApplyFlow /> }.into_any(),
        Screen::Consent => view! { <ConsentStep /> }.into_any(),
        Screen::Applicant => view! { <ApplicantStep /> }.into_any(),
        Screen::Confirm => view! { <ConfirmStep /> }.into_any(),
        Screen::History => view! { <History /> }.into_any(),
        Screen::Receipt => view! { <CompletionReceipt /> }.into_any(),
    })
}

/// What a screen shows when its file could not be fetched. Reloading
/// fetches it again (and, after a new release, the new one).
fn load_failed() -> AnyView {
    let reload = |_| {
        let _ = window().location().reload();
    };
    view! {
        <Shell heading="ページを表示できませんでした">
            <p role="alert">{NETWORK_ERROR}</p>
            <p>
                <button type="button" class="button button--primary" on:click=reload>
                    "再読み込み"
                </button>
            </p>
        </Shell>
    }
    .into_any()
}
