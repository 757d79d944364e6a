//! S2: the providers set to 「通知する」, each with its 利用目的 and when it
//! last received the customer ID; the start of both flows, and the way to
//! the disclosure history (S9).

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use shared::api::NotificationRow;
use shared::domain::{ProviderCode, Setting};
use shared::draft::ProviderChoice;

use super::{Loading, PageError};
use crate::Page;
use crate::api;
use crate::components::{
    ErrorSummary, PurposeCell, SelectCell, SessionShell, SettingCell, SummaryItem,
    use_error_handler,
};
use crate::portal::Portal;

/// S2 回線情報通知 ご利用状況詳細.
#[component]
pub fn NotificationDetail() -> impl IntoView {
    let portal = expect_context::<Portal>();
    let on_error = use_error_handler();
    let navigate = use_navigate();
    let notice = portal.take_flash();
    let rows = api::notifications();
    let checked = RwSignal::new(Vec::<ProviderCode>::new());
    let errors = RwSignal::new(Vec::<SummaryItem>::new());

    let start_flow_a = {
        let navigate = navigate.clone();
        move |_| {
            let Some(Ok(rows)) = rows.get_untracked() else {
                return;
            };
            let chosen: Vec<ProviderChoice> = checked.with_untracked(|c| {
                rows.iter()
                    .filter(|r| !r.pending && c.contains(&r.provider))
                    .map(|r| ProviderChoice {
                        code: r.provider.clone(),
                        service_name: r.service_name.clone(),
                        provider_name: r.provider_name.clone(),
                        purpose: r.purpose.clone(),
                    })
                    .collect()
            });
            if chosen.is_empty() {
                errors.set(vec![SummaryItem {
                    field_id: None,
                    message: "通知先を選択してください".into(),
                }]);
                return;
            }
            portal.start(Setting::DoNotNotify, chosen);
            navigate(&Page::Consent.path(), NavigateOptions::default());
        }
    };
    let add_destination = {
        let navigate = navigate.clone();
        move |_| {
            portal.selection.set(Vec::new());
            navigate(&Page::Add(1).path(), NavigateOptions::default());
        }
    };
    let disclosures = move |_| navigate(&Page::Disclosures(1).path(), NavigateOptions::default());

    let table = move || {
        match rows.get() {
        None => view! { <Loading /> }.into_any(),
        Some(Err(e)) => view! { <PageError message=on_error(e) /> }.into_any(),
        Some(Ok(rows)) if rows.is_empty() => {
            view! { <p class="empty">"「通知する」に設定している通知先はありません。"</p> }.into_any()
        }
        Some(Ok(rows)) => view! {
            <table role="table" class="table table--select table--wide">
                <caption>"「通知する」に設定している通知先"</caption>
                <thead role="rowgroup">
                    <tr role="row">
                        <th scope="col" role="columnheader">"選択"</th>
                        <th scope="col" role="columnheader">"サービス名"</th>
                        <th scope="col" role="columnheader">"サービス提供者名"</th>
                        <th scope="col" role="columnheader">"利用目的"</th>
                        <th scope="col" role="columnheader">"通知設定"</th>
                        <th scope="col" role="columnheader">"設定日"</th>
                        <th scope="col" role="columnheader">"設定方法"</th>
                        <th scope="col" role="columnheader">"最終通知日時"</th>
                    </tr>
                </thead>
                <tbody role="rowgroup">{rows.into_iter().map(|row| view! { <NotificationLine row checked /> }).collect_view()}</tbody>
            </table>
        }
        .into_any(),
    }
    };

    view! {
        <SessionShell
            heading="回線情報通知 ご利用状況詳細"
            top_link=true
            has_error=Signal::derive(move || !errors.with(Vec::is_empty))
        >
            {notice.map(|n| view! { <p class="notice" role="status">{n}</p> })}
            <ErrorSummary items=errors />
            <p class="lead">
                "お客さまIDを通知しているサービス提供者です。通知をやめる場合は、対象を選択して「「通知しない」に設定」を押してください。"
            </p>
            {table}
            <div class="actions">
                <button type="button" class="button button--primary" on:click=start_flow_a>
                    "「通知しない」に設定"
                </button>
                <button type="button" class="button" on:click=add_destination>
                    "通知先追加"
                </button>
                <button type="button" class="button" on:click=disclosures>
                    "通知履歴"
                </button>
            </div>
        </SessionShell>
    }
}

/// One provider row of S2; a provider with a change being worked shows
/// 「変更中」 and cannot be selected. 最終通知日時 reads 「なし」 if the
/// provider never received the customer ID.
#[component]
fn NotificationLine(
    /// The provider's setting.
    row: NotificationRow,
    /// The codes ticked.
    checked: RwSignal<Vec<ProviderCode>>,
) -> impl IntoView {
    let code = row.provider.clone();
    let id = format!("select-{}", row.provider);
    let is_checked = {
        let code = code.clone();
        move || checked.with(|c| c.contains(&code))
    };
    let toggle = move |on: bool| {
        checked.update(|c| {
            c.retain(|x| *x != code);
            if on {
                c.push(code.clone());
            }
        });
    };
    view! {
        <tr role="row" class:row--pending=row.pending>
            <SelectCell id=id.clone() pending=row.pending checked=Signal::derive(is_checked) on_toggle=toggle />
            <td role="cell" data-label="サービス名">{row.service_name}</td>
            <td role="cell" data-label="サービス提供者名">
                <label for=id>{row.provider_name}</label>
            </td>
            <PurposeCell purpose=row.purpose />
            <SettingCell pending=row.pending label=row.setting.label() />
            <td role="cell" data-label="設定日">{row.set_on.display_jp()}</td>
            <td role="cell" data-label="設定方法">{row.method.as_str().to_owned()}</td>
            <td role="cell" data-label="最終通知日時">
                {row.last_disclosed_at.map_or_else(|| "なし".to_owned(), |at| at.display_jst())}
            </td>
        </tr>
    }
}
