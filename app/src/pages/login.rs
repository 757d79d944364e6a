//! S0: login with the line's customer ID and access key; a live session
//! opening `/` goes on to S1 instead (SPEC §3).

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use shared::api::LoginRequest;

use crate::Page;
use crate::components::{ErrorSummary, Shell, SummaryItem, TextField};
use crate::portal::Portal;
use crate::{api, idle, routes};

/// `/`: S1 for a live session, else S0. Whether the session is alive is
/// asked only when this browser may have one ([`idle::may_be_logged_in`]);
/// meanwhile nothing is drawn, so the login form never flashes up.
#[component]
pub fn Login() -> impl IntoView {
    let portal = expect_context::<Portal>();
    let notice = portal.take_flash();
    let asking = RwSignal::new(idle::may_be_logged_in());
    if asking.get_untracked() {
        let navigate = use_navigate();
        spawn_local(async move {
            match api::session().await {
                Ok(_) => navigate(
                    &Page::Top.path(),
                    NavigateOptions {
                        replace: true,
                        ..Default::default()
                    },
                ),
                Err(_) => asking.set(false),
            }
        });
    }
    move || (!asking.get()).then(|| view! { <LoginForm notice=notice.clone() /> })
}

/// S0 サービス申込受付ページ.
#[component]
fn LoginForm(
    /// The message this screen shows once (why the subscriber is here).
    notice: Option<String>,
) -> impl IntoView {
    let portal = expect_context::<Portal>();
    let navigate = use_navigate();
    // Nothing of a previous session is kept. Forgetting it here, once the
    // flow's steps are gone, and not before navigating here (a step that
    // saw its draft vanish would send the subscriber to S2 instead).
    portal.reset();
    // Once the form is drawn, while the subscriber types.
    Effect::new(|_| routes::prefetch());
    let customer_id = RwSignal::new(String::new());
    let access_key = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::<SummaryItem>::new());
    let pending = RwSignal::new(false);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let form = LoginRequest {
            customer_id: customer_id.get_untracked(),
            access_key: access_key.get_untracked(),
        };
        let mut missing = Vec::new();
        if form.customer_id.trim().is_empty() {
            missing.push(SummaryItem {
                field_id: Some("customer_id"),
                message: "フレッツナンバーを入力してください".into(),
            });
        }
        if form.access_key.trim().is_empty() {
            missing.push(SummaryItem {
                field_id: Some("access_key"),
                message: "アクセスキーを入力してください".into(),
            });
        }
        if !missing.is_empty() {
            errors.set(missing);
            return;
        }
        pending.set(true);
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::login(&form).await {
                Ok(_) => {
                    portal.reset();
                    navigate(&Page::Top.path(), NavigateOptions::default());
                }
                Err(e) => {
                    errors.set(vec![SummaryItem {
                        field_id: None,
                        message: e.message(),
                    }]);
                    pending.set(false);
                }
            }
        });
    };
    let field_error = move |id: &'static str| {
        Signal::derive(move || {
            errors.with(|e| {
                e.iter()
                    .find(|i| i.field_id == Some(id))
                    .map(|i| i.message.clone())
            })
        })
    };

    view! {
        <Shell heading="サービス申込受付ページ" has_error=Signal::derive(move || !errors.with(Vec::is_empty))>
            {notice.map(|n| view! { <p class="notice" role="status">{n}</p> })}
            <ErrorSummary items=errors />
            <p class="lead">
                "回線情報通知機能の設定変更を受け付けています。お手元の「フレッツナンバー」と「アクセスキー」を入力して、ログインしてください。"
            </p>
            <form class="form" on:submit=submit novalidate>
                <TextField
                    id="customer_id"
                    label="フレッツナンバー"
                    mark="※必須"
                    hint="「CAF」に続く10桁の数字です（例：CAF0123456789）"
                    value=customer_id
                    on_input=move |v| customer_id.set(v)
                    error=field_error("customer_id")
                    autocomplete="username"
                />
                <TextField
                    id="access_key"
                    label="アクセスキー"
                    mark="※必須"
                    hint="開通のご案内に記載の英数字です。大文字と小文字を区別します（例：Ab3dE9kQ）"
                    value=access_key
                    on_input=move |v| access_key.set(v)
                    error=field_error("access_key")
                    input_type="password"
                    autocomplete="current-password"
                />
                <div class="actions">
                    <button type="submit" class="button button--primary" disabled=move || pending.get()>
                        "ログイン"
                    </button>
                </div>
            </form>
        </Shell>
    }
}
