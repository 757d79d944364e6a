//! `spawn_app()`: the real server on `127.0.0.1:0` with a fresh database, a
//! temporary client folder and a small fixture loaded through the real
//! import path; plus a cookie-keeping client per logged-in line.
//!
//! The database is a temporary sled folder, or with
//! `KAISEN_TEST_ENGINE=postgres` a fresh database on a private PostgreSQL
//! cluster (one per test binary): the same tests hold both engines to the
//! same behaviour.
//!
//! Each app runs on its own tokio runtime on its own thread, so that it can
//! be stopped for real (every `Store` handle dropped, sled's folder lock
//! released) and started again on the same database.

use std::path::Path;
use std::time::{Duration, Instant};

use kaisen::config::ServeConfig;
use kaisen::import::{ImportError, ImportFile};
use kaisen::startup::Server;
use kaisen::store::{ImportReport, Location, Purpose, Store};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tempfile::TempDir;

/// Line A of the fixture: 「通知する」 for W0001 and W0002, an explicit
/// 「通知しない」 for W0003.
pub const LINE_A: &str = "CAF0000000001";
/// Line A's access key.
pub const KEY_A: &str = "Alpha-Key-0001";
/// Line B of the fixture: 「通知する」 for W0001 only.
pub const LINE_B: &str = "CAF0000000002";
/// Line B's access key.
pub const KEY_B: &str = "Bravo-Key-0002";
/// How many providers the fixture loads (W0001 to W0045).
pub const PROVIDERS: usize = 45;
/// The one message of every failed login.
pub const BAD_CREDENTIALS: &str = "フレッツナンバーまたはアクセスキーが正しくありません";
/// The fixture's consent text.
pub const CONSENT_TEXT: &str = "回線情報通知機能の利用に同意します。\n\n（テスト用の同意書）";
/// The fixture's notices.
pub const NOTICES: [&str; 2] = ["メンテナンスのお知らせ", "年末年始の受付について"];
/// The sender of the test apps' completion mails (`--mail-from`).
pub const MAIL_FROM: &str = "回線情報通知 試験センター <notice@example.jp>";
/// How long the tests wait for the worker at most.
pub const WORK_TIMEOUT: Duration = Duration::from_secs(15);

/// The provider code `W{n:04}`.
pub fn code(n: usize) -> String {
    format!("W{n:04}")
}

/// The fixture's name of provider `n`: unique, so messages that name a
/// provider can be checked.
pub fn provider_name(n: usize) -> String {
    format!("テスト通信{n:02}株式会社")
}

/// The fixture's service name of provider `n`.
pub fn service_name(n: usize) -> &'static str {
    ["IP電話", "映像配信", "セキュリティ対策"][n % 3]
}

/// The fixture's 利用目的 of provider `n`: every fifth states none (an
/// older import file's provider).
pub fn purpose(n: usize) -> Option<String> {
    (!n.is_multiple_of(5)).then(|| format!("テスト通信{n:02}のご契約確認のため"))
}

/// The fixture, as an operator would write the import file.
pub fn fixture() -> Value {
    let providers: Vec<Value> = (1..=PROVIDERS)
        .map(|n| {
            let mut provider =
                json!({"code": code(n), "service_name": service_name(n), "name": provider_name(n)});
            if let Some(purpose) = purpose(n) {
                provider["purpose"] = json!(purpose);
            }
            provider
        })
        .collect();
    json!({
        "providers": providers,
        "lines": [
            {
                "customer_id": LINE_A,
                "access_key": KEY_A,
                "services": [
                    {"name": "フレッツ光ネクスト", "status": "利用中"},
                    {"name": "フレッツ・v6オプション", "status": "未契約"},
                ],
                "notifications": [
                    {"provider": "W0001", "setting": "notify", "set_on": "2025-04-01", "method": "初期設定"},
                    {"provider": "W0002", "setting": "notify", "set_on": "2025-05-10", "method": "お電話"},
                    {"provider": "W0003", "setting": "do_not_notify", "set_on": "2025-06-01", "method": "初期設定"},
                ],
            },
            {
                "customer_id": LINE_B,
                "access_key": KEY_B,
                "services": [{"name": "リモートサポートサービス", "status": "利用中"}],
                "notifications": [
                    {"provider": "W0001", "setting": "notify", "set_on": "2024-12-01", "method": "初期設定"},
                ],
            },
        ],
        "notices": NOTICES,
        "consent": {"version": "2026-04", "text": CONSENT_TEXT},
    })
}

