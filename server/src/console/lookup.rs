//! What every operator may look at: an application by its ID, a line by
//! its customer ID, the mails and provider events waiting, and the log.
//! Each lookup is logged before its answer is sent.

use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use shared::domain::{ApplicationId, ApplicationState, CustomerId, FieldError};

use super::view::{self, details, reason_form};
use super::{ConsoleError, LoggedIn, Query, St, at};
use crate::store::operators::{ActionFilter, ActionKind, OperatorRole, valid_operator_name};
use crate::store::{ApplicationRecord, OutboxRecord};

/// How many actions one page of 「操作履歴」 lists.
const ACTIONS_PER_PAGE: usize = 50;
/// How many of a line's disclosures its page lists.
const DISCLOSURES_SHOWN: u64 = 50;

fn search_forms(application: &str, line: &str) -> Markup {
    html! {
        div class="searches" {
            form method="get" action="/console/applications" class="search" role="search" aria-label="申込照会" {
                (view::field("id", "お申し込みID", "text", application,
                    Some("16桁の数字です（例：2026120100000013）。空白やハイフンがあっても構いません。"), "off"))
                button type="submit" { "申込を照会" }
            }
            form method="get" action="/console/lines" class="search" role="search" aria-label="回線照会" {
                (view::field("customer_id", "お客さまID", "text", line,
                    Some("「CAF」に続く10桁の数字です（例：CAF0000000001）。全角でも構いません。"), "off"))
                button type="submit" { "回線を照会" }
            }
        }
    }
}

/// `GET /console/`.
pub async fn home(me: LoggedIn) -> Markup {
    view::page(
        "照会",
        Some(&me.nav()),
        false,
        html! {
            p { "お問い合わせの際に、お申し込みIDまたはお客さまIDで照会します。照会した内容は操作履歴に記録されます。" }
            (search_forms("", ""))
        },
    )
}

/// The application lookup's query.
#[derive(Debug, Deserialize)]
pub struct ApplicationQuery {
    #[serde(default)]
    id: String,
}

/// `GET /console/applications?id=…`: the application, or, for an ID with
/// one wrong digit, the existing IDs one digit away.
pub async fn application(
    axum::extract::State(state): St,
    me: LoggedIn,
    Query(query): Query<ApplicationQuery>,
) -> Result<Response, ConsoleError> {
    let typed = query.id.trim().to_owned();
    let nav = me.nav();
    let page = |error: bool, body: Markup| {
        view::page(
            "申込照会",
            Some(&nav),
            error,
            html! { (search_forms(&typed, "")) (body) },
        )
        .into_response()
    };
    if typed.is_empty() {
        return Ok(page(false, html! {}));
    }
    // Logged when what was typed finds no application: a wrong check
    // digit, or no application with the ID.
    let not_found = || {
        me.record(
            &state,
            None,
            ActionKind::ApplicationNotFound {
                query: typed.clone(),
            },
        )
    };
    let id = match ApplicationId::parse(&typed) {
        Ok(id) => id,
        Err(FieldError::ApplicationIdCheckDigit) => {
            let mut near = Vec::new();
            for candidate in ApplicationId::one_digit_away(&typed) {
                if let Some(found) = state.store.application(candidate).await? {
                    near.push(found);
                }
            }
            not_found().await?;
            return Ok(page(
                true,
                html! {
                    (view::alert(html! { "お申し込みID「" (typed) "」は確認用の数字（最後の桁）が合いません。どこか1桁を聞き間違えているかもしれません。" }))
                    @if near.is_empty() {
                        p { "1桁違いのお申し込みIDで、受け付けた申込はありません。お客さまにもう一度お申し込みIDをお伺いください。" }
                    } @else {
                        h2 { "1桁違いで存在するお申し込みID" }
                        p { "お客さまに受付日時をお伺いして、どれか確かめてください。" }
                        (view::table(&["お申し込みID", "受付日時", "状態"], html! {
                                @for a in &near {
                                    tr {
                                        td { a href={ "/console/applications?id=" (a.id) } { (a.id) } }
                                        td { (at(a.received_at)) }
                                        td { (a.state.label()) }
                                    }
                                }
                            }))
                    }
                },
            ));
        }
        Err(e) => {
            return Ok(page(true, view::alert(html! { (e.to_string()) })));
        }
    };
    let Some(record) = state.store.application(id).await? else {
        not_found().await?;
        return Ok(page(
            false,
            html! { p role="status" { "お申し込みID「" (id) "」の申込はありません。" } },
        ));
    };
    me.record(
        &state,
        Some(record.customer_id.clone()),
        ActionKind::ApplicationViewed { application_id: id },
    )
    .await?;
    let outbox = state
        .store
        .outbox()
        .await?
        .into_iter()
        .find(|(waiting, _)| *waiting == id)
        .map(|(_, mail)| mail);
    Ok(page(false, application_details(&record, outbox.as_ref())))
}

