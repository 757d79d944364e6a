//! Two portals, one database (SPEC §9): two real `kaisen serve` processes
//! on one private PostgreSQL database, 64 clients spread across both, and
//! every promise of §4 kept across them:
//!
//! - an idempotency key replayed on both portals at once is one
//!   application, and every answer is its receipt;
//! - two sessions of a line racing for one provider, one on each portal,
//!   get one receipt and one refusal;
//! - each change is applied once, by whichever portal's worker, and each
//!   wished mail is sent once, by whichever portal's mailer (counted in
//!   both portals' logs and mail folders);
//! - a lockout started through one portal holds on the other, and a
//!   session started on one is good on the other (no sticky sessions).

// The crash test's fixture, mail folder and server process; this test
// uses only part of each.
#[allow(dead_code)]
#[path = "crash/fixture.rs"]
mod fixture;
#[allow(dead_code)]
#[path = "crash/mail.rs"]
mod mail;
#[allow(dead_code)]
#[path = "crash/server.rs"]
mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use fixture::{LINES, Workspace, access_key, customer_id, provider_code};
use kaisen::store::{Location, Purpose, Store};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::ServerProcess;
use shared::domain::{ApplicationId, ApplicationState};

/// Held by each test for its whole run: each starts two portals and
/// clusters and loads both cores, and a test's failures are read as the
/// portals', not as the neighbour's load (a two-portal run once lost its
/// connections while the failover test ran beside it).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Lines in play: each with one client on each portal (64 clients).
const PAIRS: usize = 32;
/// Rounds each pair plays.
const ROUNDS: usize = 3;
/// The portals' work delay: work completes during the test.
const WORK_DELAY: &str = "2s";

/// A logged-in client of one line on one portal.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn log_in(base: &str, line: usize) -> Self {
        // Idle connections are dropped before the portal's header-read
        // timeout (10 s) would close them under a request in flight: the
        // 64 logins take longer than that on a loaded machine.
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .expect("a client");
        let client = Self {
            http,
            base: base.to_owned(),
        };
        for _ in 0..200 {
            let (status, body) = client
                .post(
                    "/api/session",
                    &json!({"customer_id": customer_id(line), "access_key": access_key(line)}),
                )
                .await;
            match status {
                StatusCode::OK => return client,
                // Every hashing slot taken: its turn comes.
                StatusCode::SERVICE_UNAVAILABLE => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                _ => panic!("login of line {line} failed: {status} {body}"),
            }
        }
        panic!("login of line {line} still busy");
    }

    async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .json(body)
            .send()
            .await
            .expect("the portal answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("the portal answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A complete draft changing `provider` to `setting`, with a new key.
    async fn draft(&self, setting: &str, provider: &str) -> Value {
        let (_, consent) = self.get("/api/consent").await;
        json!({
            "idempotency_key": format!("{:032x}", rand::random::<u128>()),
            "consent_hash": consent["hash"],
            "setting": setting,
            "providers": [provider],
            "applicant": {
                "name": "山田太郎",
                "phone": "03-1234-5678",
                "email": "taro@example.jp",
                "wants_mail": true,
            },
        })
    }
}

/// The setting that changes `provider` for the line now: 「通知する」 if
/// it is not notified, else 「通知しない」.
async fn flip(client: &Client, provider: &str) -> &'static str {
    let (_, rows) = client.get("/api/notifications").await;
    let notified = rows
        .as_array()
        .is_some_and(|rows| rows.iter().any(|r| r["provider"] == provider));
    if notified { "do_not_notify" } else { "notify" }
}

/// Waits until nothing is left to do: every application completed and
/// its wished mail sent.
async fn wait_until_done(store: &Store) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let audit = store.audit().await.expect("the database reads");
        let open = audit
            .applications
            .iter()
            .filter(|a| {
                a.state != ApplicationState::Completed
                    || (a.applicant.wants_mail && a.mail_sent_at.is_none())
            })
            .count();
        if open == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{open} applications not done");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How often each application appears in a log line with `needle`.