/// An import file from JSON, as `kaisen import` would read it.
pub fn import_file(json: Value) -> ImportFile {
    serde_json::from_value(json).expect("the test's import file has the import format")
}

/// Imports through the real import path, off the async workers (Argon2).
pub async fn import(store: &Store, json: Value) -> Result<ImportReport, ImportError> {
    kaisen::import::import(store, import_file(json)).await
}

/// Whether the tests run on PostgreSQL (`KAISEN_TEST_ENGINE=postgres`).
pub fn on_postgres() -> bool {
    std::env::var("KAISEN_TEST_ENGINE").is_ok_and(|e| e == "postgres")
}

/// The private cluster the PostgreSQL runs of this binary share.
fn cluster() -> &'static testkit::Cluster {
    static CLUSTER: std::sync::OnceLock<testkit::Cluster> = std::sync::OnceLock::new();
    CLUSTER.get_or_init(|| {
        testkit::Cluster::shared(testkit::Options::default())
            .expect("a private PostgreSQL cluster starts")
    })
}

/// A fresh, empty database of the engine under test: a sled folder not
/// yet made, or a new PostgreSQL database. A sled folder is removed with
/// the value.
pub struct TestDatabase {
    /// Where it is.
    pub location: Location,
    _dir: Option<TempDir>,
}