fn mail_status(record: &ApplicationRecord, outbox: Option<&OutboxRecord>) -> Markup {
    html! {
        @if !record.applicant.wants_mail {
            "希望しない"
        } @else if let Some(sent) = record.mail_sent_at {
            "送信済み（" (at(sent)) "）"
        } @else if let Some(mail) = outbox {
            "送信待ち（失敗 " (mail.attempts) " 回、次回 " (at(mail.next_attempt_at)) "）"
            @if let Some(error) = &mail.last_error { br; "最後のエラー：" (error) }
        } @else {
            "工事完了後に送信"
        }
    }
}

fn application_details(r: &ApplicationRecord, outbox: Option<&OutboxRecord>) -> Markup {
    let a = &r.applicant;
    html! {
        h2 { "申込内容" }
        (details(&[
            ("お申し込みID", html! { (r.id) }),
            ("お客さまID", html! { a href={ "/console/lines?customer_id=" (r.customer_id) } { (r.customer_id) } }),
            ("受付日時", html! { (at(r.received_at)) }),
            ("状態", html! { (r.state.label()) }),
            ("工事完了予定日時", html! { (at(r.expected_done_at)) }),
            ("同意書", html! { (r.consent_version) }),
        ]))
        h2 { "変更内容" }
        (view::table(&["サービス名", "サービス提供者", "通知設定"], html! {
                @for c in &r.changes {
                    tr { td { (c.service_name) } td { (c.provider_name) " (" (c.provider) ")" } td { (c.setting.label()) } }
                }
            }))
        h2 { "申込者情報" }
        (details(&[
            ("お名前", html! { (a.name) }),
            ("ご連絡先電話番号", html! { (a.phone) }),
            ("ご連絡先メールアドレス", html! { (a.email.as_ref().map(ToString::to_string).unwrap_or_else(|| "（なし）".into())) }),
            ("工事完了通知メール", mail_status(r, outbox)),
        ]))
        h2 { "状態の履歴" }
        (view::table(&["状態", "日時"], html! {
                tr { td { (ApplicationState::Received.label()) } td { (at(r.received_at)) } }
                @if r.state != ApplicationState::Received {
                    tr { td { (ApplicationState::InProgress.label()) } td { (at(r.received_at)) } }
                }
                @if let Some(done) = r.completed_at {
                    tr { td { (ApplicationState::Completed.label()) } td { (at(done)) } }
                }
            }))
    }
}

/// The line lookup's query.
#[derive(Debug, Deserialize)]
pub struct LineQuery {
    #[serde(default)]
    customer_id: String,
}