fn logged(logs: &[String], needle: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for log in logs {
        for line in log.lines().filter(|l| l.contains(needle)) {
            if let Some(id) = line
                .split(|c: char| !c.is_ascii_digit())
                .find(|word| word.len() == 16 && ApplicationId::parse(word).is_ok())
            {
                *counts.entry(id.to_owned()).or_insert(0) += 1;
            }
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_portals_on_one_database_keep_every_promise_across_them() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let cluster = tokio::task::spawn_blocking(|| {
        testkit::Cluster::start(testkit::Options::default()).expect("a private cluster")
    })
    .await
    .expect("no panic");
    let url = cluster.url();
    let (a, b) = (Workspace::on_postgres(&url), Workspace::on_postgres(&url));
    let binary = a.install_binary(std::path::Path::new(env!("CARGO_BIN_EXE_kaisen")));
    a.import(&binary);
    let portal_a = ServerProcess::start(&binary, &a, WORK_DELAY).await;
    let portal_b = ServerProcess::start(&binary, &b, WORK_DELAY).await;
    let bases = [portal_a.base.clone(), portal_b.base.clone()];

    // 64 clients: each line logged in on both portals.
    let mut pairs = Vec::new();
    for line in 0..PAIRS {
        let on_a = Client::log_in(&bases[0], line).await;
        let on_b = Client::log_in(&bases[1], line).await;
        pairs.push((line, on_a, on_b));
    }

    let rounds: Vec<_> = pairs
        .iter()
        .cloned()
        .map(|(line, on_a, on_b)| {
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                for round in 0..ROUNDS {
                    let provider = provider_code((line + round * 7) % fixture::PROVIDERS);
                    // A race for one provider, one session on each portal.
                    let setting = flip(&on_a, &provider).await;
                    let (draft_a, draft_b) = (
                        on_a.draft(setting, &provider).await,
                        on_b.draft(setting, &provider).await,
                    );
                    let ((status_a, body_a), (status_b, body_b)) = tokio::join!(
                        on_a.post("/api/applications", &draft_a),
                        on_b.post("/api/applications", &draft_b),
                    );
                    outcomes.push(("race", line, vec![(status_a, body_a), (status_b, body_b)]));
                    // One key sent to both portals at once, four times each.
                    let other = provider_code((line + round * 7 + 13) % fixture::PROVIDERS);
                    let setting = flip(&on_a, &other).await;
                    let replayed = on_a.draft(setting, &other).await;
                    let sends = (0..8).map(|i| {
                        let (client, draft) = (if i % 2 == 0 { &on_a } else { &on_b }, &replayed);
                        async move { client.post("/api/applications", draft).await }
                    });
                    let answers = futures_util::future::join_all(sends).await;
                    outcomes.push(("replay", line, answers));
                    // Let this round's work finish before the next flips.
                    tokio::time::sleep(Duration::from_millis(2500)).await;
                }
                outcomes
            })
        })
        .collect();
    let mut acknowledged = BTreeSet::new();
    for round in rounds {
        for (kind, line, answers) in round.await.expect("no panic") {
            let created: Vec<_> = answers
                .iter()
                .filter(|(s, _)| *s == StatusCode::CREATED)
                .collect();
            match kind {
                "race" => {
                    let mut statuses: Vec<_> = answers.iter().map(|(s, _)| *s).collect();
                    statuses.sort();
                    // Both busy is fine too when the provider's earlier
                    // change is still worked; never two receipts.
                    assert!(created.len() <= 1, "line {line}: two receipts {answers:?}");
                    if created.len() == 1 {
                        assert_eq!(
                            statuses,
                            [StatusCode::CREATED, StatusCode::CONFLICT],
                            "line {line}: {answers:?}"
                        );
                    }
                }
                _ => {
                    assert_eq!(
                        created.len(),
                        1,
                        "line {line}: one 201 for one key: {answers:?}"
                    );
                    let id = &created[0].1["id"];
                    for (status, body) in &answers {
                        assert!(
                            [StatusCode::OK, StatusCode::CREATED].contains(status),
                            "{status} {body}"
                        );
                        assert_eq!(&body["id"], id, "every answer is the one receipt");
                    }
                }
            }
            for (_, body) in &created {
                acknowledged.insert(body["id"].as_str().expect("an ID").to_owned());
            }
        }
    }

    let store = Store::open(&Location::Postgres(url.clone()), Purpose::Serve)
        .await
        .expect("the database opens");
    wait_until_done(&store).await;
    let audit = store.audit().await.expect("the database reads");
    let stored: BTreeSet<String> = audit
        .applications
        .iter()
        .map(|a| a.id.to_string())
        .collect();
    assert_eq!(
        stored, acknowledged,
        "every acknowledged receipt stored, nothing else"
    );
    assert!(audit.work.is_empty() && audit.pending.is_empty() && audit.outbox.is_empty());

    // Each change applied once and each mail sent once, by either portal.
    let logs: Vec<String> = [&a, &b]
        .iter()
        .map(|w| std::fs::read_to_string(&w.log).expect("the log reads"))
        .collect();
    let completed = logged(&logs, "work completed");
    let sent = logged(&logs, "completion mail sent");
    for id in &acknowledged {
        assert_eq!(completed.get(id), Some(&1), "{id} completed once");
        assert_eq!(sent.get(id), Some(&1), "{id} mailed once");
    }
    let (mails_a, mails_b) = (mail::scan(&a.mail).mails, mail::scan(&b.mail).mails);
    assert!(mails_a.is_disjoint(&mails_b), "no mail written by both");
    let mails: BTreeSet<String> = mails_a.union(&mails_b).map(ToString::to_string).collect();
    assert_eq!(mails, acknowledged);
    let by_both = [&completed, &sent]
        .iter()
        .map(|counts| counts.keys().count())
        .collect::<Vec<_>>();
    eprintln!(
        "two portals: {} applications, completions logged {by_both:?}, mails {} + {}",
        acknowledged.len(),
        mails_a.len(),
        mails_b.len()
    );

    // A lockout started on portal A holds on portal B.
    let locked_line = LINES - 1;
    let http = reqwest::Client::new();
    for _ in 0..10 {
        let status = http
            .post(format!("{}/api/session", bases[0]))
            .json(&json!({"customer_id": customer_id(locked_line), "access_key": "Wrong-Key-0000"}))
            .send()
            .await
            .expect("answered")
            .status();
        assert!(
            [StatusCode::UNAUTHORIZED, StatusCode::LOCKED].contains(&status),
            "{status}"
        );
    }
    let on_b = http
        .post(format!("{}/api/session", bases[1]))
        .json(&json!({"customer_id": customer_id(locked_line), "access_key": access_key(locked_line)}))
        .send()
        .await
        .expect("answered");
    assert_eq!(
        on_b.status(),
        StatusCode::LOCKED,
        "the right key does not open it on B"
    );

    // A session started on A is good on B.
    let (_, on_a, on_b) = &pairs[0];
    let moved = Client {
        http: on_a.http.clone(),
        base: bases[1].clone(),
    };
    assert_eq!(moved.get("/api/session").await.0, StatusCode::OK);

    operators_work_while_both_serve(&binary, &a, [on_a, on_b], &acknowledged).await;
    drop((portal_a, portal_b));
}