impl TestDatabase {
    /// A fresh database.
    pub async fn new() -> Self {
        if on_postgres() {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let name = format!(
                "api_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            );
            let url = tokio::task::spawn_blocking(move || cluster().create_database(&name))
                .await
                .expect("no panic")
                .expect("a database");
            Self {
                location: Location::Postgres(url),
                _dir: None,
            }
        } else {
            let dir = TempDir::new().expect("a temporary folder");
            Self {
                location: Location::Sled(dir.path().join("db")),
                _dir: Some(dir),
            }
        }
    }

    /// The flags naming it (`--db` or `--database`).
    pub fn database(&self) -> kaisen::config::Database {
        match &self.location {
            Location::Sled(dir) => kaisen::config::Database::sled(dir),
            Location::Postgres(url) => kaisen::config::Database {
                db: None,
                database: Some(url.clone()),
            },
        }
    }

    /// The sled folder, when the engine is sled.
    pub fn folder(&self) -> Option<&Path> {
        match &self.location {
            Location::Sled(dir) => Some(dir),
            Location::Postgres(_) => None,
        }
    }
}

/// Opens the store at `db`, waiting while a stopped server's last handles
/// are still being dropped (sled holds a lock on the folder until then).
pub async fn open_store(db: &TestDatabase) -> Store {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(&db.location, Purpose::Serve).await {
            Ok(store) => return store,
            Err(e) if Instant::now() > deadline => panic!("cannot open the store: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The configuration of a test app: work takes 2 s; the rest as in
/// production.
pub fn test_config(db: &TestDatabase, site: &Path) -> ServeConfig {
    ServeConfig {
        addr: "127.0.0.1:0".parse().expect("a socket address"),
        database: db.database(),
        tls_cert: None,
        tls_key: None,
        assume_https: false,
        public_url: None,
        max_connections: None,
        header_read_timeout: Duration::from_secs(10),
        keep_alive_timeout: Duration::from_secs(60),
        shutdown_timeout: Duration::from_secs(10),
        metrics_addr: None,
        operator_addr: Some("127.0.0.1:0".parse().expect("a socket address")),
        work_delay: Duration::from_secs(2),
        demo: false,
        site: site.to_path_buf(),
        request_timeout: Duration::from_secs(30),
        hash_slots: None,
        hash_wait: Duration::from_secs(2),
        hash_queue: 64,
        logins_per_line: 10,
        logins_per_address: 120,
        line_login_only: false,
        provider_rate: 100,
        provider_burst: 200,
        login_window: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(20 * 60),
        session_limit: Duration::from_secs(8 * 3600),
        refused_mail_domains: vec!["example-isp.jp".into()],
        trusted_proxies: Vec::new(),
        mail_from: Some(kaisen::mail::parse_sender(MAIL_FROM).expect("the test sender parses")),
        mail_dir: site.join("mail"),
        smtp_url: None,
        smtp_user: None,
        smtp_password: None,
        smtp_ca_file: None,
        mail_retry_base: Duration::from_secs(5),
        contact: vec![
            "回線情報通知 受付センター".into(),
            "電話：0120-000-000".into(),
        ],
    }
}

/// Why the server refuses to start, on a fresh database, with the test
/// configuration changed by `tweak`.
pub async fn start_refusal(tweak: impl FnOnce(&mut ServeConfig)) -> String {
    let db = TestDatabase::new().await;
    let site = TempDir::new().expect("a temporary folder");
    let store = open_store(&db).await;
    let mut config = test_config(&db, site.path());
    tweak(&mut config);
    match Server::with_store(config, store).await {
        Ok(_) => panic!("the server started"),
        Err(error) => error.to_string(),
    }
}

/// The test client's `index.html`.
pub const INDEX_HTML: &str =
    "<!doctype html><html lang=\"ja\"><title>kaisen</title><div id=\"app\"></div></html>\n";
/// An asset, served as `/assets/app.js`.
pub const APP_JS: &str = "console.log('kaisen');\n";
/// Its "brotli copy" (any bytes do: the server sends the file as it is).
pub const APP_JS_BR: &[u8] = b"brotli copy of app.js";

/// A running app.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The operator console's `http://127.0.0.1:PORT`, when it listens.
    pub console: Option<String>,
    /// The app's database, shared with the running server.
    pub store: Store,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    // Dropped after the server has stopped (fields drop in order).
    _site: TempDir,
    _db: Option<TestDatabase>,
}

/// Starts the app on a fresh database loaded with [`fixture`].
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with the configuration changed by `tweak`.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut ServeConfig)) -> TestApp {
    let db = TestDatabase::new().await;
    let store = open_store(&db).await;
    import(&store, fixture())
        .await
        .expect("the fixture imports");
    start(db, store, tweak).await
}

/// Starts the app on `db` (which outlives the app), as it is.
pub async fn spawn_app_on(db: &TestDatabase, tweak: impl FnOnce(&mut ServeConfig)) -> TestApp {
    let store = open_store(db).await;
    let config = test_config(db, Path::new("."));
    start_with(config, None, store, tweak).await
}

/// Starts the server on `db`, which the app owns (and removes once the
/// server has stopped).
async fn start(db: TestDatabase, store: Store, tweak: impl FnOnce(&mut ServeConfig)) -> TestApp {
    let config = test_config(&db, Path::new("."));
    start_with(config, Some(db), store, tweak).await
}

/// Starts the server with `config` (its database that of `store`).
async fn start_with(
    mut config: ServeConfig,
    db: Option<TestDatabase>,
    store: Store,
    tweak: impl FnOnce(&mut ServeConfig),
) -> TestApp {
    let site = TempDir::new().expect("a temporary folder");
    std::fs::write(site.path().join("index.html"), INDEX_HTML).expect("index.html written");
    let assets = site.path().join("assets");
    std::fs::create_dir(&assets).expect("assets/ made");
    std::fs::write(assets.join("app.js"), APP_JS).expect("app.js written");
    std::fs::write(assets.join("app.js.br"), APP_JS_BR).expect("app.js.br written");
    config.site = site.path().to_path_buf();
    config.mail_dir = site.path().join("mail");
    tweak(&mut config);
    // sled: the server takes the test's store (one process holds a
    // folder). PostgreSQL: the server opens its own, on its own runtime,
    // as another process would.
    let server_store = match &store.location() {
        Location::Sled(_) => Some(store.clone()),
        Location::Postgres(_) => None,
    };

    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(async move {
            let server = match server_store {
                Some(store) => Server::with_store(config, store).await,
                None => Server::build(config).await,
            }
            .expect("the server builds");
            let addr = server.local_addr().expect("a bound address");
            let _ = ready_tx.send((addr, server.operator_addr()));
            server
                .run_until(async {
                    let _ = stop_rx.await;
                })
                .await
                .expect("the server stops cleanly");
        });
        // Dropping the runtime drops every task (worker, sweeper,
        // connections) and waits for blocking calls: no `Store` is left.
        drop(runtime);
    });
    let (addr, console) = ready_rx.await.expect("the server starts");
    TestApp {
        address: format!("http://{addr}"),
        console: console.map(|addr| format!("http://{addr}")),
        store,
        stop: Some(stop_tx),
        thread: Some(thread),
        _site: site,
        _db: db,
    }
}

