//! S5: the applicant's details, checked by the shared rules on 「次へ」.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use shared::domain::{ApplicantField, ApplicantForm, Rules};
use shared::draft::Step;

use super::{browser_nfkc, new_idempotency_key, use_step_guard};
use crate::Page;
use crate::components::{ErrorSummary, SessionShell, SummaryItem, TextField};
use crate::portal::Portal;

/// S5 回線情報通知 申込者情報入力.
#[component]
pub fn ApplicantStep() -> impl IntoView {
    if !use_step_guard(Step::Applicant) {
        return ().into_any();
    }
    let portal = expect_context::<Portal>();
    let navigate = use_navigate();
    let draft = portal.draft();
    let errors = RwSignal::new(Vec::<(ApplicantField, String)>::new());

    let next = {
        let navigate = navigate.clone();
        move |ev: SubmitEvent| {
            ev.prevent_default();
            let form = draft.with_untracked(|d| d.form.clone());
            match form.validate(&Rules::new(browser_nfkc)) {
                Ok(applicant) => {
                    errors.set(Vec::new());
                    draft.update(|d| d.accept_applicant(applicant, new_idempotency_key));
                    navigate(&Page::Confirm.path(), NavigateOptions::default());
                }
                Err(field_errors) => {
                    errors.set(
                        field_errors
                            .into_iter()
                            .map(|(f, e)| (f, e.to_string()))
                            .collect(),
                    );
                }
            }
        }
    };
    let back = move |_| navigate(&Page::Consent.path(), NavigateOptions::default());

    let summary = Signal::derive(move || {
        errors.with(|e| {
            e.iter()
                .map(|(f, m)| SummaryItem {
                    field_id: Some(field_id(*f)),
                    message: m.clone(),
                })
                .collect()
        })
    });
    let error_of = move |field: ApplicantField| {
        Signal::derive(move || {
            errors.with(|e| e.iter().find(|(f, _)| *f == field).map(|(_, m)| m.clone()))
        })
    };
    let value_of = move |get: fn(&ApplicantForm) -> &String| {
        Signal::derive(move || draft.with(|d| get(&d.form).clone()))
    };
    let edit = move |set: fn(&mut ApplicantForm, String)| {
        move |v: String| draft.update(|d| d.edit_form(|f| set(f, v)))
    };
    let wants_mail = move || draft.with(|d| d.form.wants_mail);
    let choose =
        move |wish: bool| move |_| draft.update(|d| d.edit_form(|f| f.wants_mail = Some(wish)));
    let mail_error = error_of(ApplicantField::WantsMail);

    view! {
        <SessionShell
            heading="回線情報通知 申込者情報入力"
            top_link=true
            has_error=Signal::derive(move || !errors.with(Vec::is_empty))
        >
            <ErrorSummary items=summary />
            <p class="lead">"お申し込みになる方の情報を入力して、「次へ」を押してください。"</p>
            <form class="form" on:submit=next novalidate>
                <TextField
                    id="name"
                    label="お名前"
                    mark="※必須"
                    hint="30文字以内（例：山田 太郎）。①や㈱などの機種依存文字は使えません"
                    value=value_of(|f| &f.name)
                    on_input=edit(|f, v| f.name = v)
                    error=error_of(ApplicantField::Name)
                    autocomplete="name"
                />
                <TextField
                    id="phone"
                    label="ご連絡先電話番号"
                    mark="※必須"
                    hint="日中に連絡がとれる電話番号（例：03-1234-5678）"
                    value=value_of(|f| &f.phone)
                    on_input=edit(|f, v| f.phone = v)
                    error=error_of(ApplicantField::Phone)
                    input_type="tel"
                    autocomplete="tel"
                    inputmode="tel"
                />
                <TextField
                    id="email"
                    label="ご連絡先メールアドレス"
                    mark=Signal::derive(move || if wants_mail() == Some(true) { "※必須" } else { "※任意" })
                    hint="工事完了通知メールを希望する場合は必須です（例：taro@example.jp）。携帯電話会社のメールアドレスは使えません"
                    value=value_of(|f| &f.email)
                    on_input=edit(|f, v| f.email = v)
                    error=error_of(ApplicantField::Email)
                    input_type="email"
                    autocomplete="email"
                    inputmode="email"
                />
                <fieldset
                    class="field"
                    class:field--error=move || mail_error.with(Option::is_some)
                    id="wants_mail"
                    tabindex="-1"
                    aria-describedby="wants_mail-mark wants_mail-hint wants_mail-error"
                >
                    <legend class="field__label">"工事完了通知メール"</legend>
                    <span id="wants_mail-mark" class="field__mark field__mark--required">"※必須"</span>
                    <p id="wants_mail-hint" class="field__hint">"工事が完了したときにメールでお知らせします"</p>
                    {move || mail_error.get().map(|m| view! { <p id="wants_mail-error" class="field__error">{m}</p> })}
                    <div class="radios">
                        <label class="radio">
                            <input
                                type="radio"
                                name="wants_mail"
                                prop:checked=move || wants_mail() == Some(true)
                                on:change=choose(true)
                            />
                            "希望する"
                        </label>
                        <label class="radio">
                            <input
                                type="radio"
                                name="wants_mail"
                                prop:checked=move || wants_mail() == Some(false)
                                on:change=choose(false)
                            />
                            "希望しない"
                        </label>
                    </div>
                </fieldset>
                <div class="actions">
                    <button type="submit" class="button button--primary">
                        "次へ"
                    </button>
                    <button type="button" class="button" on:click=back>
                        "戻る"
                    </button>
                </div>
            </form>
        </SessionShell>
    }
    .into_any()
}

/// The element id of a field, for the summary's links.
fn field_id(field: ApplicantField) -> &'static str {
    field.key()
}