/// `GET /console/lines?customer_id=…`: the line's settings, pending
/// changes, applications, disclosures, prefixes and lockout.
pub async fn line(
    axum::extract::State(state): St,
    me: LoggedIn,
    Query(query): Query<LineQuery>,
) -> Result<Response, ConsoleError> {
    let typed = query.customer_id.trim().to_owned();
    let nav = me.nav();
    let page = |error: bool, body: Markup| {
        view::page(
            "回線照会",
            Some(&nav),
            error,
            html! { (search_forms("", &typed)) (body) },
        )
        .into_response()
    };
    if typed.is_empty() {
        return Ok(page(false, html! {}));
    }
    let id = match CustomerId::parse(&typed) {
        Ok(id) => id,
        Err(e) => {
            return Ok(page(
                true,
                view::alert(html! { (e.to_string().replace("フレッツナンバー", "お客さまID")) }),
            ));
        }
    };
    let store = &state.store;
    if store.line(&id).await?.is_none() {
        me.record(&state, Some(id.clone()), ActionKind::LineNotFound)
            .await?;
        return Ok(page(
            false,
            html! { p role="status" { "お客さまID「" (id) "」の回線はありません。" } },
        ));
    }
    me.record(&state, Some(id.clone()), ActionKind::LineViewed)
        .await?;
    let settings = store.line_settings(&id).await?;
    let (_, providers) = store.providers().await?;
    let name_of = |code: &shared::domain::ProviderCode| {
        providers
            .binary_search_by(|(c, _)| c.cmp(code))
            .ok()
            .map(|i| &providers[i].1)
    };
    let applications = store.line_applications(&id).await?;
    let disclosures = store.line_disclosures(&id, 0, DISCLOSURES_SHOWN).await?;
    let failures = store.login_failures(&id).await?;
    let prefixes = store.line_prefixes(&id).await?;
    let now = crate::state::now();
    let locked = failures
        .as_ref()
        .and_then(|f| f.locked_until)
        .filter(|until| *until > now);
    let body = html! {
        h2 { "回線" }
        (details(&[
            ("お客さまID", html! { (id) }),
            ("ロック", html! {
                @if let Some(until) = locked { "ロック中（" (at(until)) "まで）" } @else { "ロックなし" }
            }),
            ("連続したログインの失敗", html! {
                @match &failures {
                    Some(f) => {
                        @if f.count == 0 && f.locked_until.is_some() { "ロックの後はなし" } @else { (f.count) " 回" }
                        "（最後の失敗：" (at(f.last_at)) "）"
                    }
                    None => "なし",
                }
            }),
        ]))
        @if me.operator.role == OperatorRole::Admin && failures.is_some() {
            (reason_form(&format!("/console/lines/{id}/unlock"), &me.session.csrf,
                "unlock-reason", "ロック解除の理由", "ロックを解除する"))
        }
        h2 { "通知設定" }
        @if settings.settings.is_empty() && settings.pending.is_empty() {
            p { "通知設定はありません（すべて「通知しない」）。" }
        } @else {
            (view::table(&["サービス名", "サービス提供者", "通知設定", "設定日", "設定方法", "変更中の申込", "最終通知日時"], html! {
                    @for (code, s) in &settings.settings {
                        tr {
                            td { (name_of(code).map_or("", |p| p.service_name.as_str())) }
                            td { (name_of(code).map_or("", |p| p.name.as_str())) " (" (code) ")" }
                            td { (s.setting.label()) }
                            td { (s.set_on.display_jp()) }
                            td { (s.method.as_str()) }
                            td { @if let Some((_, app)) = settings.pending.iter().find(|(c, _)| c == code) {
                                a href={ "/console/applications?id=" (app) } { (app) }
                            } }
                            td { @if let Some(t) = settings.last_disclosed_to(code) { (at(t)) } }
                        }
                    }
                    @for (code, app) in settings.pending.iter().filter(|(c, _)| !settings.settings.iter().any(|(s, _)| s == c)) {
                        tr {
                            td { (name_of(code).map_or("", |p| p.service_name.as_str())) }
                            td { (name_of(code).map_or("", |p| p.name.as_str())) " (" (code) ")" }
                            td { "通知しない" } td {} td {}
                            td { a href={ "/console/applications?id=" (app) } { (app) } }
                            td { @if let Some(t) = settings.last_disclosed_to(code) { (at(t)) } }
                        }
                    }
                }))
        }
        h2 { "申込" }
        @if applications.is_empty() { p { "申込はありません。" } } @else {
            (view::table(&["お申し込みID", "受付日時", "状態", "変更内容"], html! {
                    @for a in &applications {
                        tr {
                            td { a href={ "/console/applications?id=" (a.id) } { (a.id) } }
                            td { (at(a.received_at)) }
                            td { (a.state.label()) }
                            td { @for c in &a.changes { (c.service_name) "：" (c.setting.label()) br; } }
                        }
                    }
                }))
        }
        h2 { "通知履歴" }
        p { "お客さまIDを通知した記録（全 " (disclosures.total) " 件、新しい順に最大 " (DISCLOSURES_SHOWN) " 件）" }
        @if !disclosures.items.is_empty() {
            (view::table(&["通知日時", "通知先", "理由"], html! {
                    @for d in &disclosures.items {
                        tr {
                            td { (at(d.at)) }
                            td { (name_of(&d.provider).map_or("", |p| p.name.as_str())) " (" (d.provider) ")" }
                            td { (d.reason.label()) }
                        }
                    }
                }))
        }
        h2 { "IPv6プレフィックス" }
        @if prefixes.is_empty() { p { "割り当ての記録はありません。" } } @else {
            (view::table(&["プレフィックス", "開始", "終了"], html! {
                    @for p in &prefixes {
                        tr { td { (p.prefix) } td { (at(p.from)) } td { @if let Some(u) = p.until { (at(u)) } @else { "（使用中）" } } }
                    }
                }))
        }
    };
    Ok(page(false, body))
}

