//! S9: every time the line's customer ID was given to a provider, newest
//! first, 20 a page (SPEC §3, §8), so that the subscriber sees who received
//! it, when, for which connection and why.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use shared::api::DisclosureRow;

use super::{Loading, PageError};
use crate::Page;
use crate::api;
use crate::components::{Pager, PagingStatus, SessionShell, use_error_handler, use_paging};

/// S9 回線情報通知 通知履歴.
#[component]
pub fn DisclosureHistory() -> impl IntoView {
    let on_error = use_error_handler();
    let navigate = use_navigate();
    let paging = use_paging(Page::Disclosures);
    let disclosures = api::disclosures(paging.page);
    let back = move |_| navigate(&Page::Detail.path(), NavigateOptions::default());

    let listing = move || match disclosures.get() {
        None => view! { <Loading /> }.into_any(),
        Some(Err(e)) => view! { <PageError message=on_error(e) /> }.into_any(),
        Some(Ok(list)) if list.items.is_empty() => {
            view! { <p class="empty">"通知履歴はありません。"</p> }.into_any()
        }
        Some(Ok(list)) => {
            let (current, pages) = (list.page, list.pages);
            view! {
                <PagingStatus paging total=list.total current pages />
                <table role="table" class="table">
                    <caption>"お客さまIDを通知した記録"</caption>
                    <thead role="rowgroup">
                        <tr role="row">
                            <th scope="col" role="columnheader">"通知日時"</th>
                            <th scope="col" role="columnheader">"サービス名"</th>
                            <th scope="col" role="columnheader">"サービス提供者名"</th>
                            <th scope="col" role="columnheader">"接続元"</th>
                            <th scope="col" role="columnheader">"通知の理由"</th>
                        </tr>
                    </thead>
                    <tbody role="rowgroup">
                        {list.items.into_iter().map(|row| view! { <DisclosureLine row /> }).collect_view()}
                    </tbody>
                </table>
                <Pager paging current pages />
            }
                .into_any()
        }
    };

    view! {
        <SessionShell heading="回線情報通知 通知履歴" top_link=true>
            <p class="lead">"お客さまIDをサービス提供者に通知した記録です。新しいものから順に表示しています。"</p>
            {listing}
            <div class="actions">
                <button type="button" class="button" on:click=back>
                    "戻る"
                </button>
            </div>
        </SessionShell>
    }
}

/// One disclosure; 接続元 reads 「なし」 for the notice sent on a change to
/// 「通知する」, which answered no connection.
#[component]
fn DisclosureLine(
    /// The disclosure.
    row: DisclosureRow,
) -> impl IntoView {
    view! {
        <tr role="row">
            <td role="cell" data-label="通知日時">{row.at.display_jst()}</td>
            <td role="cell" data-label="サービス名">{row.service_name}</td>
            <td role="cell" data-label="サービス提供者名">{row.provider_name}</td>
            <td role="cell" data-label="接続元">{row.prefix.unwrap_or_else(|| "なし".to_owned())}</td>
            <td role="cell" data-label="通知の理由">{row.reason.label()}</td>
        </tr>
    }
}
