//! The operator console (SPEC §5) over HTTP, on its own listener: every
//! route without a session, as a viewer and as an admin; the first login's
//! setup; TOTP; the lock; CSRF; the log; and the console's absence from the
//! public listener.

use std::time::Duration;

use kaisen::console::{accounts, totp};
use kaisen::store::operators::{ActionFilter, ActionKind, OperatorRole};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::helpers::{KEY_B, LINE_A, LINE_B, TestApp, spawn_app};

/// The console's new password for every test operator.
const PASSWORD: &str = "correct-horse-battery";

/// A page of the console: status, headers, HTML.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    /// Where a redirect leads.
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.html.find(marker).expect("a form with a token") + marker.len();
        self.html[start..start + 32].to_owned()
    }

    /// Asserts a 303 to `to`.
    #[track_caller]
    pub fn assert_redirect(&self, to: &str) {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.html);
        assert_eq!(self.location(), Some(to));
    }

    /// Asserts the page holds `text`.
    #[track_caller]
    pub fn assert_has(&self, text: &str) {
        assert!(self.html.contains(text), "no {text:?} in: {}", self.html);
    }
}

/// A browser on the console: keeps its cookie, follows no redirect, sends
/// `Origin` and `Sec-Fetch-Site` as a browser does.
pub struct Console {
    http: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
    base: String,
    /// The CSRF token of the last page read.
    pub csrf: String,
}

impl Console {
    pub fn new(app: &TestApp) -> Self {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        Self {
            http: reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            jar,
            base: app.console.clone().expect("the console listens"),
            csrf: String::new(),
        }
    }

    /// The session ID of the console's cookie.
    pub fn session_id(&self) -> String {
        use reqwest::cookie::CookieStore;
        let url = format!("{}/console/", self.base).parse().expect("a URL");
        let cookies = self.jar.cookies(&url).expect("a cookie");
        let text = cookies.to_str().expect("text");
        text.strip_prefix("kaisen_operator=")
            .expect("the console's cookie")
            .to_owned()
    }

    async fn read(&mut self, response: reqwest::Response) -> Page {
        let page = Page {
            status: response.status(),
            headers: response.headers().clone(),
            html: response.text().await.expect("a body"),
        };
        if page.html.contains("name=\"csrf\"") {
            self.csrf = page.csrf();
        }
        page
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("sent");
        self.read(response).await
    }

    /// A form POST from the console's own page, with the last token.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf.clone();
        let mut form: Vec<(&str, &str)> = vec![("csrf", &token)];
        form.extend_from_slice(fields);
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .header("sec-fetch-site", "same-origin")
            .form(&form)
            .send()
            .await
            .expect("sent");
        self.read(response).await
    }

    /// A POST with the headers given, and the body as it is.
    pub async fn post_with(&mut self, path: &str, headers: &[(&str, &str)], body: &str) -> Page {
        let mut request = self.http.post(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.body(body.to_owned()).send().await.expect("sent");
        self.read(response).await
    }

    /// Logs in: the login form, from this origin.
    pub async fn log_in(&mut self, name: &str, password: &str, code: &str) -> Page {
        self.post(
            "/console/login",
            &[("name", name), ("password", password), ("code", code)],
        )
        .await
    }
}

/// The code for `secret` one step from now: `step` 0 is now.
pub fn code(secret: &str, name: &str, step: i64) -> String {
    let now = kaisen::state::now().unix();
    totp::code_at(secret, name, now + 30 * step).expect("a code")
}

/// Makes an account with `kaisen operator add`'s logic, logs it in, sets
/// its password and enrols; returns the logged-in console and the secret.
pub async fn operator(app: &TestApp, name: &str, role: OperatorRole) -> (Console, String) {
    let once = accounts::add(&app.store, name, role, "(cli)", kaisen::state::now())
        .await
        .expect("added");
    let mut console = Console::new(app);
    console
        .log_in(name, &once, "")
        .await
        .assert_redirect("/console/");
    console
        .get("/console/")
        .await
        .assert_redirect("/console/setup");
    let setup = console.get("/console/setup").await;
    let secret = secret_of(&setup);
    let code = code(&secret, name, 0);
    console
        .post(
            "/console/setup",
            &[
                ("new_password", PASSWORD),
                ("confirmation", PASSWORD),
                ("code", &code),
            ],
        )
        .await
        .assert_redirect("/console/");
    (console, secret)
}