impl TestApp {
    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A client that keeps cookies, not logged in.
    pub fn client(&self) -> Client {
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .expect("a reqwest client"),
            address: self.address.clone(),
        }
    }

    /// Logs `customer_id` in with a new client and returns it.
    pub async fn log_in(&self, customer_id: &str, access_key: &str) -> Client {
        let client = self.client();
        let reply = client.log_in(customer_id, access_key).await;
        assert_eq!(reply.status, StatusCode::OK, "login failed: {}", reply.body);
        client
    }

    /// Line A, logged in.
    pub async fn line_a(&self) -> Client {
        self.log_in(LINE_A, KEY_A).await
    }

    /// Line B, logged in.
    pub async fn line_b(&self) -> Client {
        self.log_in(LINE_B, KEY_B).await
    }

    /// Imports into the running app's database.
    pub async fn import(&self, json: Value) -> Result<ImportReport, ImportError> {
        import(&self.store, json).await
    }

    /// Stops the server and waits until it has let go of the database.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic on the server thread is reported by the test that
            // caused it; here we only wait.
            let _ = thread.join();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// A status, headers and JSON body (`Null` when the body is empty).
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as JSON.
    pub body: Value,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("not JSON ({e}), status {status}: {text}"))
        };
        Self {
            status,
            headers,
            body,
        }
    }

    /// Asserts the status and the error body's kind and message.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, kind: &str, message: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["kind"], kind, "body: {}", self.body);
        assert_eq!(self.body["message"], message, "body: {}", self.body);
    }

    /// Asserts that this is 401 asking to log in.
    #[track_caller]
    pub fn assert_unauthenticated(&self) {
        self.assert_error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "ログインしてください",
        );
    }

    /// Asserts that this is 401 saying the session has run out.
    #[track_caller]
    pub fn assert_session_expired(&self) {
        self.assert_error(
            StatusCode::UNAUTHORIZED,
            "session_expired",
            "一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください",
        );
    }

    /// The `Cache-Control` header.
    pub fn cache_control(&self) -> Option<&str> {
        self.headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
    }
}

/// A cookie-keeping client: one per logged-in line.
#[derive(Clone)]
pub struct Client {
    /// The underlying client, for requests the helpers do not cover.
    pub http: reqwest::Client,
    address: String,
}

