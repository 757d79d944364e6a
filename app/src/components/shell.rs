//! The frame of every screen: header, navigation, the screen's heading.

use leptos::html::H1;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;

use super::TimeoutWarning;
use crate::Page;
use crate::api::{self, ClientError};
use crate::portal::Portal;

/// Returns a handler for a failed call: on a missing or expired session it
/// sends the subscriber to the login page (which forgets the portal's
/// state) with the server's message; otherwise it gives the message to show.
pub fn use_error_handler() -> impl Fn(ClientError) -> String + Clone + 'static {
    let portal = expect_context::<Portal>();
    let navigate = use_navigate();
    move |error| {
        if let ClientError::Unauthenticated(message) = &error {
            portal.flash.set(Some(message.clone()));
            navigate(
                &Page::Login.path(),
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
        error.message()
    }
}

/// A screen: sets the page title, shows the header and the link
/// 「トップページへ」, and focuses the heading, so a screen reader announces
/// each new step. A logged-in screen is a [`SessionShell`].
#[component]
pub fn Shell(
    /// The screen's heading, also the page title.
    #[prop(into)]
    heading: String,
    /// Whether to show the link 「トップページへ」.
    #[prop(optional)]
    top_link: bool,
    /// Prefixes the title with 「エラー：」 while true.
    #[prop(optional, into)]
    has_error: Signal<bool>,
    /// A logged-in screen's 「ログアウト」 and idle warning.
    #[prop(optional)]
    session: Option<SessionControls>,
    /// The screen's content.
    children: Children,
) -> impl IntoView {
    let title = heading.clone();
    Effect::new(move |_| {
        let prefix = if has_error.get() { "エラー：" } else { "" };
        document().set_title(&format!("{prefix}{title}｜サービス申込受付ページ"));
    });
    let heading_ref = NodeRef::<H1>::new();
    Effect::new(move |_| {
        if let Some(h1) = heading_ref.get() {
            let _ = h1.focus();
        }
    });
    let (logout, warning) = session.map(|s| (s.logout, s.warning)).unzip();
    view! {
        <header class="site-header">
            <div class="site-header__inner">
                <p class="site-name">"回線情報通知 サービス申込受付ページ"</p>
                {logout}
            </div>
        </header>
        {top_link
            .then(|| {
                view! {
                    <nav class="breadcrumbs" aria-label="サイト内">
                        <a href=Page::Top.path()>"トップページへ"</a>
                    </nav>
                }
            })}
        <main class="content">
            <h1 tabindex="-1" node_ref=heading_ref>
                {heading}
            </h1>
            {children()}
        </main>
        {warning}
    }
}

/// What a [`SessionShell`] adds to its [`Shell`]. Built there, so that its
/// code is in the screens' lazy wasm, not in the first load with S0's.
pub struct SessionControls {
    logout: AnyView,
    warning: AnyView,
}

/// A screen of a logged-in session: a [`Shell`] with 「ログアウト」 in the
/// header, watching the idle timer ([`TimeoutWarning`]).
#[component]
pub fn SessionShell(
    /// The screen's heading, also the page title.
    #[prop(into)]
    heading: String,
    /// Whether to show the link 「トップページへ」.
    #[prop(optional)]
    top_link: bool,
    /// Prefixes the title with 「エラー：」 while true.
    #[prop(optional, into)]
    has_error: Signal<bool>,
    /// The screen's content.
    children: Children,
) -> impl IntoView {
    let portal = expect_context::<Portal>();
    let navigate = use_navigate();
    let logout = move |_| {
        let navigate = navigate.clone();
        spawn_local(async move {
            api::logout().await;
            portal.flash.set(Some("ログアウトしました".into()));
            navigate(&Page::Login.path(), NavigateOptions::default());
        });
    };
    let session = SessionControls {
        logout: view! {
            <button type="button" class="button button--quiet" on:click=logout>
                "ログアウト"
            </button>
        }
        .into_any(),
        warning: view! { <TimeoutWarning /> }.into_any(),
    };
    view! {
        <Shell heading top_link has_error session>
            {children()}
        </Shell>
    }
}
