//! S7: the receipt of a stored application, loaded from the server, so a
//! reload (or S8) shows it again. Printed, it fits one A4 page.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use shared::api::{ChangeRow, Receipt};
use shared::domain::Applicant;

use super::{Loading, PageError};
use crate::api;
use crate::components::{PurposeCell, SessionShell, use_error_handler};

/// S7 回線情報通知 変更受付完了.
#[component]
pub fn CompletionReceipt() -> impl IntoView {
    let on_error = use_error_handler();
    let params = use_params_map();
    let receipt = api::receipt(move || params.with(|p| p.get("id").unwrap_or_default()));
    let content = move || match receipt.get() {
        None => view! { <Loading /> }.into_any(),
        Some(Err(e)) => view! { <PageError message=on_error(e) /> }.into_any(),
        Some(Ok(r)) => view! { <ReceiptBody receipt=r /> }.into_any(),
    };
    view! {
        <SessionShell heading="回線情報通知 変更受付完了" top_link=true>
            {content}
        </SessionShell>
    }
}

/// The receipt itself.
#[component]
fn ReceiptBody(
    /// The stored application.
    receipt: Receipt,
) -> impl IntoView {
    let print = |_| {
        let _ = window().print();
    };
    let mail = match (&receipt.applicant.email, receipt.applicant.wants_mail) {
        (Some(email), true) => {
            format!("工事が完了しましたら、{email} あてに工事完了通知メールをお送りします。")
        }
        _ => "工事完了通知メールはお送りしません（「希望しない」を選択されました）。".to_owned(),
    };
    let done = match receipt.completed_at {
        Some(at) => format!(
            "工事は {} に完了し、設定が反映されました。",
            at.display_jst()
        ),
        None => format!(
            "工事の完了後に設定が反映されます。工事完了予定：{} ごろ",
            receipt.expected_done_at.display_jst()
        ),
    };
    view! {
        <p class="lead">"お申し込みを受け付けました。"</p>
        <dl class="summary-list receipt-id">
            <div>
                <dt>"お申し込みID"</dt>
                <dd class="application-id">{receipt.id.to_string()}</dd>
            </div>
            <div>
                <dt>"受付日時"</dt>
                <dd>{receipt.received_at.display_jst()}</dd>
            </div>
            <div>
                <dt>"状態"</dt>
                <dd>{receipt.state.label()}</dd>
            </div>
        </dl>
        <h2>"変更内容"</h2>
        <ChangesTable changes=receipt.changes />
        <h2>"申込者情報"</h2>
        <ApplicantDetails applicant=receipt.applicant />
        <h2>"今後の流れ"</h2>
        <ul class="next-steps">
            <li>{done}</li>
            <li>{mail}</li>
        </ul>
        <h2>"お問い合わせ先"</h2>
        <address class="contact">
            {receipt.contact.into_iter().map(|line| view! { <span>{line}</span> }).collect_view()}
        </address>
        <p class="keep-notice">"このページを印刷または保存して、お申し込みIDをお控えください。"</p>
        <div class="actions">
            <button type="button" class="button button--primary" on:click=print>
                "画面印刷（保存）"
            </button>
        </div>
    }
}

/// The changes of an application (S6 and S7): サービス名, サービス提供者名,
/// (on S6) 利用目的, 変更後.
#[component]
pub fn ChangesTable(
    /// The changes.
    changes: Vec<ChangeRow>,
    /// S6: each change's 利用目的, in the order of `changes`. The stored
    /// application (S7) does not record it.
    #[prop(optional)]
    purposes: Option<Vec<Option<String>>>,
) -> impl IntoView {
    let with_purpose = purposes.is_some();
    let mut purposes = purposes.unwrap_or_default().into_iter();
    view! {
        <table role="table" class="table">
            <thead role="rowgroup">
                <tr role="row">
                    <th scope="col" role="columnheader">"サービス名"</th>
                    <th scope="col" role="columnheader">"サービス提供者名"</th>
                    {with_purpose.then(|| view! { <th scope="col" role="columnheader">"利用目的"</th> })}
                    <th scope="col" role="columnheader">"変更後"</th>
                </tr>
            </thead>
            <tbody role="rowgroup">
                {changes
                    .into_iter()
                    .map(|c| {
                        let purpose = with_purpose
                            .then(|| view! { <PurposeCell purpose=purposes.next().flatten() /> });
                        view! {
                            <tr role="row">
                                <td role="cell" data-label="サービス名">{c.service_name}</td>
                                <td role="cell" data-label="サービス提供者名">{c.provider_name}</td>
                                {purpose}
                                <td role="cell" data-label="変更後">{c.setting.label()}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// The applicant's details as a description list (S6 and S7).
#[component]
pub fn ApplicantDetails(
    /// The applicant.
    applicant: Applicant,
) -> impl IntoView {
    view! {
        <dl class="summary-list">
            <div>
                <dt>"お名前"</dt>
                <dd>{applicant.name.to_string()}</dd>
            </div>
            <div>
                <dt>"ご連絡先電話番号"</dt>
                <dd>{applicant.phone.to_string()}</dd>
            </div>
            <div>
                <dt>"ご連絡先メールアドレス"</dt>
                <dd>{applicant.email.map(|e| e.to_string()).unwrap_or_else(|| "（なし）".into())}</dd>
            </div>
            <div>
                <dt>"工事完了通知メール"</dt>
                <dd>{if applicant.wants_mail { "希望する" } else { "希望しない" }}</dd>
            </div>
        </dl>
    }
}
