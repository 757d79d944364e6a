//! The console's page layout and the pieces its pages share.

use maud::{DOCTYPE, Markup, html};

use crate::store::operators::OperatorRole;

/// What the layout shows of a logged-in operator.
pub struct Nav<'a> {
    /// The operator's name.
    pub operator: &'a str,
    /// The operator's role.
    pub role: OperatorRole,
    /// The session's CSRF token, for the logout form.
    pub csrf: &'a str,
}

/// The console's name, in every title.
const CONSOLE: &str = "回線情報通知 オペレーターコンソール";

/// A whole page: `title` (prefixed 「エラー：」 when `error`), the
/// navigation when logged in, and `body` under an `h1` of `title`.
pub fn page(title: &str, nav: Option<&Nav<'_>>, error: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ja" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { @if error { "エラー：" } (title) " | " (CONSOLE) }
                link rel="stylesheet" href="/console/console.css";
            }
            body {
                a class="skip" href="#main" { "本文へ移動" }
                header class="top" {
                    p class="brand" { (CONSOLE) }
                    @if let Some(nav) = nav {
                        nav aria-label="コンソールのメニュー" {
                            ul {
                                li { a href="/console/" { "照会" } }
                                li { a href="/console/outbox" { "メール送信待ち" } }
                                li { a href="/console/events" { "通知イベント" } }
                                li { a href="/console/actions" { "操作履歴" } }
                                @if nav.role == OperatorRole::Admin {
                                    li { a href="/console/operators" { "オペレーター管理" } }
                                }
                            }
                        }
                        div class="who" {
                            span { (nav.operator) "（" (nav.role.label()) "）" }
                            form method="post" action="/console/logout" {
                                (csrf(nav.csrf))
                                button type="submit" class="secondary" { "ログアウト" }
                            }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page that only says something: an error's, or a notice's.
pub fn message_page(title: &str, message: &str) -> Markup {
    page(
        title,
        None,
        false,
        html! {
            p { (message) }
            p { a href="/console/" { "コンソールのトップへ戻る" } }
        },
    )
}

/// The hidden CSRF field of a form.
pub fn csrf(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// An error box at the top of a form's page, announced and focusable.
pub fn error_summary(messages: &[String]) -> Markup {
    html! {
        @if !messages.is_empty() {
            div class="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex="-1" {
                h2 id="error-summary-title" { "入力内容を確認してください" }
                ul { @for m in messages { li { (m) } } }
            }
        }
    }
}

/// A lookup's refusal, announced: what was wrong with what was typed.
pub fn alert(message: Markup) -> Markup {
    html! { div class="error-summary" role="alert" { p { (message) } } }
}

/// A notice of something done.
pub fn notice(message: &str) -> Markup {
    html! { p class="notice" role="status" { (message) } }
}

/// A labelled text field, with an optional hint.
pub fn field(
    id: &str,
    label: &str,
    kind: &str,
    value: &str,
    hint: Option<&str>,
    autocomplete: &str,
) -> Markup {
    let hint_id = format!("{id}-hint");
    html! {
        div class="field" {
            label for=(id) { (label) }
            @if let Some(hint) = hint {
                p class="hint" id=(hint_id) { (hint) }
                input id=(id) name=(id) type=(kind) value=(value)
                    autocomplete=(autocomplete) aria-describedby=(hint_id);
            } @else {
                input id=(id) name=(id) type=(kind) value=(value) autocomplete=(autocomplete);
            }
        }
    }
}

/// A definition list of label and value pairs.
pub fn details(rows: &[(&str, Markup)]) -> Markup {
    html! {
        dl class="details" {
            @for (label, value) in rows {
                div { dt { (label) } dd { (value) } }
            }
        }
    }
}

/// A form with a required reason, for an admin's action.
pub fn reason_form(action: &str, csrf_token: &str, id: &str, label: &str, button: &str) -> Markup {
    html! {
        form method="post" action=(action) class="reason" {
            (csrf(csrf_token))
            label for=(id) { (label) }
            input id=(id) name="reason" type="text" required maxlength="200" autocomplete="off";
            button type="submit" { (button) }
        }
    }
}

/// A table with a header row of `columns` and the rows `rows`.
pub fn table(columns: &[&str], rows: Markup) -> Markup {
    html! {
        table {
            thead { tr { @for c in columns { th scope="col" { (c) } } } }
            tbody { (rows) }
        }
    }
}
