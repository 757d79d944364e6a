//! Hostile input (issue 4, point 8): a seeded storm of at least 10,000
//! malformed, oversized, wrongly typed and unicode-hostile requests across
//! every route and method, against the real server on `127.0.0.1`. Zero
//! 5xx, zero panics, every `/api` error an `ErrorBody`, and the portal
//! still works afterwards.
//!
//! Reproduce a failure with the printed seed:
//! `KAISEN_FUZZ_SEED=<seed> cargo test -p kaisen-server --test fuzz -- --nocapture`
//! (`KAISEN_FUZZ_REQUESTS` sends more).

#[path = "api/helpers.rs"]
#[expect(
    dead_code,
    reason = "the API tests' helpers, of which this binary uses a few"
)]
mod helpers;
#[path = "fuzz/hostile.rs"]
mod hostile;
#[path = "fuzz/raw.rs"]
mod raw;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use shared::api::ErrorBody;
use shared::domain::{CustomerId, PersonName};

use helpers::{APP_JS, INDEX_HTML, LINE_A, LINE_B, spawn_app_with};
use hostile::{Case, Context, case, checks_a_key, is_login, route_path};
use raw::{RawRequest, RawResponse, send, truncate};

/// The fewest requests a run sends.
const MIN_REQUESTS: u64 = 10_000;
/// Requests in flight at once.
const CONCURRENCY: usize = 16;
/// How long one request may take before it counts as unanswered.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Sessions made for each fixture line before the storm.
const SESSIONS_PER_LINE: usize = 16;
/// Sessions made for each line for the storm's logouts to end.
const DISPOSABLE_SESSIONS: usize = 200;