/// `columns`, and 「再送」 for an admin.
fn with_retry<'a>(admin: bool, columns: &[&'a str]) -> Vec<&'a str> {
    let mut all = columns.to_vec();
    if admin {
        all.push("再送");
    }
    all
}

/// `GET /console/outbox`: the completion mails waiting, with their
/// attempts and last error.
pub async fn outbox(axum::extract::State(state): St, me: LoggedIn) -> Result<Markup, ConsoleError> {
    me.record(&state, None, ActionKind::OutboxViewed).await?;
    let waiting = state.store.outbox().await?;
    let admin = me.operator.role == OperatorRole::Admin;
    Ok(view::page(
        "メール送信待ち",
        Some(&me.nav()),
        false,
        html! {
            p { "まだ送信できていない工事完了通知メールです（全 " (waiting.len()) " 件）。" }
            @if !waiting.is_empty() {
                (view::table(&with_retry(admin, &["お申し込みID", "失敗した回数", "次回の送信", "最後のエラー"]), html! {
                        @for (id, mail) in &waiting {
                            tr {
                                td { a href={ "/console/applications?id=" (id) } { (id) } }
                                td { (mail.attempts) }
                                td { (at(mail.next_attempt_at)) }
                                td { (mail.last_error.as_deref().unwrap_or("")) }
                                @if admin {
                                    td { (reason_form(&format!("/console/outbox/{id}/retry"), &me.session.csrf,
                                        &format!("retry-{id}"), &format!("{id}の再送理由"), "今すぐ再送")) }
                                }
                            }
                        }
                    }))
            }
        },
    ))
}

/// `GET /console/events`: the provider events waiting or failing.
pub async fn events(axum::extract::State(state): St, me: LoggedIn) -> Result<Markup, ConsoleError> {
    me.record(&state, None, ActionKind::EventsViewed).await?;
    let waiting = state.store.undelivered_events().await?;
    let admin = me.operator.role == OperatorRole::Admin;
    Ok(view::page(
        "通知イベント",
        Some(&me.nav()),
        false,
        html! {
            p { "サービス提供者にまだ届けられていない通知イベントです（全 " (waiting.len()) " 件）。" }
            @if !waiting.is_empty() {
                (view::table(&with_retry(admin, &["通知先", "番号", "種類", "お客さまID", "失敗した回数", "次回の送信", "最後のエラー"]), html! {
                        @for (e, d) in &waiting {
                            tr {
                                td { (e.provider) }
                                td { (e.sequence) }
                                td { @match e.kind {
                                    crate::store::EventKind::Granted => "通知する（notification.granted）",
                                    crate::store::EventKind::Revoked => "通知しない（notification.revoked）",
                                } }
                                td { a href={ "/console/lines?customer_id=" (e.customer_id) } { (e.customer_id) } }
                                td { (d.attempts) }
                                td { (at(d.next_attempt_at)) }
                                td { (d.last_error.as_deref().unwrap_or("")) }
                                @if admin {
                                    td { (reason_form(&format!("/console/events/{}/{}/retry", e.provider, e.sequence),
                                        &me.session.csrf, &format!("retry-{}-{}", e.provider, e.sequence),
                                        &format!("{} {}番の再送理由", e.provider, e.sequence), "今すぐ再送")) }
                                }
                            }
                        }
                    }))
            }
        },
    ))
}