impl Client {
    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        Reply::read(
            self.http
                .get(self.url(path))
                .send()
                .await
                .expect("the request is sent"),
        )
        .await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        Reply::read(
            self.http
                .post(self.url(path))
                .json(body)
                .send()
                .await
                .expect("the request is sent"),
        )
        .await
    }

    /// `POST path` with `body` sent as it is, labelled as JSON.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Reply {
        Reply::read(
            self.http
                .post(self.url(path))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("the request is sent"),
        )
        .await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Reply {
        Reply::read(
            self.http
                .delete(self.url(path))
                .send()
                .await
                .expect("the request is sent"),
        )
        .await
    }

    /// `POST /api/session`; the raw response, for its cookie.
    pub async fn log_in_response(&self, customer_id: &str, access_key: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/session"))
            .json(&json!({"customer_id": customer_id, "access_key": access_key}))
            .send()
            .await
            .expect("the request is sent")
    }

    /// `POST /api/session`.
    pub async fn log_in(&self, customer_id: &str, access_key: &str) -> Reply {
        Reply::read(self.log_in_response(customer_id, access_key).await).await
    }

    /// The hash of the consent document in force.
    pub async fn consent_hash(&self) -> String {
        let reply = self.get("/api/consent").await;
        assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.body);
        reply.body["hash"]
            .as_str()
            .expect("the consent has a hash")
            .to_owned()
    }

    /// A whole draft as the client sends it at 「変更」: a fresh idempotency
    /// key, the consent in force, a valid applicant.
    pub async fn draft(&self, setting: &str, providers: &[&str]) -> Value {
        json!({
            "idempotency_key": idempotency_key(),
            "consent_hash": self.consent_hash().await,
            "setting": setting,
            "providers": providers,
            "applicant": valid_applicant(),
        })
    }

    /// Submits `draft`.
    pub async fn submit_draft(&self, draft: &Value) -> Reply {
        self.post("/api/applications", draft).await
    }

    /// Submits a valid application setting `providers` to `setting`.
    pub async fn submit(&self, setting: &str, providers: &[&str]) -> Reply {
        let draft = self.draft(setting, providers).await;
        self.submit_draft(&draft).await
    }

    /// Submits a valid application and returns its ID, asserting 201.
    pub async fn submit_ok(&self, setting: &str, providers: &[&str]) -> String {
        let reply = self.submit(setting, providers).await;
        assert_eq!(reply.status, StatusCode::CREATED, "body: {}", reply.body);
        reply.body["id"].as_str().expect("an ID").to_owned()
    }

    /// Polls the receipt until the application is completed; returns it.
    pub async fn wait_until_completed(&self, id: &str) -> Value {
        let deadline = Instant::now() + WORK_TIMEOUT;
        loop {
            let reply = self.get(&format!("/api/applications/{id}")).await;
            assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.body);
            if reply.body["state"] == "completed" {
                return reply.body;
            }
            assert!(
                Instant::now() < deadline,
                "application {id} not completed within {WORK_TIMEOUT:?}: {}",
                reply.body
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The provider codes of `/api/notifications`.
    pub async fn notified_codes(&self) -> Vec<String> {
        let reply = self.get("/api/notifications").await;
        assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.body);
        codes_of(&reply.body, "provider")
    }

    /// The notification row of `code`, if set to 「通知する」.
    pub async fn notification(&self, code: &str) -> Option<Value> {
        let reply = self.get("/api/notifications").await;
        assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.body);
        rows(&reply.body)
            .iter()
            .find(|row| row["provider"] == code)
            .cloned()
    }

    /// Every provider row of S3, all pages.
    pub async fn all_provider_rows(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut page = 1;
        loop {
            let reply = self.get(&format!("/api/providers?page={page}")).await;
            assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.body);
            all.extend(rows(&reply.body["items"]).iter().cloned());
            if reply.body["page"] == reply.body["pages"] {
                return all;
            }
            page += 1;
        }
    }
}

/// The rows of a JSON array.
#[track_caller]
pub fn rows(value: &Value) -> &Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
}

/// The `key` field of each row, as strings.
#[track_caller]
pub fn codes_of(value: &Value, key: &str) -> Vec<String> {
    rows(value)
        .iter()
        .map(|row| row[key].as_str().expect("a string").to_owned())
        .collect()
}

/// A fresh idempotency key, as the client makes one at S6.
pub fn idempotency_key() -> String {
    format!("test-{:032x}", rand::random::<u128>())
}

/// An applicant that passes every rule.
pub fn valid_applicant() -> Value {
    json!({
        "name": "山田 太郎",
        "phone": "03-1234-5678",
        "email": "taro@example.jp",
        "wants_mail": true,
    })
}

/// Today's date in Japan, `YYYY-MM-DD`.
pub fn today_jst() -> String {
    kaisen::state::now().jst_date().to_string()
}
