//! The cells the provider rows share: the selection checkbox and the
//! setting, which reads 「変更中」 while a change is being worked (S2, S3),
//! and the provider's 利用目的 (S2, S3, S4, S6).

use leptos::prelude::*;

/// The checkbox cell; its label is the provider's name in another cell
/// (`for` = `id`). Disabled while a change is pending.
#[component]
pub fn SelectCell(
    /// The checkbox's element id.
    id: String,
    /// Whether a change for this provider is being worked.
    pending: bool,
    /// Whether it is ticked.
    #[prop(into)]
    checked: Signal<bool>,
    /// Called with the new state when ticked or unticked.
    on_toggle: impl Fn(bool) + 'static,
) -> impl IntoView {
    view! {
        <td role="cell" data-label="選択">
            <input
                type="checkbox"
                class="checkbox"
                id=id
                disabled=pending
                prop:checked=move || checked.get()
                on:change=move |ev| on_toggle(event_target_checked(&ev))
            />
        </td>
    }
}

/// The 通知設定 cell: 「変更中」 while pending, else the setting.
#[component]
pub fn SettingCell(
    /// Whether a change for this provider is being worked.
    pending: bool,
    /// The setting's label.
    label: &'static str,
) -> impl IntoView {
    view! {
        <td role="cell" data-label="通知設定">
            {if pending {
                view! { <span class="badge badge--pending">"変更中"</span> }.into_any()
            } else {
                label.into_any()
            }}
        </td>
    }
}

/// What a provider that stated no 利用目的 shows in its place, everywhere.
pub const NO_PURPOSE: &str = "（未登録）";

/// The 利用目的 cell; a provider without one shows [`NO_PURPOSE`], muted.
#[component]
pub fn PurposeCell(
    /// 利用目的, if the provider stated one.
    purpose: Option<String>,
) -> impl IntoView {
    let unregistered = purpose.is_none();
    view! {
        <td role="cell" data-label="利用目的" class:unregistered=unregistered>
            {purpose.unwrap_or_else(|| NO_PURPOSE.to_owned())}
        </td>
    }
}
