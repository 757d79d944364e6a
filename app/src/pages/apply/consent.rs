//! S4: the consent document, below the providers being changed and each
//! one's 利用目的, so that the subscriber sees why each receives the
//! customer ID before agreeing.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use shared::domain::Setting;
use shared::draft::{ConsentChoice, Step};

use super::use_step_guard;
use crate::Page;
use crate::api;
use crate::components::{PurposeCell, SessionShell, use_error_handler};
use crate::pages::{Loading, PageError};
use crate::portal::Portal;

/// S4 「回線情報通知」の利用にあたっての同意書.
#[component]
pub fn ConsentStep() -> impl IntoView {
    if !use_step_guard(Step::Consent) {
        return ().into_any();
    }
    let portal = expect_context::<Portal>();
    let on_error = use_error_handler();
    let navigate = use_navigate();
    let consent = api::consent();
    let draft = portal.draft().get_untracked();
    let caption = match draft.setting {
        Setting::Notify => "お客さまIDを通知するサービス提供者と利用目的",
        Setting::DoNotNotify => "お客さまIDの通知をやめるサービス提供者と利用目的",
    };
    let providers = draft
        .providers
        .into_iter()
        .map(|p| {
            view! {
                <tr role="row">
                    <td role="cell" data-label="サービス名">{p.service_name}</td>
                    <td role="cell" data-label="サービス提供者名">{p.provider_name}</td>
                    <PurposeCell purpose=p.purpose />
                </tr>
            }
        })
        .collect_view();

    let agree = {
        let navigate = navigate.clone();
        move |_| {
            let Some(Ok(c)) = consent.get_untracked() else {
                return;
            };
            portal.draft().update(|d| {
                d.agree(ConsentChoice {
                    version: c.version,
                    hash: c.hash,
                })
            });
            navigate(&Page::Applicant.path(), NavigateOptions::default());
        }
    };
    let decline = move |_| {
        portal.reset();
        portal.flash.set(Some(
            "お申し込みを中止しました。通知設定は変更されていません。".into(),
        ));
        navigate(&Page::Detail.path(), NavigateOptions::default());
    };

    let document = move || match consent.get() {
        None => view! { <Loading /> }.into_any(),
        Some(Err(e)) => view! { <PageError message=on_error(e) /> }.into_any(),
        Some(Ok(c)) => view! {
            <div class="consent" tabindex="0" role="region" aria-label="同意書の本文">
                {c.text.split("\n\n").map(|p| view! { <p>{p.to_owned()}</p> }).collect_view()}
                <p class="consent__version">{format!("（版：{}）", c.version)}</p>
            </div>
        }
        .into_any(),
    };

    view! {
        <SessionShell heading="「回線情報通知」の利用にあたっての同意書" top_link=true>
            <p class="lead">"以下の内容をお読みいただき、同意いただける場合は「同意する」を押してください。"</p>
            <table role="table" class="table">
                <caption>{caption}</caption>
                <thead role="rowgroup">
                    <tr role="row">
                        <th scope="col" role="columnheader">"サービス名"</th>
                        <th scope="col" role="columnheader">"サービス提供者名"</th>
                        <th scope="col" role="columnheader">"利用目的"</th>
                    </tr>
                </thead>
                <tbody role="rowgroup">{providers}</tbody>
            </table>
            {document}
            <div class="actions">
                <button
                    type="button"
                    class="button button--primary"
                    disabled=move || !matches!(consent.get(), Some(Ok(_)))
                    on:click=agree
                >
                    "同意する"
                </button>
                <button type="button" class="button" on:click=decline>
                    "同意しない"
                </button>
            </div>
        </SessionShell>
    }
    .into_any()
}