/// Panics anywhere in this process since the hook was installed: the
/// server runs in-process, so a handler's panic is counted here.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// What the storm saw.
#[derive(Default)]
struct Tally {
    /// (category, status) → count; status 0 means no response.
    statuses: BTreeMap<(&'static str, u16), u64>,
    /// Refusals by hyper itself, before the app (no security headers).
    transport: BTreeMap<u16, u64>,
    /// (category) → (requests, total milliseconds waited for answers).
    latency: BTreeMap<&'static str, (u64, u128)>,
    /// Statuses of the requests the router sends to the login handler.
    logins: BTreeMap<u16, u64>,
    /// What went wrong, one line each (the first few in full).
    failures: Vec<String>,
    failure_count: u64,
}

impl Tally {
    fn fail(&mut self, index: u64, case: &Case, why: String) {
        self.failure_count += 1;
        if self.failures.len() < 20 {
            self.failures.push(format!(
                "request #{index} ({}): {why}\n  {}",
                case.category,
                case.request.describe()
            ));
        }
    }
}

/// Whether `response` came from the app (every app response carries the
/// security headers) rather than from hyper refusing the request itself.
fn from_app(response: &RawResponse) -> bool {
    response.header("content-security-policy").is_some()
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// Checks one response against the promises; records what it saw.
fn check(tally: &mut Tally, index: u64, case: &Case, outcome: Result<RawResponse, String>) {
    let request = &case.request;
    let response = match outcome {
        Ok(response) => response,
        Err(e) => {
            *tally.statuses.entry((case.category, 0)).or_default() += 1;
            tally.fail(index, case, format!("no response: {e}"));
            return;
        }
    };
    let status = response.status;
    *tally.statuses.entry((case.category, status)).or_default() += 1;
    if status >= 500 {
        tally.fail(
            index,
            case,
            format!(
                "status {status}: {}",
                truncate(&String::from_utf8_lossy(&response.body), 300)
            ),
        );
        return;
    }
    if !from_app(&response) {
        *tally.transport.entry(status).or_default() += 1;
        if !(400..500).contains(&status) {
            tally.fail(index, case, format!("hyper answered {status}"));
        }
        return;
    }
    if response.header("x-content-type-options") != Some("nosniff") {
        tally.fail(index, case, "no X-Content-Type-Options".into());
    }
    let path = route_path(&request.target);
    let head = request.method.eq_ignore_ascii_case("HEAD");
    if is_login(request) {
        *tally.logins.entry(status).or_default() += 1;
        if status < 300 {
            tally.fail(index, case, format!("a login without the key got {status}"));
        }
    }
    if is_api(&path) {
        if response.header("cache-control") != Some("no-store") {
            tally.fail(index, case, format!("status {status} without no-store"));
        }
        if status >= 400 && !head {
            match serde_json::from_slice::<ErrorBody>(&response.body) {
                Ok(body) if !body.message.is_empty() => {}
                _ => tally.fail(
                    index,
                    case,
                    format!(
                        "status {status}, not an ErrorBody ({}): {}",
                        response.header("content-type").unwrap_or("no content type"),
                        truncate(&String::from_utf8_lossy(&response.body), 300)
                    ),
                ),
            }
        }
    } else if status == 200 && !head {
        // Whatever the path, the static side serves the client and nothing
        // else: no traversal out of the site folder.
        let body = response.body.as_slice();
        if body != INDEX_HTML.as_bytes() && body != APP_JS.as_bytes() {
            tally.fail(
                index,
                case,
                format!(
                    "static 200 with unexpected content: {}",
                    truncate(&String::from_utf8_lossy(body), 200)
                ),
            );
        }
    }
}

/// Makes `count` sessions for `line` straight in the store, as a login
/// would, without spending Argon2 on each.
async fn make_sessions(app: &helpers::TestApp, line: &str, count: usize) -> Vec<String> {
    let line = CustomerId::parse(line).expect("a fixture line");
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let id = format!("{:032x}", rand::random::<u128>());
        let now = kaisen::state::now();
        let session = kaisen::store::NewSession {
            id: id.clone(),
            record: kaisen::store::SessionRecord {
                customer_id: line.clone(),
                created_at: now,
                last_seen: now,
            },
            replacing: None,
        };
        app.store
            .login(&line, &session)
            .await
            .expect("a session is stored");
        ids.push(id);
    }
    ids
}

/// Sends `total` generated requests from `CONCURRENCY` workers. Logins
/// that will run Argon2 go one at a time, so that they never find every
/// hashing slot taken (whose 503 is a deliberate answer, measured by
/// `measure_login`).
async fn storm(addr: SocketAddr, seed: u64, total: u64, ctx: Arc<Context>) -> Tally {
    let next = Arc::new(AtomicU64::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let logins = Arc::new(tokio::sync::Mutex::new(()));
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (next, tally, logins, ctx) = (next.clone(), tally.clone(), logins.clone(), ctx.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    return;
                }
                let case = case(seed, index, &ctx);
                let sent_at = Instant::now();
                let outcome = if checks_a_key(&case.request) {
                    let _one_at_a_time = logins.lock().await;
                    send(addr, &case.request, REQUEST_TIMEOUT).await
                } else {
                    send(addr, &case.request, REQUEST_TIMEOUT).await
                };
                let waited = sent_at.elapsed().as_millis();
                let mut tally = tally
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let latency = tally.latency.entry(case.category).or_default();
                latency.0 += 1;
                latency.1 += waited;
                check(&mut tally, index, &case, outcome);
            }
        }));
    }
    for worker in workers {
        worker.await.expect("a storm worker does not panic");
    }
    Arc::try_unwrap(tally)
        .ok()
        .expect("every worker is done")
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn print_tally(tally: &Tally) {
    let mut by_category: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for ((category, status), count) in &tally.statuses {
        by_category
            .entry(category)
            .or_default()
            .push(format!("{status}×{count}"));
    }
    for (category, statuses) in by_category {
        let sent: u64 = tally
            .statuses
            .iter()
            .filter(|((c, _), _)| *c == category)
            .map(|(_, n)| n)
            .sum();
        let (n, ms) = tally.latency.get(category).copied().unwrap_or((1, 0));
        println!(
            "  {category:<13} {sent:>5}  {:>4} ms avg  {}",
            ms / u128::from(n.max(1)),
            statuses.join(" ")
        );
    }
    println!("  refused by hyper before the app: {:?}", tally.transport);
    println!("  login handler statuses: {:?}", tally.logins);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_hostile_requests_get_no_5xx_no_panic_and_leave_the_portal_working() {
    count_panics();
    let seed = env_u64("KAISEN_FUZZ_SEED").unwrap_or_else(rand::random);
    let total = env_u64("KAISEN_FUZZ_REQUESTS").map_or(MIN_REQUESTS, |n| n.max(MIN_REQUESTS));
    println!("fuzz seed {seed}, {total} requests, {CONCURRENCY} at a time");
    // The storm's logins come "through" 127.0.0.1 as a trusted proxy, for
    // many client addresses, so that the per-address limit is spread.
    let app =
        spawn_app_with(|c| c.trusted_proxies = vec!["127.0.0.1".parse().expect("an IP")]).await;
    let addr: SocketAddr = app
        .address
        .trim_start_matches("http://")
        .parse()
        .expect("a socket address");
    let a = app.line_a().await;
    let mut sessions = make_sessions(&app, LINE_A, SESSIONS_PER_LINE).await;
    sessions.extend(make_sessions(&app, LINE_B, SESSIONS_PER_LINE).await);
    let mut disposable = make_sessions(&app, LINE_A, DISPOSABLE_SESSIONS).await;
    disposable.extend(make_sessions(&app, LINE_B, DISPOSABLE_SESSIONS).await);
    let ctx = Arc::new(Context {
        sessions,
        disposable,
        consent_hash: a.consent_hash().await,
    });
    let panics_before = PANICS.load(Ordering::SeqCst);

    let started = Instant::now();
    let tally = storm(addr, seed, total, ctx).await;
    let elapsed = started.elapsed();

    let panics = PANICS.load(Ordering::SeqCst) - panics_before;
    println!(
        "fuzz seed {seed}: {total} requests in {:.1} s ({:.0}/s), {} failures, {panics} panics",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        tally.failure_count
    );
    print_tally(&tally);
    assert!(
        tally.failures.is_empty(),
        "seed {seed}: {} of {total} requests broke a promise; the first:\n{}",
        tally.failure_count,
        tally.failures.join("\n")
    );
    assert_eq!(panics, 0, "seed {seed}: the server panicked");

    // Afterwards: a normal login from this address, the top page, a submit.
    let a = app.line_a().await;
    let line = a.get("/api/line").await;
    assert_eq!(line.status, StatusCode::OK, "{}", line.body);
    assert_eq!(line.body["customer_id"], LINE_A);
    let receipt = a.submit("notify", &["W0040"]).await;
    assert_eq!(receipt.status, StatusCode::CREATED, "{}", receipt.body);
    let b = app.line_b().await;
    assert_eq!(b.get("/api/line").await.body["customer_id"], LINE_B);

    // Every application the storm managed to store reads back, and its name
    // is one the rules accept.
    for client in [&a, &b] {
        let history = client.get("/api/applications").await;
        assert_eq!(history.status, StatusCode::OK, "{}", history.body);
        for row in helpers::rows(&history.body) {
            let id = row["id"].as_str().expect("an ID");
            let again = client.get(&format!("/api/applications/{id}")).await;
            assert_eq!(again.status, StatusCode::OK, "{}", again.body);
        }
    }
    let audit = app
        .store
        .audit()
        .await
        .expect("every stored record decodes");
    let mut invisible: Vec<&str> = audit
        .applications
        .iter()
        .map(|a| a.applicant.name.as_str())
        .filter(|name| name.chars().any(is_invisible_or_bidi))
        .collect();
    invisible.sort_unstable();
    invisible.dedup();
    println!(
        "{} applications stored; names with invisible or bidi characters accepted: {invisible:?}",
        audit.applications.len(),
    );
    for application in &audit.applications {
        let name = application.applicant.name.as_str();
        assert!(
            PersonName::parse(name, shared::domain::nfkc).is_ok(),
            "a stored name fails the name rule: {name:?}"
        );
    }
    assert_eq!(PANICS.load(Ordering::SeqCst) - panics_before, 0);
}

/// Format characters that change how a name displays without showing:
/// zero-width ones, bidi embeddings, overrides and isolates, the BOM.
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Sends one request and returns the response, for the edge cases below.
async fn one(app: &helpers::TestApp, request: &RawRequest) -> RawResponse {
    let addr: SocketAddr = app
        .address
        .trim_start_matches("http://")
        .parse()
        .expect("a socket address");
    send(addr, request, REQUEST_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("no response to {}: {e}", request.describe()))
}

#[tokio::test]
async fn an_application_id_that_does_not_decode_to_utf8_is_not_found_with_an_error_body() {
    let app = spawn_app_with(|_| {}).await;
    let sessions = make_sessions(&app, LINE_A, 1).await;

    for path in [
        "/api/applications/%FF%FE",
        "/api/applications/%C0%AE",
        "/api/applications/%ED%A0%80",
        "/api/applications/%F0%9F%92%A9",
        "/api/applications/%00",
    ] {
        let request = RawRequest::new("GET", path)
            .header("Cookie", format!("kaisen_session={}", sessions[0]));
        let response = one(&app, &request).await;

        assert_eq!(response.status, 404, "{path}");
        let body: ErrorBody = serde_json::from_slice(&response.body)
            .unwrap_or_else(|e| panic!("{path}: not an ErrorBody ({e})"));
        assert_eq!(body.message, "お探しの情報は見つかりませんでした", "{path}");
    }
}

#[tokio::test]
async fn a_static_path_that_cannot_name_a_file_gets_the_client_and_not_a_500() {
    let app = spawn_app_with(|_| {}).await;
    let long_name = format!("/{}", "a".repeat(300));
    let long_path = format!("/{}", "b/".repeat(3_000));

    for path in [
        long_name.as_str(),
        long_path.as_str(),
        "/index.html%00",
        "/app.js%00.html",
        "/%00",
    ] {
        for method in ["GET", "HEAD"] {
            let response = one(&app, &RawRequest::new(method, path)).await;

            assert_eq!(response.status, 200, "{method} {}", truncate(path, 40));
            if method == "GET" {
                assert_eq!(response.body, INDEX_HTML.as_bytes());
            }
        }
    }
}

#[tokio::test]
async fn an_asset_path_that_cannot_name_a_file_is_not_found_and_not_a_500() {
    let app = spawn_app_with(|_| {}).await;
    let long_name = format!("/assets/{}", "a".repeat(300));
    let long_path = format!("/assets/{}", "b/".repeat(3_000));

    for path in [
        long_name.as_str(),
        long_path.as_str(),
        "/assets/app.js%00",
        "/assets/app.js%00.html",
        "/assets/%00",
    ] {
        for method in ["GET", "HEAD"] {
            let response = one(&app, &RawRequest::new(method, path)).await;

            assert_eq!(response.status, 404, "{method} {}", truncate(path, 40));
            assert_eq!(response.header("cache-control"), None, "{path}");
        }
    }
}
