//! What only admins do: unlock a customer ID, retry a delivery now, and
//! manage operator accounts. Each asks for a reason (accounts aside) and
//! is logged before it is done.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use shared::domain::{ApplicationId, CustomerId, ProviderCode};

use super::view::{self, csrf, error_summary};
use super::{ConsoleError, Form, LoggedIn, St, accounts, at};
use crate::state::now;
use crate::store::operators::{ActionKind, OperatorRole};

/// The longest reason kept.
const MAX_REASON: usize = 200;

/// An admin action's form.
#[derive(Debug, Deserialize)]
pub struct ReasonForm {
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// The reason given, or the page that asks for one (the token and the
/// role are checked before).
fn reasoned(
    me: &LoggedIn,
    form: &ReasonForm,
    back: &str,
) -> Result<Result<String, Response>, ConsoleError> {
    me.check_csrf(&form.csrf)?;
    me.require_admin()?;
    let reason = form.reason.trim();
    if reason.is_empty()
        || reason.chars().count() > MAX_REASON
        || reason.chars().any(char::is_control)
    {
        let message = format!("理由を{MAX_REASON}文字以内で入力してください（改行は使えません）");
        return Ok(Err((
            axum::http::StatusCode::BAD_REQUEST,
            view::page(
                "操作を受け付けられませんでした",
                Some(&me.nav()),
                true,
                html! {
                    (error_summary(&[message]))
                    p { a href=(back) { "戻る" } }
                },
            ),
        )
            .into_response()));
    }
    Ok(Ok(reason.to_owned()))
}

fn done(me: &LoggedIn, title: &str, message: &str, back: &str, back_label: &str) -> Response {
    view::page(
        title,
        Some(&me.nav()),
        false,
        html! {
            (view::notice(message))
            p { a href=(back) { (back_label) } }
        },
    )
    .into_response()
}

/// `POST /console/lines/{customer_id}/unlock`.
pub async fn unlock(
    State(state): St,
    me: LoggedIn,
    Path(customer_id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> Result<Response, ConsoleError> {
    me.check_csrf(&form.csrf)?;
    me.require_admin()?;
    let id = CustomerId::parse(&customer_id).map_err(|_| ConsoleError::NotFound)?;
    let back = format!("/console/lines?customer_id={id}");
    let reason = match reasoned(&me, &form, &back)? {
        Ok(reason) => reason,
        Err(page) => return Ok(page),
    };
    me.record(
        &state,
        Some(id.clone()),
        ActionKind::LineUnlocked { reason },
    )
    .await?;
    let unlocked = state.store.unlock_line(&id).await?;
    // This process's window of the line's logins too, so that the
    // subscriber on the telephone can log in at once (other processes'
    // windows run out within `--login-window`).
    state.login_limits.per_line.forget(&id);
    let message = if unlocked {
        format!("お客さまID「{id}」のロックを解除し、ログインの失敗回数を0に戻しました。")
    } else {
        format!("お客さまID「{id}」はロックされていませんでした。")
    };
    Ok(done(&me, "ロック解除", &message, &back, "回線照会に戻る"))
}

/// `POST /console/outbox/{application_id}/retry`.
pub async fn retry_mail(
    State(state): St,
    me: LoggedIn,
    Path(application_id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> Result<Response, ConsoleError> {
    me.check_csrf(&form.csrf)?;
    me.require_admin()?;
    let id = ApplicationId::parse(&application_id).map_err(|_| ConsoleError::NotFound)?;
    let reason = match reasoned(&me, &form, "/console/outbox")? {
        Ok(reason) => reason,
        Err(page) => return Ok(page),
    };
    let customer = state.store.application(id).await?.map(|a| a.customer_id);
    me.record(
        &state,
        customer,
        ActionKind::MailRetried {
            application_id: id,
            reason,
        },
    )
    .await?;
    let queued = state.store.retry_mail_now(id, now()).await?;
    if queued {
        state.mail_queued.notify_one();
    }
    let message = if queued {
        format!("お申し込みID「{id}」の工事完了通知メールを、今すぐ送信し直します。")
    } else {
        format!(
            "お申し込みID「{id}」の送信待ちのメールはありません（送信済みか、まだ工事中です）。"
        )
    };
    Ok(done(
        &me,
        "メールの再送",
        &message,
        "/console/outbox",
        "メール送信待ちに戻る",
    ))
}

/// `POST /console/events/{provider}/{sequence}/retry`.
pub async fn retry_event(
    State(state): St,
    me: LoggedIn,
    Path((provider, sequence)): Path<(String, String)>,
    Form(form): Form<ReasonForm>,
) -> Result<Response, ConsoleError> {
    me.check_csrf(&form.csrf)?;
    me.require_admin()?;
    let provider = ProviderCode::parse(&provider).map_err(|_| ConsoleError::NotFound)?;
    let sequence: u64 = sequence.parse().map_err(|_| ConsoleError::NotFound)?;
    let reason = match reasoned(&me, &form, "/console/events")? {
        Ok(reason) => reason,
        Err(page) => return Ok(page),
    };
    let customer = state
        .store
        .provider_events(&provider, sequence.saturating_sub(1), 1)
        .await?
        .into_iter()
        .find(|e| e.sequence == sequence)
        .map(|e| e.customer_id);
    me.record(
        &state,
        customer,
        ActionKind::EventRetried {
            provider: provider.clone(),
            sequence,
            reason,
        },
    )
    .await?;
    let queued = state
        .store
        .retry_event_now(&provider, sequence, now())
        .await?;
    if queued {
        state.events_queued.notify_one();
    }
    let message = if queued {
        format!("{provider} の {sequence} 番の通知イベントを、今すぐ送信し直します。")
    } else {
        format!(
            "{provider} の {sequence} 番の通知イベントは送信待ちではありません（届け済みか、ありません）。"
        )
    };
    Ok(done(
        &me,
        "通知イベントの再送",
        &message,
        "/console/events",
        "通知イベントに戻る",
    ))
}

fn operators_view(
    me: &LoggedIn,
    list: &[crate::store::operators::OperatorRecord],
    errors: &[String],
    added: Option<(&str, &str)>,
) -> Markup {
    view::page(
        "オペレーター管理",
        Some(&me.nav()),
        !errors.is_empty(),
        html! {
            (error_summary(errors))
            @if let Some((name, password)) = added {
                div class="notice" role="status" {
                    p { "オペレーター「" (name) "」を追加しました。仮パスワードは次のとおりです。この画面を閉じると二度と表示されません。本人に安全な方法で伝えてください。" }
                    p { "仮パスワード：" code class="secret" { (password) } }
                }
            }
            (view::table(&["オペレーター名", "権限", "状態", "登録日時", "操作"], html! {
                    @for o in list {
                        tr {
                            td { (o.name) }
                            td { (o.role.label()) }
                            td {
                                @if o.disabled { "無効" }
                                @else if o.is_locked(now()) { "ロック中" }
                                @else if o.password_temporary || o.totp_secret.is_none() { "初回設定待ち" }
                                @else { "有効" }
                            }
                            td { (at(o.created_at)) }
                            td {
                                @if !o.disabled && o.name != me.operator.name {
                                    form method="post" action={ "/console/operators/" (o.name) "/disable" } {
                                        (csrf(&me.session.csrf))
                                        button type="submit" class="secondary" aria-label={ (o.name) "を無効にする" } { "無効にする" }
                                    }
                                }
                            }
                        }
                    }
                }))
            h2 { "オペレーターの追加" }
            form method="post" action="/console/operators" class="stack" {
                (csrf(&me.session.csrf))
                (view::field("name", "オペレーター名", "text", "", Some("半角英小文字・数字・「.」「_」「-」の32文字以内です（例：sato.hanako）。"), "off"))
                div class="field" {
                    label for="role" { "権限" }
                    select id="role" name="role" {
                        option value="viewer" selected { (OperatorRole::Viewer.label()) }
                        option value="admin" { (OperatorRole::Admin.label()) }
                    }
                }
                button type="submit" { "追加する" }
            }
        },
    )
}

/// `GET /console/operators`.
pub async fn operators_page(State(state): St, me: LoggedIn) -> Result<Markup, ConsoleError> {
    me.require_admin()?;
    let list = state.store.operators().await?;
    Ok(operators_view(&me, &list, &[], None))
}

/// The add form.
#[derive(Debug, Deserialize)]
pub struct AddForm {
    csrf: String,
    #[serde(default)]
    name: String,
    role: OperatorRole,
}

/// `POST /console/operators`: makes an account and shows its one-time
/// password once.
pub async fn add_operator(
    State(state): St,
    me: LoggedIn,
    Form(form): Form<AddForm>,
) -> Result<Response, ConsoleError> {
    me.check_csrf(&form.csrf)?;
    me.require_admin()?;
    let name = form.name.trim().to_ascii_lowercase();
    let added = accounts::add(&state.store, &name, form.role, &me.operator.name, now()).await;
    let list = state.store.operators().await?;
    match added {
        Ok(password) => {
            Ok(operators_view(&me, &list, &[], Some((&name, &password))).into_response())
        }
        Err(accounts::AccountError::Store(e)) => Err(e.into()),
        Err(accounts::AccountError::Hashing(e)) => Err(ConsoleError::Internal(e)),
        Err(e) => Ok((
            axum::http::StatusCode::BAD_REQUEST,
            operators_view(&me, &list, &[e.to_string()], None),
        )
            .into_response()),
    }
}

/// The disable form.
#[derive(Debug, Deserialize)]
pub struct DisableForm {
    csrf: String,
}

/// `POST /console/operators/{name}/disable`.
pub async fn disable_operator(
    State(state): St,
    me: LoggedIn,
    Path(name): Path<String>,
    Form(form): Form<DisableForm>,
) -> Result<Response, ConsoleError> {
    me.check_csrf(&form.csrf)?;
    me.require_admin()?;
    if name == me.operator.name {
        return Err(ConsoleError::BadRequest(
            "an admin cannot disable themself".into(),
        ));
    }
    match accounts::disable(&state.store, &name, &me.operator.name, now()).await {
        Ok(()) => Ok(done(
            &me,
            "オペレーター管理",
            &format!(
                "オペレーター「{name}」を無効にしました。ログイン中のセッションも終了します。"
            ),
            "/console/operators",
            "オペレーター管理に戻る",
        )),
        Err(accounts::AccountError::Unknown(_)) => Err(ConsoleError::NotFound),
        Err(accounts::AccountError::Store(e)) => Err(e.into()),
        Err(e) => Err(ConsoleError::Internal(e.to_string())),
    }
}
