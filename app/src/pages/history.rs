//! S8: the line's applications, newest first, each reopening its receipt.

use leptos::prelude::*;

use super::{Loading, PageError};
use crate::Page;
use crate::api;
use crate::components::{SessionShell, use_error_handler};

/// S8 申込履歴.
#[component]
pub fn History() -> impl IntoView {
    let on_error = use_error_handler();
    let applications = api::applications();
    let content = move || {
        match applications.get() {
        None => view! { <Loading /> }.into_any(),
        Some(Err(e)) => view! { <PageError message=on_error(e) /> }.into_any(),
        Some(Ok(list)) if list.is_empty() => view! { <p class="empty">"お申し込みはまだありません。"</p> }.into_any(),
        Some(Ok(list)) => view! {
            <table role="table" class="table">
                <thead role="rowgroup">
                    <tr role="row">
                        <th scope="col" role="columnheader">"お申し込みID"</th>
                        <th scope="col" role="columnheader">"受付日時"</th>
                        <th scope="col" role="columnheader">"変更内容"</th>
                        <th scope="col" role="columnheader">"状態"</th>
                    </tr>
                </thead>
                <tbody role="rowgroup">
                    {list
                        .into_iter()
                        .map(|r| {
                            view! {
                                <tr role="row">
                                    <td role="cell" data-label="お申し込みID">
                                        <a href=Page::Receipt(r.id).path()>{r.id.to_string()}</a>
                                    </td>
                                    <td role="cell" data-label="受付日時">{r.received_at.display_jst()}</td>
                                    <td role="cell" data-label="変更内容">
                                        <ul class="plain-list">
                                            {r
                                                .changes
                                                .into_iter()
                                                .map(|c| {
                                                    view! {
                                                        <li>
                                                            {format!("{}（{}）→ {}", c.provider_name, c.service_name, c.setting.label())}
                                                        </li>
                                                    }
                                                })
                                                .collect_view()}
                                        </ul>
                                    </td>
                                    <td role="cell" data-label="状態">{r.state.label()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
        .into_any(),
    }
    };
    view! {
        <SessionShell heading="申込履歴" top_link=true>
            {content}
        </SessionShell>
    }
}
