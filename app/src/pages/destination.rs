//! S3: the providers that are 「通知しない」 for this line, paged, each with
//! its 利用目的, to be set to 「通知する」 (flow B). The selection survives
//! paging.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use shared::api::ProviderRow;
use shared::domain::Setting;
use shared::draft::ProviderChoice;

use super::{Loading, PageError};
use crate::Page;
use crate::api;
use crate::components::{
    ErrorSummary, Pager, PagingStatus, PurposeCell, SelectCell, SessionShell, SettingCell,
    SummaryItem, use_error_handler, use_paging,
};
use crate::portal::Portal;

/// S3 回線情報通知「通知」設定登録.
#[component]
pub fn AddDestination() -> impl IntoView {
    let portal = expect_context::<Portal>();
    let on_error = use_error_handler();
    let navigate = use_navigate();
    let paging = use_paging(Page::Add);
    let providers = api::providers(paging.page);
    let errors = RwSignal::new(Vec::<SummaryItem>::new());

    let start_flow_b = {
        let navigate = navigate.clone();
        move |_| {
            let chosen = portal.selection.get_untracked();
            if chosen.is_empty() {
                errors.set(vec![SummaryItem {
                    field_id: None,
                    message: "通知先を選択してください".into(),
                }]);
                return;
            }
            portal.start(Setting::Notify, chosen);
            navigate(&Page::Consent.path(), NavigateOptions::default());
        }
    };
    let back = move |_| navigate(&Page::Detail.path(), NavigateOptions::default());

    let listing = move || match providers.get() {
        None => view! { <Loading /> }.into_any(),
        Some(Err(e)) => view! { <PageError message=on_error(e) /> }.into_any(),
        Some(Ok(list)) => {
            let (current, pages) = (list.page, list.pages);
            view! {
                <PagingStatus paging total=list.total current pages />
                {if list.items.is_empty() {
                    view! { <p class="empty">"追加できる通知先はありません。"</p> }.into_any()
                } else {
                    view! {
                        <table role="table" class="table table--select">
                            <caption>"「通知する」に設定できる通知先"</caption>
                            <thead role="rowgroup">
                                <tr role="row">
                                    <th scope="col" role="columnheader">"選択"</th>
                                    <th scope="col" role="columnheader">"サービス名"</th>
                                    <th scope="col" role="columnheader">"サービス提供者名"</th>
                                    <th scope="col" role="columnheader">"利用目的"</th>
                                    <th scope="col" role="columnheader">"通知設定"</th>
                                </tr>
                            </thead>
                            <tbody role="rowgroup">
                                {list.items.into_iter().map(|row| view! { <ProviderLine row /> }).collect_view()}
                            </tbody>
                        </table>
                    }
                        .into_any()
                }}
                <Pager paging current pages />
            }
                .into_any()
        }
    };

    view! {
        <SessionShell
            heading="回線情報通知「通知」設定登録"
            top_link=true
            has_error=Signal::derive(move || !errors.with(Vec::is_empty))
        >
            <ErrorSummary items=errors />
            <p class="lead">
                "お客さまIDを通知するサービス提供者を選択して、「「通知する」に設定」を押してください。ページを移動しても選択は保たれます。"
            </p>
            {listing}
            <p class="selection-count" aria-live="polite">
                {move || format!("選択中: {}件", portal.selection.with(Vec::len))}
            </p>
            <div class="actions">
                <button type="button" class="button button--primary" on:click=start_flow_b>
                    "「通知する」に設定"
                </button>
                <button type="button" class="button" on:click=back>
                    "戻る"
                </button>
            </div>
        </SessionShell>
    }
}

/// One provider row of S3.
#[component]
fn ProviderLine(
    /// The provider.
    row: ProviderRow,
) -> impl IntoView {
    let portal = expect_context::<Portal>();
    let chosen = ProviderChoice {
        code: row.code.clone(),
        service_name: row.service_name.clone(),
        provider_name: row.name.clone(),
        purpose: row.purpose.clone(),
    };
    let code = row.code.clone();
    let id = format!("add-{}", row.code);
    let is_checked = {
        let code = code.clone();
        move || portal.selection.with(|s| s.iter().any(|c| c.code == code))
    };
    let toggle = move |on: bool| {
        portal.selection.update(|s| {
            s.retain(|c| c.code != code);
            if on {
                s.push(chosen.clone());
            }
        });
    };
    view! {
        <tr role="row" class:row--pending=row.pending>
            <SelectCell id=id.clone() pending=row.pending checked=Signal::derive(is_checked) on_toggle=toggle />
            <td role="cell" data-label="サービス名">{row.service_name}</td>
            <td role="cell" data-label="サービス提供者名">
                <label for=id>{row.name}</label>
            </td>
            <PurposeCell purpose=row.purpose />
            <SettingCell pending=row.pending label=Setting::DoNotNotify.label() />
        </tr>
    }
}
