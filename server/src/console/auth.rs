//! Logging in (password and TOTP code), the first login's setup (a new
//! password and the authenticator's enrolment), and logging out.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;

use super::view::{self, csrf, error_summary, field};
use super::{ConsoleError, Form, LoggedIn, Query, Setup, St, record, session_cookie, token, totp};
use crate::extract::ClientAddr;
use crate::state::{AppState, now};
use crate::store::operators::{
    self, ActionKind, OPERATOR_LOCK_SECS, OperatorRecord, OperatorSession,
};

/// The one message for a wrong name, password or code: it says none of
/// which.
const REFUSED: &str = "オペレーター名、パスワードまたは確認コードが正しくありません";

/// What the login page says above its form.
#[derive(Debug, Default, Deserialize)]
pub struct LoginNotice {
    /// Set after a session ran out.
    #[serde(default)]
    expired: Option<String>,
    /// Set after a logout.
    #[serde(default)]
    logged_out: Option<String>,
}

fn login_form(name: &str, errors: &[String], notice: Option<&str>) -> Markup {
    view::page(
        "オペレーターログイン",
        None,
        !errors.is_empty(),
        html! {
            (error_summary(errors))
            @if let Some(notice) = notice { (view::notice(notice)) }
            form method="post" action="/console/login" class="stack" {
                (field("name", "オペレーター名", "text", name, None, "username"))
                (field("password", "パスワード", "password", "", None, "current-password"))
                (field("code", "確認コード（6桁）", "text", "",
                    Some("認証アプリに表示される6桁の数字です。初回ログインでは空欄のままにしてください。"),
                    "one-time-code"))
                button type="submit" { "ログイン" }
            }
        },
    )
}

/// `GET /console/login`.
pub async fn login_page(Query(notice): Query<LoginNotice>) -> Markup {
    let message = if notice.expired.is_some() {
        Some("一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。")
    } else if notice.logged_out.is_some() {
        Some("ログアウトしました。")
    } else {
        None
    };
    login_form("", &[], message)
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    #[serde(default)]
    code: String,
}