/// The secret the setup page shows.
fn secret_of(page: &Page) -> String {
    let marker = "<code class=\"secret\">";
    let start = page.html.find(marker).expect("the secret is shown") + marker.len();
    let end = start + page.html[start..].find('<').expect("closed");
    page.html[start..end].replace(' ', "")
}

/// Every page a logged-in operator can GET.
const PAGES: [&str; 8] = [
    "/console/",
    "/console/applications?id=2026120100000013",
    "/console/lines?customer_id=CAF0000000001",
    "/console/outbox",
    "/console/events",
    "/console/actions",
    "/console/operators",
    "/console/setup",
];

/// Every admin POST.
const ADMIN_POSTS: [&str; 5] = [
    "/console/lines/CAF0000000002/unlock",
    "/console/outbox/2026120100000013/retry",
    "/console/events/W0001/1/retry",
    "/console/operators",
    "/console/operators/abe/disable",
];

#[tokio::test]
async fn the_console_is_not_on_the_public_listener() {
    let app = spawn_app().await;
    let public = reqwest::Client::new();
    for path in [
        "/console",
        "/console/",
        "/console/login",
        "/console/console.css",
    ] {
        let get = public.get(app.url(path)).send().await.expect("sent");
        assert_eq!(get.status(), StatusCode::NOT_FOUND, "GET {path}");
        let post = public
            .post(app.url(path))
            .form(&[("name", "sato")])
            .send()
            .await
            .expect("sent");
        assert_eq!(post.status(), StatusCode::NOT_FOUND, "POST {path}");
    }
    // And the console's listener serves only the console.
    let mut console = Console::new(&app);
    assert_eq!(
        console.get("/api/notices").await.status,
        StatusCode::NOT_FOUND
    );
    console.get("/").await.assert_redirect("/console/");
}

