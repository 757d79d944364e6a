//! Paging of the long lists (S3, S9): the page in the URL (`?page=N`), the
//! status line 「件数: N件」「(ページ x/y ページ)」, and 「前のページ」
//! 「次のページ」. After a page change the list is drawn anew (and the
//! button pressed may be gone or disabled): the focus goes to the new
//! page's status line, which a screen reader then reads out.

use leptos::html::Div;
use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::Page;

/// A paged screen's state, made once by the screen ([`use_paging`]) so
/// that it outlives each page's list.
#[derive(Clone, Copy)]
pub struct Paging {
    /// The page the URL asks for, from 1.
    pub page: Memo<u32>,
    /// The screen's address of page N.
    to: fn(u32) -> Page,
    /// Whether the subscriber has just paged (then the status takes the focus).
    paged: RwSignal<bool>,
    /// The status line of the page shown.
    status: NodeRef<Div>,
}

/// The paging of the screen whose page N is at `to(N)`.
pub fn use_paging(to: fn(u32) -> Page) -> Paging {
    let query = use_query_map();
    let page = Memo::new(move |_| {
        query
            .with(|q| q.get("page").and_then(|p| p.parse::<u32>().ok()))
            .unwrap_or(1)
            .max(1)
    });
    let paged = RwSignal::new(false);
    let status = NodeRef::<Div>::new();
    Effect::new(move |_| {
        if let Some(el) = status.get()
            && paged.get_untracked()
        {
            paged.set(false);
            let _ = el.focus();
        }
    });
    Paging {
        page,
        to,
        paged,
        status,
    }
}

/// 「件数: N件」 and 「(ページ x/y ページ)」.
#[component]
pub fn PagingStatus(
    /// The screen's paging.
    paging: Paging,
    /// How many in all.
    total: u64,
    /// The page shown, from 1.
    current: u32,
    /// How many pages.
    pages: u32,
) -> impl IntoView {
    view! {
        <div class="paging-status" tabindex="-1" node_ref=paging.status>
            <span>{format!("件数: {total}件")}</span>
            <span>{format!("(ページ {current}/{pages} ページ)")}</span>
        </div>
    }
}

/// 「前のページ」 and 「次のページ」, each disabled where there is none.
#[component]
pub fn Pager(
    /// The screen's paging.
    paging: Paging,
    /// The page shown, from 1.
    current: u32,
    /// How many pages.
    pages: u32,
) -> impl IntoView {
    let navigate = use_navigate();
    let go = move |target: u32| {
        paging.paged.set(true);
        navigate(&(paging.to)(target).path(), NavigateOptions::default());
    };
    let (prev, next) = (go.clone(), go);
    view! {
        <nav class="pager" aria-label="ページ送り">
            <button type="button" class="button" disabled={current <= 1} on:click=move |_| prev(current - 1)>
                "前のページ"
            </button>
            <button type="button" class="button" disabled={current >= pages} on:click=move |_| next(current + 1)>
                "次のページ"
            </button>
        </nav>
    }
}