/// The operator's subcommands against the database both portals serve
/// (SPEC §9): `import` adds a provider, which both portals then offer (each
/// process's cached catalogue sees the version move), `application` finds
/// a receipt, `export` writes every application.
async fn operators_work_while_both_serve(
    binary: &std::path::Path,
    workspace: &Workspace,
    clients: [&Client; 2],
    acknowledged: &BTreeSet<String>,
) {
    let run = |args: &[&std::ffi::OsStr]| {
        let output = std::process::Command::new(binary)
            .args(args)
            .args(&workspace.database)
            .output()
            .expect("kaisen runs");
        assert!(
            output.status.success(),
            "kaisen {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8 output")
    };
    let offered = async |client: &Client| {
        let (status, page) = client.get("/api/providers?page=1").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["total"].as_u64().expect("a total")
    };
    let before = [offered(clients[0]).await, offered(clients[1]).await];

    let file = workspace.root.path().join("added.json");
    let added = json!({"providers": [
        {"code": "Z9999", "service_name": "運用中追加サービス", "name": "運用中追加株式会社"}
    ]});
    std::fs::write(&file, added.to_string()).expect("the import file written");
    run(&["import".as_ref(), file.as_os_str()]);
    for (client, before) in clients.into_iter().zip(before) {
        assert_eq!(
            offered(client).await,
            before + 1,
            "a portal offers the provider imported while it serves"
        );
    }

    let id = acknowledged.first().expect("an application");
    let found = run(&["application".as_ref(), id.as_ref()]);
    assert!(found.contains(id.as_str()), "the receipt of {id}: {found}");

    let export = workspace.root.path().join("export.jsonl");
    run(&["export".as_ref(), export.as_os_str()]);
    let exported = std::fs::read_to_string(&export).expect("the export reads");
    for id in acknowledged {
        assert!(exported.contains(id.as_str()), "{id} exported");
    }
}

/// Clients submitting during the failover.
const FAILOVER_CLIENTS: usize = 16;

