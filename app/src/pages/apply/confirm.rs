//! S6: the changes and the applicant, and 「変更」, which sends the whole
//! draft once.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use shared::api::ChangeRow;
use shared::domain::Setting;
use shared::draft::Step;

use super::use_step_guard;
use crate::Page;
use crate::api::{self, ClientError};
use crate::components::{ErrorSummary, SessionShell, SummaryItem, use_error_handler};
use crate::pages::receipt::{ApplicantDetails, ChangesTable};
use crate::portal::Portal;

/// S6 回線情報通知 変更内容確認.
#[component]
pub fn ConfirmStep() -> impl IntoView {
    if !use_step_guard(Step::Confirm) {
        return ().into_any();
    }
    let portal = expect_context::<Portal>();
    let on_error = use_error_handler();
    let navigate = use_navigate();
    let draft = portal.draft().get_untracked();
    let pending = RwSignal::new(false);
    let errors = RwSignal::new(Vec::<SummaryItem>::new());

    let submit = {
        let navigate = navigate.clone();
        move |_| {
            if pending.get_untracked() {
                return;
            }
            let Some(application) = portal.draft().with_untracked(|d| d.submission()) else {
                return;
            };
            pending.set(true);
            let navigate = navigate.clone();
            let on_error = on_error.clone();
            spawn_local(async move {
                match api::submit(&application).await {
                    Ok(receipt) => {
                        navigate(
                            &Page::Receipt(receipt.id).path(),
                            NavigateOptions::default(),
                        );
                        portal.draft().update(|d| d.submitted = Some(receipt.id));
                    }
                    Err(ClientError::Validation(fields)) => {
                        errors.set(
                            fields
                                .into_iter()
                                .map(|f| SummaryItem {
                                    field_id: None,
                                    message: f.message,
                                })
                                .collect(),
                        );
                        pending.set(false);
                    }
                    Err(e) => {
                        errors.set(vec![SummaryItem {
                            field_id: None,
                            message: on_error(e),
                        }]);
                        pending.set(false);
                    }
                }
            });
        }
    };
    let back = move |_| navigate(&Page::Applicant.path(), NavigateOptions::default());
    let applicant = draft.applicant.clone();
    let flow_b = draft.setting == Setting::Notify;
    let changes: Vec<ChangeRow> = draft
        .providers
        .iter()
        .map(|p| ChangeRow {
            provider: p.code.clone(),
            service_name: p.service_name.clone(),
            provider_name: p.provider_name.clone(),
            setting: draft.setting,
        })
        .collect();
    let purposes = draft.providers.iter().map(|p| p.purpose.clone()).collect();

    view! {
        <SessionShell
            heading="回線情報通知 変更内容確認"
            top_link=true
            has_error=Signal::derive(move || !errors.with(Vec::is_empty))
        >
            <ErrorSummary items=errors />
            <p class="lead">"以下の内容でお申し込みます。よろしければ「変更」を押してください。"</p>
            <h2>"変更内容"</h2>
            <ChangesTable changes purposes />
            {flow_b
                .then(|| {
                    view! {
                        <p class="notice notice--important">
                            "「通知する」に設定したサービス提供者には、工事完了後ただちにお客さまIDが通知されます。"
                        </p>
                    }
                })}
            <div class="section-heading">
                <h2>"申込者情報"</h2>
                <a href=Page::Applicant.path()>"修正"</a>
            </div>
            {applicant.map(|a| view! { <ApplicantDetails applicant=a /> })}
            <div class="actions">
                <button
                    type="button"
                    class="button button--primary"
                    disabled=move || pending.get()
                    on:click=submit
                >
                    "変更"
                </button>
                <button type="button" class="button" on:click=back>
                    "前画面へ戻る"
                </button>
            </div>
        </SessionShell>
    }
    .into_any()
}
