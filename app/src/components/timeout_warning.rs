//! The warning before the session's idle limit (SPEC §4 Sessions, WCAG
//! 2.2.1): a modal dialog offering 「延長する」; if nothing is done, the
//! portal ends the session and says so on the login page.

use std::time::Duration;

use leptos::html::Dialog;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;

use super::use_error_handler;
use crate::Page;
use crate::api;
use crate::idle;
use crate::portal::Portal;

/// What S0 says once the idle limit has passed (the server's words for an
/// expired session).
const EXPIRED: &str =
    "一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください";

/// 「あと1分30秒」: the time left, in whole seconds.
fn time_in_words(left: Duration) -> String {
    let secs = left.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}秒"),
        (m, 0) => format!("{m}分"),
        (m, s) => format!("{m}分{s}秒"),
    }
}

/// Watches the idle timer on a logged-in screen: opens the dialog when the
/// limit is near, and ends the session when it has passed.
#[component]
pub fn TimeoutWarning() -> impl IntoView {
    let portal = expect_context::<Portal>();
    let on_error = use_error_handler();
    let navigate = use_navigate();
    let dialog = NodeRef::<Dialog>::new();
    let left = RwSignal::new(Duration::ZERO);

    // After a reload the client knows neither the limit nor the last call:
    // asking for the session tells both (and keeps it alive, as any page
    // load does).
    if !idle::is_known() {
        let on_error = on_error.clone();
        spawn_local(async move {
            if let Err(e) = api::session().await {
                on_error(e);
            }
        });
    }

    let close = move || {
        if let Some(d) = dialog.get_untracked()
            && d.open()
        {
            d.close();
        }
    };
    let expire = move || {
        idle::forget();
        close();
        portal.flash.set(Some(EXPIRED.into()));
        // The server has ended the session, or ends it within the second;
        // this makes sure.
        spawn_local(api::logout());
        navigate(
            &Page::Login.path(),
            NavigateOptions {
                replace: true,
                ..Default::default()
            },
        );
    };
    let tick = move || {
        let (Some(time_left), Some(lead)) = (idle::time_left(), idle::warning_lead()) else {
            return;
        };
        if time_left.is_zero() {
            expire();
            return;
        }
        let Some(d) = dialog.get_untracked() else {
            return;
        };
        if time_left <= lead {
            left.set(time_left);
            if !d.open() {
                let _ = d.show_modal();
            }
        } else if d.open() {
            // The session was kept alive meanwhile.
            d.close();
        }
    };
    if let Ok(handle) = set_interval_with_handle(tick, Duration::from_secs(1)) {
        on_cleanup(move || handle.clear());
    }

    let extend = move || {
        let on_error = on_error.clone();
        spawn_local(async move {
            match api::session().await {
                Ok(_) => close(),
                Err(e) => {
                    close();
                    on_error(e);
                }
            }
        });
    };
    let on_cancel = {
        let extend = extend.clone();
        // Escape closes the dialog: taken as 「延長する」.
        move |ev: leptos::ev::Event| {
            ev.prevent_default();
            extend();
        }
    };

    view! {
        <dialog
            class="timeout-dialog"
            node_ref=dialog
            aria-labelledby="timeout-title"
            aria-describedby="timeout-text"
            on:cancel=on_cancel
        >
            <h2 id="timeout-title">"まもなく自動的にログアウトします"</h2>
            <p id="timeout-text">
                "このまま操作がない場合、あと"
                <strong class="timeout-dialog__time">{move || time_in_words(left.get())}</strong>
                "で自動的にログアウトします。お手続きを続ける場合は「延長する」を押してください。"
            </p>
            <div class="actions">
                <button
                    type="button"
                    class="button button--primary"
                    autofocus
                    on:click=move |_| extend()
                >
                    "延長する"
                </button>
            </div>
        </dialog>
    }
}
