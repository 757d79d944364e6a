//! kaisen's browser client: every screen of SPEC §3 (S0–S9), rendered in
//! the browser with Leptos, talking to the server's JSON API.

mod api;
mod components;
mod idle;
mod pages;
mod portal;
mod routes;

use leptos::prelude::*;
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;
use shared::domain::ApplicationId;

use crate::pages::{Login, NotFound};
use crate::portal::Portal;
use crate::routes::Screen;

/// Every screen's address. Navigation goes through here, never through
/// string literals in components (the `<Route>`s below must be literals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// S0 ログイン
    Login,
    /// S1 トップページ
    Top,
    /// S2 ご利用状況詳細
    Detail,
    /// S3 通知先追加, on page N
    Add(u32),
    /// S4 同意書
    Consent,
    /// S5 申込者情報入力
    Applicant,
    /// S6 変更内容確認
    Confirm,
    /// S7 変更受付完了 (the receipt)
    Receipt(ApplicationId),
    /// S8 申込履歴
    History,
    /// S9 通知履歴, on page N
    Disclosures(u32),
}

impl Page {
    /// The path of the page.
    pub fn path(self) -> String {
        match self {
            Self::Login => "/".into(),
            Self::Top => "/top".into(),
            Self::Detail => "/notification".into(),
            Self::Add(1) => "/notification/add".into(),
            Self::Add(page) => format!("/notification/add?page={page}"),
            Self::Consent => "/notification/apply/consent".into(),
            Self::Applicant => "/notification/apply/applicant".into(),
            Self::Confirm => "/notification/apply/confirm".into(),
            Self::Receipt(id) => format!("/applications/{id}"),
            Self::History => "/applications".into(),
            Self::Disclosures(1) => "/notification/history".into(),
            Self::Disclosures(page) => format!("/notification/history?page={page}"),
        }
    }
}

/// The app: the portal's shared state and every route. Every screen but
/// S0 and 「ページが見つかりません」 is loaded on first use (`routes`).
#[component]
pub fn App() -> impl IntoView {
    provide_context(Portal::new());
    view! {
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=Login />
                <Route path=path!("/top") view=Screen::Top />
                <Route path=path!("/notification") view=Screen::Detail />
                <Route path=path!("/notification/add") view=Screen::Add />
                <Route path=path!("/notification/history") view=Screen::Disclosures />
                <ParentRoute path=path!("/notification/apply") view=Screen::Apply>
                    <Route path=path!("consent") view=Screen::Consent />
                    <Route path=path!("applicant") view=Screen::Applicant />
                    <Route path=path!("confirm") view=Screen::Confirm />
                </ParentRoute>
                <Route path=path!("/applications") view=Screen::History />
                <Route path=path!("/applications/:id") view=Screen::Receipt />
            </Routes>
        </Router>
    }
}