/// `POST /console/login`: the password, then (once enrolled) the TOTP
/// code; a failure of either counts toward the account's lock.
pub async fn login(
    State(state): St,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Result<Response, ConsoleError> {
    let name = form.name.trim().to_ascii_lowercase();
    let refuse = |message: &str| {
        (
            axum::http::StatusCode::UNAUTHORIZED,
            login_form(&name, &[message.to_owned()], None),
        )
            .into_response()
    };
    let store = &state.store;
    let known = operators::valid_operator_name(&name);
    let account = if known {
        store.operator(&name).await?
    } else {
        None
    };
    let log_refusal = async || -> Result<(), ConsoleError> {
        if known {
            record(&state, &name, None, Some(client), ActionKind::LoginRefused).await?;
        }
        Ok(())
    };
    let at = now();
    if let Some(account) = &account
        && account.is_locked(at)
    {
        log_refusal().await?;
        return Ok(refuse(&format!(
            "ログインの失敗が続いたため、このアカウントは{}分間ロックされています。しばらくしてから、もう一度ログインしてください。",
            OPERATOR_LOCK_SECS / 60
        )));
    }
    let Some(mut slot) = state.hashing.acquire().await else {
        return Ok(refuse(
            "ただいま混み合っています。しばらくしてから、もう一度ログインしてください。",
        ));
    };
    let stored_hash = account
        .as_ref()
        .filter(|a| !a.disabled)
        .map(|a| a.password_hash.clone());
    let password = form.password.clone();
    let matches = state
        .blocking(move || {
            let hasher = slot.hasher();
            match stored_hash {
                Some(hash) => hasher.verify_secret(password.as_bytes(), &hash),
                None => hasher
                    .verify_dummy_secret(password.as_bytes())
                    .map(|()| false),
            }
            .map_err(|e| crate::error::ApiError::Internal(format!("hashing: {e}")))
        })
        .await?;
    let Some(account) = account.filter(|a| matches && !a.disabled) else {
        count_failure(&state, &name).await?;
        log_refusal().await?;
        return Ok(refuse(REFUSED));
    };
    let step = match &account.totp_secret {
        Some(secret) => {
            match totp::check(
                secret,
                &account.name,
                &form.code,
                at.unix(),
                account.totp_last_step,
            ) {
                Some(step) => Some(step),
                None => {
                    count_failure(&state, &name).await?;
                    log_refusal().await?;
                    return Ok(refuse(REFUSED));
                }
            }
        }
        None => None,
    };
    // The code's step is taken once: a second login with it loses here.
    let taken = store
        .modify_operator(&name, |current| {
            (step.is_none() || current.totp_last_step < step).then(|| OperatorRecord {
                failures: 0,
                locked_until: None,
                totp_last_step: step.or(current.totp_last_step),
                ..current.clone()
            })
        })
        .await?;
    if taken.is_none() {
        log_refusal().await?;
        return Ok(refuse(REFUSED));
    }
    if let Some(old) = jar.get(super::COOKIE) {
        store.end_operator_session(old.value()).await?;
    }
    let id = token();
    store
        .put_operator_session(
            &id,
            &OperatorSession {
                operator: name.clone(),
                csrf: token(),
                created_at: at,
                last_seen: at,
                enrolling: None,
            },
        )
        .await?;
    record(&state, &name, None, Some(client), ActionKind::LoggedIn).await?;
    let jar = jar.add(session_cookie(&state, id));
    Ok((jar, Redirect::to("/console/")).into_response())
}

/// Counts a failed login of the account `name`, if it exists, locking it
/// at the limit.
async fn count_failure(state: &AppState, name: &str) -> Result<(), ConsoleError> {
    state
        .store
        .modify_operator(name, |account| {
            Some(operators::after_operator_failure(account, now()))
        })
        .await?;
    Ok(())
}

/// The logout form's fields.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    csrf: String,
}

/// `POST /console/logout`.
pub async fn logout(
    State(state): St,
    Setup(me): Setup,
    jar: CookieJar,
    Form(form): Form<TokenForm>,
) -> Result<Response, ConsoleError> {
    me.check_csrf(&form.csrf)?;
    state.store.end_operator_session(&me.id).await?;
    me.record(&state, None, ActionKind::LoggedOut).await?;
    let jar = jar.remove(session_cookie(&state, String::new()));
    Ok((jar, Redirect::to("/console/login?logged_out=1")).into_response())
}

fn setup_form(me: &LoggedIn, secret: Option<&str>, errors: &[String]) -> Markup {
    let temporary = me.operator.password_temporary;
    view::page(
        "初回設定",
        None,
        !errors.is_empty(),
        html! {
            (error_summary(errors))
            p { "コンソールを使う前に、次の設定をしてください。" }
            form method="post" action="/console/setup" class="stack" {
                (csrf(&me.session.csrf))
                @if temporary {
                    h2 { "パスワードの変更" }
                    p { "発行された仮パスワードを、ご自身で決めたパスワードに変更してください。" }
                    (field("new_password", "新しいパスワード", "password", "",
                        Some("12文字以上で、オペレーター名を含まないものにしてください。"), "new-password"))
                    (field("confirmation", "新しいパスワード（確認）", "password", "", None, "new-password"))
                }
                @if let Some(secret) = secret {
                    h2 { "確認コードの登録" }
                    p { "認証アプリ（Google Authenticator、Microsoft Authenticator など）でQRコードを読み取るか、シークレットキーを入力してください。" }
                    @if let Some(qr) = totp::qr_code(secret, &me.operator.name) { (qr) }
                    p {
                        "シークレットキー："
                        code class="secret" { (totp::grouped(secret)) }
                    }
                    (field("code", "確認コード（6桁）", "text", "",
                        Some("認証アプリに表示された6桁の数字を入力してください。"), "one-time-code"))
                }
                button type="submit" { "設定する" }
            }
        },
    )
}