/// 「操作履歴」's filters.
#[derive(Debug, Deserialize)]
pub struct ActionsQuery {
    #[serde(default)]
    operator: String,
    #[serde(default)]
    customer_id: String,
    #[serde(default)]
    before: Option<u64>,
}

fn action_detail(kind: &ActionKind) -> Markup {
    html! {
        @match kind {
            ActionKind::OperatorAdded { name, role } => { (name) "（" (role.label()) "）" }
            ActionKind::OperatorDisabled { name } => { (name) }
            ActionKind::ApplicationViewed { application_id } => { (application_id) }
            ActionKind::ApplicationNotFound { query } => { "「" (query) "」" }
            ActionKind::LineUnlocked { reason } => { "理由：" (reason) }
            ActionKind::MailRetried { application_id, reason } => { (application_id) "　理由：" (reason) }
            ActionKind::EventRetried { provider, sequence, reason } => { (provider) " " (sequence) "番　理由：" (reason) }
            _ => {}
        }
    }
}

/// `GET /console/actions`: 「操作履歴」, newest first, filterable by
/// operator and by customer ID. Read-only: nothing here changes it.
pub async fn actions(
    axum::extract::State(state): St,
    me: LoggedIn,
    Query(query): Query<ActionsQuery>,
) -> Result<Markup, ConsoleError> {
    let operator = query.operator.trim().to_ascii_lowercase();
    let customer = query.customer_id.trim().to_owned();
    let mut errors = Vec::new();
    if !operator.is_empty() && !valid_operator_name(&operator) {
        errors.push(format!(
            "オペレーター名「{operator}」は登録できない名前です"
        ));
    }
    let customer_id = if customer.is_empty() {
        None
    } else {
        match CustomerId::parse(&customer) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(
                    "お客さまIDは「CAF」に続けて10桁の数字で入力してください（例：CAF0000000001）"
                        .to_owned(),
                );
                None
            }
        }
    };
    let found = if errors.is_empty() {
        state
            .store
            .actions(&ActionFilter {
                operator: (!operator.is_empty()).then(|| operator.clone()),
                customer_id: customer_id.clone(),
                before: query.before,
                limit: ACTIONS_PER_PAGE,
            })
            .await?
    } else {
        Vec::new()
    };
    let older = (found.len() == ACTIONS_PER_PAGE)
        .then(|| found.last().map(|a| a.id))
        .flatten();
    let older_link = older.map(|before| {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        url.append_pair("operator", &operator);
        url.append_pair(
            "customer_id",
            customer_id.as_ref().map_or("", CustomerId::as_str),
        );
        url.append_pair("before", &before.to_string());
        format!("/console/actions?{}", url.finish())
    });
    Ok(view::page(
        "操作履歴",
        Some(&me.nav()),
        !errors.is_empty(),
        html! {
            (view::error_summary(&errors))
            p { "オペレーターのすべての操作の記録です。照会した内容も記録されます。この記録は変更も削除もできません。" }
            form method="get" action="/console/actions" class="search" role="search" aria-label="操作履歴の絞り込み" {
                (view::field("operator", "オペレーター名", "text", &operator, None, "off"))
                (view::field("customer_id", "お客さまID", "text", &customer, None, "off"))
                button type="submit" { "絞り込む" }
            }
            @if found.is_empty() && errors.is_empty() {
                p role="status" { "該当する操作はありません。" }
            } @else if !found.is_empty() {
                (view::table(&["番号", "日時", "オペレーター", "操作", "お客さまID", "内容", "接続元"], html! {
                        @for a in &found {
                            tr {
                                td { (a.id) }
                                td { (at(a.action.at)) }
                                td { (a.action.operator) }
                                td { (a.action.kind.label()) }
                                td { @if let Some(id) = &a.action.customer_id { (id) } }
                                td { (action_detail(&a.action.kind)) }
                                td { @if let Some(addr) = a.action.address { (addr) } }
                            }
                        }
                    }))
                @if let Some(link) = older_link { p { a href=(link) { "さらに古い操作" } } }
            }
        },
    ))
}
