//! The error summary at the top of a form (the GOV.UK / Digital Agency
//! pattern): focused when it appears, one link per field error.

use leptos::html::Div;
use leptos::prelude::*;

/// One entry: the message, and the `id` of the field it is about (none for
/// errors of the whole page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryItem {
    /// The field's element id.
    pub field_id: Option<&'static str>,
    /// The message, in the same words as at the field.
    pub message: String,
}

/// Shows the errors, if any, and takes focus when they change.
#[component]
pub fn ErrorSummary(
    /// The errors to list; nothing is shown while empty.
    #[prop(into)]
    items: Signal<Vec<SummaryItem>>,
) -> impl IntoView {
    let summary = NodeRef::<Div>::new();
    Effect::new(move |_| {
        if !items.with(Vec::is_empty)
            && let Some(el) = summary.get()
        {
            let _ = el.focus();
        }
    });
    view! {
        <Show when=move || !items.with(Vec::is_empty)>
            <div class="error-summary" role="alert" tabindex="-1" node_ref=summary>
                <h2 class="error-summary__title">"入力内容をご確認ください"</h2>
                <ul>
                    {move || {
                        items
                            .get()
                            .into_iter()
                            .map(|item| match item.field_id {
                                Some(id) => {
                                    let focus = move |ev: leptos::ev::MouseEvent| {
                                        ev.prevent_default();
                                        if let Some(el) = document().get_element_by_id(id) {
                                            use leptos::wasm_bindgen::JsCast;
                                            if let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() {
                                                let _ = el.focus();
                                            }
                                        }
                                    };
                                    view! {
                                        <li>
                                            <a href=format!("#{id}") on:click=focus>
                                                {item.message}
                                            </a>
                                        </li>
                                    }
                                        .into_any()
                                }
                                None => view! { <li>{item.message}</li> }.into_any(),
                            })
                            .collect_view()
                    }}
                </ul>
            </div>
        </Show>
    }
}