/// The secret being enrolled, made and kept in the session on first view.
async fn enrolling(state: &AppState, me: &mut LoggedIn) -> Result<Option<String>, ConsoleError> {
    if me.operator.totp_secret.is_some() {
        return Ok(None);
    }
    if let Some(secret) = &me.session.enrolling {
        return Ok(Some(secret.clone()));
    }
    let secret = totp::new_secret();
    me.session.enrolling = Some(secret.clone());
    state
        .store
        .put_operator_session(&me.id, &me.session)
        .await?;
    Ok(Some(secret))
}

/// `GET /console/setup`.
pub async fn setup_page(State(state): St, Setup(mut me): Setup) -> Result<Response, ConsoleError> {
    if !me.needs_setup() {
        return Ok(Redirect::to("/console/").into_response());
    }
    let secret = enrolling(&state, &mut me).await?;
    Ok(setup_form(&me, secret.as_deref(), &[]).into_response())
}

/// The setup form's fields.
#[derive(Debug, Deserialize)]
pub struct SetupForm {
    csrf: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirmation: String,
    #[serde(default)]
    code: String,
}

/// `POST /console/setup`: the new password and the first code, checked
/// together; nothing is changed unless both are right.
pub async fn setup(
    State(state): St,
    Setup(mut me): Setup,
    Form(form): Form<SetupForm>,
) -> Result<Response, ConsoleError> {
    me.check_csrf(&form.csrf)?;
    if !me.needs_setup() {
        return Ok(Redirect::to("/console/").into_response());
    }
    let secret = enrolling(&state, &mut me).await?;
    let mut errors = Vec::new();
    let temporary = me.operator.password_temporary;
    if temporary
        && let Some(problem) = super::accounts::password_problem(
            &form.new_password,
            &form.confirmation,
            &me.operator.name,
        )
    {
        errors.push(problem);
    }
    let at = now();
    let step = match &secret {
        Some(secret) => {
            let step = totp::check(secret, &me.operator.name, &form.code, at.unix(), None);
            if step.is_none() {
                errors.push(
                    "確認コードが正しくありません。認証アプリに表示されている6桁の数字を入力してください".to_owned(),
                );
            }
            step
        }
        None => None,
    };
    if !errors.is_empty() {
        return Ok((
            axum::http::StatusCode::BAD_REQUEST,
            setup_form(&me, secret.as_deref(), &errors),
        )
            .into_response());
    }
    let password_hash = if temporary {
        let Some(mut slot) = state.hashing.acquire().await else {
            let busy = [
                "ただいま混み合っています。しばらくしてから、もう一度操作してください。".to_owned(),
            ];
            return Ok(setup_form(&me, secret.as_deref(), &busy).into_response());
        };
        let password = form.new_password.clone();
        Some(
            state
                .blocking(move || {
                    slot.hasher()
                        .hash_secret(password.as_bytes())
                        .map_err(|e| crate::error::ApiError::Internal(format!("hashing: {e}")))
                })
                .await?,
        )
    } else {
        None
    };
    state
        .store
        .modify_operator(&me.operator.name, |current| {
            Some(OperatorRecord {
                password_hash: password_hash
                    .clone()
                    .unwrap_or_else(|| current.password_hash.clone()),
                password_temporary: false,
                totp_secret: secret.clone().or_else(|| current.totp_secret.clone()),
                totp_last_step: step.or(current.totp_last_step),
                ..current.clone()
            })
        })
        .await?
        .ok_or(ConsoleError::Login)?;
    me.session.enrolling = None;
    state
        .store
        .put_operator_session(&me.id, &me.session)
        .await?;
    if temporary {
        me.record(&state, None, ActionKind::PasswordChanged).await?;
    }
    if secret.is_some() {
        me.record(&state, None, ActionKind::TotpEnrolled).await?;
    }
    Ok(Redirect::to("/console/").into_response())
}