#[tokio::test]
async fn without_a_session_every_page_and_action_leads_to_the_login() {
    let app = spawn_app().await;
    let mut console = Console::new(&app);
    for path in PAGES {
        console.get(path).await.assert_redirect("/console/login");
    }
    for path in ADMIN_POSTS
        .iter()
        .chain(&["/console/logout", "/console/setup"])
    {
        console
            .post(path, &[("reason", "r")])
            .await
            .assert_redirect("/console/login");
    }
    let login = console.get("/console/login").await;
    assert_eq!(login.status, StatusCode::OK);
    login.assert_has("<h1>オペレーターログイン</h1>");
    login.assert_has("<label for=\"code\">確認コード（6桁）</label>");
    // A cookie naming no session is no session.
    let forged = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
        .get(format!(
            "{}/console/",
            app.console.clone().expect("listens")
        ))
        .header("cookie", "kaisen_operator=00000000000000000000000000000000")
        .send()
        .await
        .expect("sent");
    assert_eq!(forged.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn console_pages_carry_the_security_headers_and_a_strict_cookie() {
    let app = spawn_app().await;
    let mut console = Console::new(&app);
    let login = console.get("/console/login").await;
    let header = |name: &str| {
        login
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(header("content-security-policy").contains("default-src 'none'"));
    assert!(header("content-security-policy").contains("frame-ancestors 'none'"));
    assert!(
        !header("content-security-policy").contains("script-src"),
        "no script at all"
    );
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("cache-control"), "no-store");
    // Under `no-referrer` a browser sends `Origin: null` with a form.
    assert_eq!(header("referrer-policy"), "same-origin");
    let css = console.get("/console/console.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        css.headers["content-type"]
            .to_str()
            .expect("text")
            .starts_with("text/css")
    );

    let once = accounts::add(
        &app.store,
        "sato",
        OperatorRole::Admin,
        "(cli)",
        kaisen::state::now(),
    )
    .await
    .expect("added");
    let login = console.log_in("sato", &once, "").await;
    let cookie = login.headers["set-cookie"].to_str().expect("text");
    assert!(cookie.starts_with("kaisen_operator="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    // A body beyond the limit is refused before it is read.
    let big = "a".repeat(64 * 1024);
    let page = console
        .post_with(
            "/console/login",
            &[("content-type", "application/x-www-form-urlencoded")],
            &format!("name={big}"),
        )
        .await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_new_operator_sets_a_password_and_enrols_before_anything_else() {
    let app = spawn_app().await;
    let once = accounts::add(
        &app.store,
        "sato",
        OperatorRole::Viewer,
        "(cli)",
        kaisen::state::now(),
    )
    .await
    .expect("added");
    let mut console = Console::new(&app);
    console
        .log_in("sato", &once, "")
        .await
        .assert_redirect("/console/");
    for path in [
        "/console/",
        "/console/lines?customer_id=CAF0000000001",
        "/console/actions",
    ] {
        console.get(path).await.assert_redirect("/console/setup");
    }
    let setup = console.get("/console/setup").await;
    assert_eq!(setup.status, StatusCode::OK);
    setup.assert_has("<h1>初回設定</h1>");
    setup.assert_has("aria-label=\"確認コード登録用のQRコード\"");
    setup.assert_has("シークレットキー");
    let secret = secret_of(&setup);
    assert_eq!(secret.len(), 32, "160 bits in base32");
    // The same secret on a reload: the authenticator scanned it.
    assert_eq!(secret_of(&console.get("/console/setup").await), secret);

    // Bad input: each problem named, nothing changed.
    let refused = console
        .post(
            "/console/setup",
            &[
                ("new_password", "short"),
                ("confirmation", "short"),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    refused.assert_has("<title>エラー：初回設定");
    refused.assert_has("新しいパスワードは12文字以上で入力してください");
    refused.assert_has("確認コードが正しくありません");
    let mismatch = console
        .post(
            "/console/setup",
            &[
                ("new_password", PASSWORD),
                ("confirmation", "correct-horse-batterx"),
                ("code", &code(&secret, "sato", 0)),
            ],
        )
        .await;
    mismatch.assert_has("新しいパスワード（確認）に同じパスワードを入力してください");
    let record = app
        .store
        .operator("sato")
        .await
        .expect("read")
        .expect("there");
    assert!(
        record.password_temporary && record.totp_secret.is_none(),
        "{record:?}"
    );

    console
        .post(
            "/console/setup",
            &[
                ("new_password", PASSWORD),
                ("confirmation", PASSWORD),
                ("code", &code(&secret, "sato", 0)),
            ],
        )
        .await
        .assert_redirect("/console/");
    let home = console.get("/console/").await;
    assert_eq!(home.status, StatusCode::OK);
    home.assert_has("<h1>照会</h1>");
    home.assert_has("sato（閲覧者）");
    let record = app
        .store
        .operator("sato")
        .await
        .expect("read")
        .expect("there");
    assert!(!record.password_temporary);
    assert_eq!(record.totp_secret.as_deref(), Some(secret.as_str()));
    assert!(!record.password_hash.contains(PASSWORD));

    // From now on: the new password and a code; the one-time password is
    // gone, and so is a login without a code.
    let mut again = Console::new(&app);
    again
        .log_in("sato", &once, &code(&secret, "sato", 1))
        .await
        .assert_has("オペレーター名、パスワードまたは確認コードが正しくありません");
    let no_code = again.log_in("sato", PASSWORD, "").await;
    assert_eq!(no_code.status, StatusCode::UNAUTHORIZED);
    // One code, kept: computed again, it could fall in the next step.
    let next = code(&secret, "sato", 1);
    again
        .log_in("sato", PASSWORD, &next)
        .await
        .assert_redirect("/console/");
    assert_eq!(again.get("/console/").await.status, StatusCode::OK);
    // The same code a second time is refused (RFC 6238 §5.2).
    let mut third = Console::new(&app);
    let replay = third.log_in("sato", PASSWORD, &next).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);

    let log = app
        .store
        .actions(&ActionFilter {
            operator: Some("sato".into()),
            limit: 20,
            ..Default::default()
        })
        .await
        .expect("read");
    let kinds: Vec<_> = log.iter().rev().map(|a| a.action.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            ActionKind::LoggedIn,
            ActionKind::PasswordChanged,
            ActionKind::TotpEnrolled,
            ActionKind::LoginRefused,
            ActionKind::LoginRefused,
            ActionKind::LoggedIn,
            ActionKind::LoginRefused,
        ]
    );
    assert!(log.iter().all(|a| a.action.address.is_some()));
}

#[tokio::test]
async fn five_failed_logins_lock_the_account_even_to_the_right_password() {
    let app = spawn_app().await;
    let (_, secret) = operator(&app, "sato", OperatorRole::Admin).await;
    let mut console = Console::new(&app);
    for _ in 0..5 {
        let wrong = console.log_in("sato", "not-the-password", "000000").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        wrong.assert_has("<title>エラー：オペレーターログイン");
    }
    let locked = console
        .log_in("sato", PASSWORD, &code(&secret, "sato", 1))
        .await;
    assert_eq!(locked.status, StatusCode::UNAUTHORIZED);
    locked.assert_has("このアカウントは15分間ロックされています");
    // An unknown name gets the same answer as a wrong password.
    let unknown = console.log_in("nobody", PASSWORD, "123456").await;
    unknown.assert_has("オペレーター名、パスワードまたは確認コードが正しくありません");
    // A wrong code counts as much as a wrong password.
    let (_, abe) = operator(&app, "abe", OperatorRole::Viewer).await;
    for _ in 0..5 {
        console.log_in("abe", PASSWORD, "000000").await;
    }
    let locked = console.log_in("abe", PASSWORD, &code(&abe, "abe", 1)).await;
    locked.assert_has("ロックされています");
}

#[tokio::test]
async fn an_application_read_out_with_one_wrong_digit_is_found_one_digit_away() {
    let app = spawn_app().await;
    let line = app.line_a().await;
    let id = line.submit_ok("notify", &["W0003"]).await;
    let (mut console, _) = operator(&app, "sato", OperatorRole::Viewer).await;

    // The ninth digit mis-heard.
    let mut digits: Vec<u8> = id.bytes().collect();
    digits[8] = if digits[8] == b'9' {
        b'0'
    } else {
        digits[8] + 1
    };
    let misheard = String::from_utf8(digits).expect("digits");
    let page = console
        .get(&format!("/console/applications?id={misheard}"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    page.assert_has("確認用の数字（最後の桁）が合いません");
    page.assert_has("1桁違いで存在するお申し込みID");
    page.assert_has(&format!("href=\"/console/applications?id={id}\""));

    let found = console.get(&format!("/console/applications?id={id}")).await;
    assert_eq!(found.status, StatusCode::OK);
    for text in [
        "<h2>申込内容</h2>",
        &id,
        LINE_A,
        "受付済",
        "<h2>変更内容</h2>",
        "通知する",
        "<h2>申込者情報</h2>",
        "<h2>状態の履歴</h2>",
        "工事完了通知メール",
    ] {
        found.assert_has(text);
    }
    // Full-width digits and hyphens, as typed from a call.
    let wide: String = id
        .chars()
        .map(|c| char::from_u32(c as u32 + 0xFEE0).expect("a char"))
        .collect();
    let wide = format!("{}-{}", &wide[..12], &wide[12..]);
    console
        .get(&format!("/console/applications?id={}", urlencode(&wide)))
        .await
        .assert_has("<h2>申込内容</h2>");
    // Not 16 digits: said so, nothing looked up.
    console
        .get("/console/applications?id=1234")
        .await
        .assert_has("お申し込みIDは16桁の数字で入力してください");

    let log = app
        .store
        .actions(&ActionFilter {
            operator: Some("sato".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .expect("read");
    assert!(log.iter().any(|a| a.action.kind
        == ActionKind::ApplicationViewed {
            application_id: shared::domain::ApplicationId::parse(&id).expect("an ID")
        }
        && a.action.customer_id.as_ref().map(|c| c.as_str()) == Some(LINE_A)));
    assert!(log.iter().any(|a| matches!(&a.action.kind, ActionKind::ApplicationNotFound { query } if *query == misheard)));
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn a_line_is_shown_with_its_settings_lock_and_failures_and_an_admin_unlocks_it() {
    let app = spawn_app().await;
    let subscriber = app.client();
    for _ in 0..10 {
        subscriber.log_in(LINE_B, "wrong-key").await;
    }
    assert_eq!(
        subscriber.log_in(LINE_B, KEY_B).await.status,
        StatusCode::LOCKED,
        "locked"
    );
    let (mut viewer, _) = operator(&app, "abe", OperatorRole::Viewer).await;
    let (mut admin, _) = operator(&app, "sato", OperatorRole::Admin).await;

    let page = viewer.get("/console/lines?customer_id=%EF%BC%A3%EF%BC%A1%EF%BC%A6%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%92").await;
    assert_eq!(page.status, StatusCode::OK, "full-width ID");
    page.assert_has("ロック中（");
    page.assert_has("<h2>通知設定</h2>");
    page.assert_has("<h2>通知履歴</h2>");
    assert!(
        !page.html.contains("ロックを解除する"),
        "no unlock for a viewer"
    );
    let refused = viewer
        .post("/console/lines/CAF0000000002/unlock", &[("reason", "依頼")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let page = admin.get("/console/lines?customer_id=CAF0000000002").await;
    page.assert_has("ロックを解除する");
    page.assert_has("<label for=\"unlock-reason\">ロック解除の理由</label>");
    let no_reason = admin
        .post("/console/lines/CAF0000000002/unlock", &[("reason", "  ")])
        .await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    no_reason.assert_has("理由を200文字以内で入力してください");
    assert_eq!(
        subscriber.log_in(LINE_B, KEY_B).await.status,
        StatusCode::LOCKED,
        "still locked"
    );
    let done = admin
        .post(
            "/console/lines/CAF0000000002/unlock",
            &[("reason", "お客さまから電話で依頼")],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
    done.assert_has("ロックを解除し");
    assert_eq!(
        subscriber.log_in(LINE_B, KEY_B).await.status,
        StatusCode::OK,
        "the subscriber logs in"
    );

    // 「操作履歴」: both lookups and the unlock, by line and by operator.
    let log = admin
        .get("/console/actions?customer_id=CAF0000000002")
        .await;
    log.assert_has("ロック解除");
    log.assert_has("理由：お客さまから電話で依頼");
    log.assert_has("回線照会");
    log.assert_has("abe");
    let by_admin = admin
        .get("/console/actions?operator=sato&customer_id=CAF0000000002")
        .await;
    assert!(!by_admin.html.contains("<td>abe</td>"), "{}", by_admin.html);
    let bad = admin.get("/console/actions?customer_id=CAF12").await;
    bad.assert_has("お客さまIDは「CAF」に続けて10桁");
    // An unknown line is said so, and logged.
    admin
        .get("/console/lines?customer_id=CAF0000009999")
        .await
        .assert_has("の回線はありません");
    admin
        .get("/console/lines?customer_id=XYZ")
        .await
        .assert_has("お客さまIDは「CAF」に続けて10桁");
}

#[tokio::test]
async fn every_post_needs_this_origin_a_form_and_the_sessions_token() {
    let app = spawn_app().await;
    let (mut admin, _) = operator(&app, "sato", OperatorRole::Admin).await;
    let token = admin.csrf.clone();
    let body = format!("csrf={token}&reason=test");
    let form = ("content-type", "application/x-www-form-urlencoded");
    let path = "/console/lines/CAF0000000001/unlock";
    for headers in [
        vec![form, ("origin", "http://evil.example")],
        vec![form, ("sec-fetch-site", "cross-site")],
        vec![form, ("sec-fetch-site", "same-site")],
        // What a browser sends under `Referrer-Policy: no-referrer`, which
        // the console therefore does not send.
        vec![form, ("origin", "null"), ("sec-fetch-site", "same-origin")],
    ] {
        let page = admin.post_with(path, &headers, &body).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{headers:?}");
    }
    let json = admin
        .post_with(path, &[("content-type", "application/json")], "{}")
        .await;
    assert_eq!(json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    admin.csrf = "0".repeat(32);
    let wrong = admin.post(path, &[("reason", "test")]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    wrong.assert_has("操作を受け付けられませんでした");
    let missing = admin.post_with(path, &[form], "reason=test").await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let log = app
        .store
        .actions(&ActionFilter {
            limit: 50,
            ..Default::default()
        })
        .await
        .expect("read");
    assert!(
        !log.iter()
            .any(|a| matches!(a.action.kind, ActionKind::LineUnlocked { .. })),
        "nothing done"
    );
    // With the token, from here: done.
    admin.get("/console/").await;
    assert_eq!(
        admin.post(path, &[("reason", "test")]).await.status,
        StatusCode::OK
    );
    // Logging out needs the token too, and ends the session.
    admin.get("/console/").await;
    admin
        .post("/console/logout", &[])
        .await
        .assert_redirect("/console/login?logged_out=1");
    admin
        .get("/console/")
        .await
        .assert_redirect("/console/login");
}

#[tokio::test]
async fn viewers_may_look_but_only_admins_act_or_manage_operators() {
    let app = spawn_app().await;
    let (mut viewer, _) = operator(&app, "abe", OperatorRole::Viewer).await;
    let (mut admin, _) = operator(&app, "sato", OperatorRole::Admin).await;
    for path in PAGES.iter().filter(|p| !p.ends_with("/setup")) {
        let page = admin.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.html);
        let page = viewer.get(path).await;
        let expected = if path.ends_with("/operators") {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::OK
        };
        assert_eq!(page.status, expected, "{path}");
    }
    viewer.get("/console/").await;
    for path in ADMIN_POSTS {
        let page = viewer
            .post(path, &[("reason", "r"), ("name", "x"), ("role", "viewer")])
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert!(
        !viewer
            .get("/console/")
            .await
            .html
            .contains("オペレーター管理")
    );

    // An admin adds an operator and sees the one-time password once.
    admin.get("/console/operators").await;
    let added = admin
        .post("/console/operators", &[("name", "ito"), ("role", "viewer")])
        .await;
    assert_eq!(added.status, StatusCode::OK);
    added.assert_has("仮パスワード：");
    let start = added
        .html
        .find("仮パスワード：<code class=\"secret\">")
        .expect("shown")
        + "仮パスワード：<code class=\"secret\">".len();
    let once = &added.html[start..start + 16];
    let mut ito = Console::new(&app);
    ito.log_in("ito", once, "")
        .await
        .assert_redirect("/console/");
    let taken = admin
        .post("/console/operators", &[("name", "ito"), ("role", "admin")])
        .await;
    assert_eq!(taken.status, StatusCode::BAD_REQUEST);
    taken.assert_has("オペレーター「ito」はすでに登録されています");
    let bad = admin
        .post(
            "/console/operators",
            &[("name", "Bad Name"), ("role", "admin")],
        )
        .await;
    bad.assert_has("はオペレーター名に使えません");
    let bad_role = admin
        .post("/console/operators", &[("name", "kato"), ("role", "root")])
        .await;
    assert_eq!(bad_role.status, StatusCode::BAD_REQUEST);
    // Disabling ends the account's sessions at their next request.
    admin.get("/console/operators").await;
    let disabled = admin.post("/console/operators/abe/disable", &[]).await;
    assert_eq!(disabled.status, StatusCode::OK);
    viewer
        .get("/console/")
        .await
        .assert_redirect("/console/login");
    assert_eq!(
        admin
            .post("/console/operators/nobody/disable", &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let list = admin.get("/console/operators").await;
    list.assert_has("無効");
    list.assert_has("初回設定待ち");
}

#[tokio::test]
async fn an_idle_session_ends_after_thirty_minutes() {
    let app = spawn_app().await;
    let (mut console, _) = operator(&app, "sato", OperatorRole::Viewer).await;
    assert_eq!(console.get("/console/").await.status, StatusCode::OK);
    // The session, made 30 minutes older.
    let id = console.session_id();
    let mut session = app
        .store
        .operator_session(&id)
        .await
        .expect("read")
        .expect("there");
    session.last_seen = session.last_seen.plus_secs(-30 * 60 + 5);
    app.store
        .put_operator_session(&id, &session)
        .await
        .expect("stored");
    assert_eq!(
        console.get("/console/").await.status,
        StatusCode::OK,
        "not yet"
    );
    let mut session = app
        .store
        .operator_session(&id)
        .await
        .expect("read")
        .expect("there");
    session.last_seen = session.last_seen.plus_secs(-30 * 60);
    app.store
        .put_operator_session(&id, &session)
        .await
        .expect("stored");
    console
        .get("/console/")
        .await
        .assert_redirect("/console/login");
    assert_eq!(
        app.store.operator_session(&id).await.expect("read"),
        None,
        "ended"
    );
}

#[tokio::test]
async fn the_mail_waiting_is_listed_and_an_admin_retries_it_now() {
    // The relay does not answer: every attempt fails and waits.
    let app = crate::helpers::spawn_app_with(|config| {
        config.smtp_url = Some("smtp://127.0.0.1:1".to_owned().into());
        config.work_delay = Duration::from_secs(1);
        config.mail_retry_base = Duration::from_secs(3600);
    })
    .await;
    let line = app.line_a().await;
    let id = line.submit_ok("notify", &["W0003"]).await;
    line.wait_until_completed(&id).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while app
        .store
        .outbox()
        .await
        .expect("read")
        .first()
        .is_none_or(|(_, m)| m.attempts == 0)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the mail never failed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (mut viewer, _) = operator(&app, "abe", OperatorRole::Viewer).await;
    let (mut admin, _) = operator(&app, "sato", OperatorRole::Admin).await;
    let page = viewer.get("/console/outbox").await;
    page.assert_has(&id);
    page.assert_has("最後のエラー");
    assert!(!page.html.contains("今すぐ再送"));
    viewer
        .get(&format!("/console/applications?id={id}"))
        .await
        .assert_has("送信待ち（失敗 ");
    let page = admin.get("/console/outbox").await;
    page.assert_has("今すぐ再送");
    page.assert_has(&format!("<label for=\"retry-{id}\">{id}の再送理由</label>"));
    let before = app.store.outbox().await.expect("read")[0].1.attempts;
    let done = admin
        .post(
            &format!("/console/outbox/{id}/retry"),
            &[("reason", "メールサーバー復旧")],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
    done.assert_has("今すぐ送信し直します");
    // The mailer tries it again at once (it fails again: the relay is
    // still down).
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while app.store.outbox().await.expect("read")[0].1.attempts == before {
        assert!(std::time::Instant::now() < deadline, "not retried now");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    admin
        .get("/console/actions")
        .await
        .assert_has("理由：メールサーバー復旧");
    let unknown = shared::domain::ApplicationId::new(
        shared::domain::Date::parse("2026-01-01").expect("a date"),
        1,
    );
    let none = admin
        .post(
            &format!("/console/outbox/{unknown}/retry"),
            &[("reason", "r")],
        )
        .await;
    assert_eq!(none.status, StatusCode::OK);
    none.assert_has("送信待ちのメールはありません");
    let garbage = admin
        .post("/console/outbox/12/retry", &[("reason", "r")])
        .await;
    assert_eq!(garbage.status, StatusCode::NOT_FOUND);
}
