//! S1: the line's services, notices, and the way into the notification
//! function.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;

use super::{Loading, PageError};
use crate::Page;
use crate::api;
use crate::components::{SessionShell, use_error_handler};

/// S1 トップページ.
#[component]
pub fn Top() -> impl IntoView {
    let on_error = use_error_handler();
    let navigate = use_navigate();
    let overview = api::line();
    let go = move |page: Page| {
        let navigate = navigate.clone();
        move |_| navigate(&page.path(), NavigateOptions::default())
    };
    let (to_detail, to_history) = (go(Page::Detail), go(Page::History));
    let content = move || match overview.get() {
        None => view! { <Loading /> }.into_any(),
        Some(Err(e)) => view! { <PageError message=on_error(e) /> }.into_any(),
        Some(Ok(line)) => {
            let to_detail = to_detail.clone();
            let to_history = to_history.clone();
            view! {
                <p class="customer-id">{format!("お客さまID: {}", line.customer_id)}</p>
                <section class="notices" aria-labelledby="notices-heading">
                    <h2 id="notices-heading">"お知らせ"</h2>
                    {if line.notices.is_empty() {
                        view! { <p>"現在、お知らせはありません。"</p> }.into_any()
                    } else {
                        view! {
                            <ul>{line.notices.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
                        }
                            .into_any()
                    }}
                </section>
                <h2>"ご利用中のサービス"</h2>
                <table role="table" class="table">
                    <thead role="rowgroup">
                        <tr role="row">
                            <th scope="col" role="columnheader">"サービス名"</th>
                            <th scope="col" role="columnheader">"ご利用状況"</th>
                            <th scope="col" role="columnheader">"サービス機能"</th>
                        </tr>
                    </thead>
                    <tbody role="rowgroup">
                        <tr role="row">
                            <th scope="row" role="rowheader">"回線情報通知機能"</th>
                            <td role="cell" data-label="ご利用状況">{line.notification_status.label()}</td>
                            <td role="cell" data-label="サービス機能">
                                <button type="button" class="button" on:click=to_detail>
                                    "詳細・変更"
                                </button>
                            </td>
                        </tr>
                        {line
                            .services
                            .into_iter()
                            .map(|s| {
                                view! {
                                    <tr role="row">
                                        <th scope="row" role="rowheader">{s.name}</th>
                                        <td role="cell" data-label="ご利用状況">{s.status.label()}</td>
                                        <td role="cell" data-label="サービス機能">"ー"</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
                <div class="actions">
                    <button type="button" class="button" on:click=to_history>
                        "申込履歴"
                    </button>
                </div>
            }
                .into_any()
        }
    };
    view! {
        <SessionShell heading="ご利用サービス一覧">
            {content}
        </SessionShell>
    }
}
