//! A labelled text input with its required/optional mark, hint and error.

use leptos::prelude::*;

/// One text field. The label's text is exactly `label` (tests and screen
/// readers find the field by it); the mark, hint and error are tied to the
/// input with `aria-describedby`.
#[component]
pub fn TextField(
    /// The element id, also the key of the field's errors.
    id: &'static str,
    /// The label, e.g. 「お名前」.
    label: &'static str,
    /// 「※必須」 or 「※任意」.
    #[prop(into)]
    mark: Signal<&'static str>,
    /// A short hint with an example.
    hint: &'static str,
    /// The value.
    #[prop(into)]
    value: Signal<String>,
    /// Called with each new value.
    on_input: impl Fn(String) + 'static,
    /// The error message at the field, if any.
    #[prop(into)]
    error: Signal<Option<String>>,
    /// The input's `type`.
    #[prop(default = "text")]
    input_type: &'static str,
    /// The input's `autocomplete`.
    autocomplete: &'static str,
    /// The input's `inputmode`.
    #[prop(default = "text")]
    inputmode: &'static str,
) -> impl IntoView {
    let mark_id = format!("{id}-mark");
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described_by = {
        let (mark_id, hint_id, error_id) = (mark_id.clone(), hint_id.clone(), error_id.clone());
        move || {
            let mut ids = format!("{mark_id} {hint_id}");
            if error.with(Option::is_some) {
                ids.push(' ');
                ids.push_str(&error_id);
            }
            ids
        }
    };
    view! {
        <div class="field" class:field--error=move || error.with(Option::is_some)>
            <div class="field__label-row">
                <label class="field__label" for=id>
                    {label}
                </label>
                <span
                    id=mark_id
                    class="field__mark"
                    class:field__mark--required=move || mark.get() == "※必須"
                >
                    {move || mark.get()}
                </span>
            </div>
            <p id=hint_id class="field__hint">
                {hint_with_example(hint)}
            </p>
            {move || {
                error
                    .get()
                    .map(|message| {
                        view! {
                            <p id=error_id.clone() class="field__error">
                                {message}
                            </p>
                        }
                    })
            }}
            <input
                id=id
                name=id
                type=input_type
                class="field__input"
                autocomplete=autocomplete
                inputmode=inputmode
                aria-invalid=move || if error.with(Option::is_some) { "true" } else { "false" }
                aria-describedby=described_by
                prop:value=move || value.get()
                on:input=move |ev| on_input(event_target_value(&ev))
            />
        </div>
    }
}

/// The hint, its example 「（例：…）」 kept on one line (a telephone number
/// or an address broken at a hyphen misleads).
fn hint_with_example(hint: &'static str) -> impl IntoView {
    let parts = hint.split_once("（例：").and_then(|(before, rest)| {
        let (example, after) = rest.split_once('）')?;
        Some((before, example, after))
    });
    match parts {
        Some((before, example, after)) => view! {
            {before}
            <span class="field__example">{format!("（例：{example}）")}</span>
            {after}
        }
        .into_any(),
        None => hint.into_any(),
    }
}
