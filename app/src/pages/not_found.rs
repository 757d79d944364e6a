//! Any address that is no screen.

use leptos::prelude::*;

use crate::Page;
use crate::components::Shell;

/// The page for an unknown address.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <Shell heading="ページが見つかりません">
            <p>"お探しのページは見つかりませんでした。"</p>
            <p>
                <a href=Page::Login.path()>"サービス申込受付ページへ"</a>
            </p>
        </Shell>
    }
}