/// Keeps `client` submitting changes of the line's providers until `stop`,
/// returning the IDs of every receipt it received, and when the first and
/// last refusal or failure (no receipt) happened.
async fn keep_submitting(
    client: Client,
    line: usize,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> (BTreeSet<String>, Vec<Instant>) {
    let (mut acked, mut failures) = (BTreeSet::new(), Vec::new());
    let mut round = 0;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let provider = provider_code((line * 5 + round) % fixture::PROVIDERS);
        round += 1;
        let body = match client.try_get("/api/notifications").await {
            Some((StatusCode::OK, rows)) => rows,
            _ => {
                failures.push(Instant::now());
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let notified = body
            .as_array()
            .is_some_and(|rows| rows.iter().any(|r| r["provider"] == provider));
        let setting = if notified { "do_not_notify" } else { "notify" };
        let Some((StatusCode::OK, consent)) = client.try_get("/api/consent").await else {
            failures.push(Instant::now());
            continue;
        };
        let draft = json!({
            "idempotency_key": format!("{:032x}", rand::random::<u128>()),
            "consent_hash": consent["hash"],
            "setting": setting,
            "providers": [provider],
            "applicant": {
                "name": "山田太郎",
                "phone": "03-1234-5678",
                "email": "taro@example.jp",
                "wants_mail": true,
            },
        });
        // A submission cut off by the failover is sent again, same key,
        // until it is answered: a receipt, or a refusal (409).
        loop {
            match client.try_post("/api/applications", &draft).await {
                Some((StatusCode::CREATED | StatusCode::OK, receipt)) => {
                    acked.insert(receipt["id"].as_str().expect("an ID").to_owned());
                    break;
                }
                Some((StatusCode::CONFLICT, _)) => break,
                // No answer, or the database out of reach: again.
                None | Some((StatusCode::SERVICE_UNAVAILABLE, _)) => {
                    failures.push(Instant::now());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Some((status, body)) => panic!("line {line}: {status} {body}"),
            }
        }
    }
    (acked, failures)
}

impl Client {
    /// `GET path`, or `None` when the portal did not answer.
    async fn try_get(&self, path: &str) -> Option<(StatusCode, Value)> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .ok()?;
        let status = response.status();
        Some((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// `POST path`, or `None` when the portal did not answer.
    async fn try_post(&self, path: &str, body: &Value) -> Option<(StatusCode, Value)> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .ok()?;
        let status = response.status();
        Some((status, response.json().await.unwrap_or(Value::Null)))
    }
}

/// Failover (SPEC §9): a primary with a synchronous standby, two portals
/// given both hosts (`target_session_attrs=read-write`). Under load the
/// primary is killed with SIGKILL and the standby promoted: the portals
/// carry on against the new primary within seconds, and every receipt
/// acknowledged before the kill (and after) is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_primary_dies_and_the_standby_is_promoted_every_acknowledged_receipt_is_there() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (primary, standby) = tokio::task::spawn_blocking(|| {
        let sync = testkit::Options {
            fsync: true,
            ..testkit::Options::default()
        };
        let primary = testkit::Cluster::start(sync.clone()).expect("the primary starts");
        let standby = testkit::Cluster::start_standby(
            &primary,
            testkit::Options {
                name: Some("standby".into()),
                ..sync
            },
        )
        .expect("the standby starts");
        primary
            .require_synchronous_standby("standby")
            .expect("the standby is synchronous");
        (primary, standby)
    })
    .await
    .expect("no panic");
    let url = format!(
        "postgres://kaisen@{},{}/kaisen?target_session_attrs=read-write",
        primary.host_spec(),
        standby.host_spec()
    );
    let (a, b) = (Workspace::on_postgres(&url), Workspace::on_postgres(&url));
    let binary = a.install_binary(std::path::Path::new(env!("CARGO_BIN_EXE_kaisen")));
    a.import(&binary);
    let portals = [
        ServerProcess::start(&binary, &a, "1h").await,
        ServerProcess::start(&binary, &b, "1h").await,
    ];
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for line in 0..FAILOVER_CLIENTS {
        let client = Client::log_in(&portals[line % 2].base, line).await;
        clients.push(tokio::spawn(keep_submitting(client, line, stop.clone())));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let killed = Instant::now();
    let standby = tokio::task::spawn_blocking(move || {
        primary.kill9().expect("the primary is killed");
        standby.promote().expect("the standby is promoted");
        drop(primary);
        standby
    })
    .await
    .expect("no panic");
    let promoted = killed.elapsed();
    // Load goes on against the new primary.
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (mut acked, mut last_failure) = (BTreeSet::new(), None::<Instant>);
    for client in clients {
        let (ids, failures) = client.await.expect("no panic");
        acked.extend(ids);
        last_failure = last_failure.max(failures.last().copied());
    }
    let store = Store::open(&Location::Postgres(standby.url()), Purpose::Serve)
        .await
        .expect("the new primary opens");
    let audit = store.audit().await.expect("the database reads");
    let stored: BTreeSet<String> = audit
        .applications
        .iter()
        .map(|a| a.id.to_string())
        .collect();
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "acknowledged and lost in the failover: {lost:?}"
    );
    let after = audit.applications.len();
    let recovered = last_failure.map(|at| at.saturating_duration_since(killed));
    eprintln!(
        "failover: {} receipts acknowledged, {} stored; standby promoted {promoted:.1?} after the kill; \
         last failed request {recovered:.1?} after the kill",
        acked.len(),
        after
    );
    assert!(
        recovered.is_none_or(|r| r < Duration::from_secs(15)),
        "the portals carried on within seconds: {recovered:?}"
    );
    drop(portals);
}
