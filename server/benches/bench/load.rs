//! Under load on loopback, on each engine: the S2 list and an S3 page,
//! provider lookups (each a durable disclosure), durable submissions at 16 and 64 clients, S2 reads while 50 clients
//! flood the login; on PostgreSQL also two portals on one database, the
//! clients split between them; and once, a bare axum handler returning the
//! same JSON (the floor).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kaisen::store::Location;

use crate::http::{self, Conn, Outcome, Plan};
use crate::lookups;
use crate::server::{self, Server, cpu_secs, spawn_self};
use crate::stores::{Engine, Stores};
use crate::table::{Column, Table, thousands};

/// Providers in the bench's data, as many as issue 6 names.
const PROVIDERS: usize = 1_000;
/// Providers each line has set to 「通知する」 (the rows of its S2 list).
const NOTIFY: usize = 10;
/// Clients reading S2/S3 at once.
const READERS: usize = 32;
/// Clients flooding the login.
const FLOODERS: usize = 50;
/// Each read run's warm-up (connections, caches) before it is measured.
const WARM_UP: Duration = Duration::from_millis(500);
/// The submission runs: clients, each on a line of its own, and through
/// how many portals. Their lines follow the readers' in this order.
const SUBMISSIONS: [(usize, usize); 3] = [(16, 1), (64, 1), (64, 2)];
/// Every line: the readers', the submitters' of each run, and one that
/// reads during the flood.
const LINES: usize = READERS + 16 + 64 + 64 + 1;
/// `kaisen serve`'s flags: the bench's own logins (one per line, from the
/// loopback) under the per-address login limit.
const SERVE_FLAGS: [&str; 8] = [
    "--trusted-proxy",
    "127.0.0.1",
    "--logins-per-address",
    "100000",
    "--provider-rate",
    "1000000",
    "--provider-burst",
    "1000000",
];

const S2: &str = "/api/notifications";
const S3: &str = "/api/providers?page=1";

/// Runs every load measurement for `secs` each, on each engine, printing
/// each figure as it is measured and putting it in `table`.
pub async fn run(secs: u64, stores: &Stores, table: &mut Table) {
    let time = Duration::from_secs(secs);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let site = dir.path().join("site");
    std::fs::create_dir(&site).expect("site made");
    std::fs::write(site.join("index.html"), "<!doctype html>").expect("index written");
    let file = dir.path().join("import.json");
    server::write_import(
        std::fs::File::create(&file).expect("file made"),
        PROVIDERS,
        1,
        LINES as u64,
        NOTIFY,
        &server::key_hash(),
    )
    .expect("import file written");
    let registration = lookups::Registration::new();
    let registration_file = dir.path().join("registration.json");
    registration.write_import(&registration_file, READERS as u64, &server::key_hash());

    println!();
    println!("Server under load (loopback; the load generator shares the 2 cores)");
    println!(
        "{:<10} {:<52} {:>9} {:>8} {:>8} {:>20}  answers",
        "", "", "answers/s", "p50 ms", "p99 ms", "CPU µs/answer: srv db gen"
    );
    let mut bodies = None;
    for &engine in stores.engines() {
        let db = stores.create(engine, dir.path(), "load");
        server::import(&file, &db);
        server::import(&registration_file, &db);
        let measured = measure(engine, &db, &site, time, stores, &registration, table).await;
        bodies.get_or_insert(measured);
        stores.remove(&db);
    }
    if let Some((s2_body, s3_body)) = bodies {
        floor(&s2_body, &s3_body, time, table).await;
    }
}

/// Every figure on one engine's store `db`, which holds the bench's
/// lines; answers the S2 and S3 bodies, for the floor.
async fn measure(
    engine: Engine,
    db: &Location,
    site: &Path,
    time: Duration,
    stores: &Stores,
    registration: &lookups::Registration,
    table: &mut Table,
) -> (Vec<u8>, Vec<u8>) {
    let server = Server::start(db, site, &SERVE_FLAGS).await;
    let database = (engine == Engine::Postgres)
        .then(|| stores.postmaster())
        .flatten();
    let addr = server.addr;
    let mut conn = Conn::connect(addr).await.expect("connected");
    let mut sessions = Vec::with_capacity(LINES);
    for n in 1..=LINES {
        sessions.push(
            server
                .login(&mut conn, &server::customer_id(n as u64))
                .await,
        );
    }
    drop(conn);
    let sessions = Arc::new(sessions);
    let mut put = Put {
        table,
        column: engine.column(),
        label: engine.name(),
        cpu: Cpu {
            servers: vec![server.pid()],
            database,
        },
    };

    // S2 and S3.
    let reading = Plan {
        clients: READERS,
        requests: 2_000_000,
        time,
    };
    let s2_body = body(addr, S2, &sessions[0]).await;
    let s3_body = body(addr, S3, &sessions[0]).await;
    let outcome = read(&[addr], reading, S2, Some(sessions.clone()), &put.cpu).await;
    put.rate(&s2_figure(), S2_GOAL, &outcome, 200);
    let outcome = read(&[addr], reading, S3, Some(sessions.clone()), &put.cpu).await;
    put.rate(
        &format!("S3 page (GET {S3}), {READERS} clients"),
        "≥ 10,000/s, p99 ≤ 10 ms",
        &outcome,
        200,
    );

    // Provider lookups: each answer a disclosure recorded durably.
    let token = registration.token(addr).await;
    let warm = Plan {
        time: WARM_UP,
        ..reading
    };
    lookups::run(&[addr], warm, &token, READERS as u64).await;
    let before = put.cpu.used();
    let mut outcome = lookups::run(&[addr], reading, &token, READERS as u64).await;
    outcome.charge(before, put.cpu.used());
    put.rate(
        &format!("provider lookups, {READERS} clients (each a durable disclosure)"),
        "PostgreSQL ≥ 5,000/s, p99 ≤ 20 ms",
        &outcome,
        200,
    );

    // Durable submissions: each client its own line, one provider after
    // another, each answered only once flushed to the disk.
    let consent: serde_json::Value =
        serde_json::from_slice(&body(addr, "/api/consent", &sessions[0]).await)
            .expect("consent JSON");
    let consent_hash = consent["hash"].as_str().expect("a hash").to_owned();
    let mut first = READERS;
    let mut two_portals = None;
    for (clients, portals) in SUBMISSIONS {
        let run = Submissions {
            clients,
            first,
            time,
            sessions: sessions.clone(),
            consent_hash: consent_hash.clone(),
        };
        first += clients;
        if portals == 1 {
            let outcome = run.submit(&[addr], &put.cpu).await;
            put.rate(
                &submissions_figure(clients),
                submissions_goal(clients),
                &outcome,
                201,
            );
        } else {
            two_portals = Some(run);
        }
    }

    // S2 reads, one after another, alone and while 50 clients flood the
    // login with wrong keys from spread addresses.
    let reader = Arc::new(vec![sessions[LINES - 1].clone()]);
    let one = Plan {
        clients: 1,
        requests: 1_000_000,
        time,
    };
    let alone = read(&[addr], one, S2, Some(reader.clone()), &put.cpu).await;
    put.latency("S2 reads, 1 client, alone", "", &alone);
    // (The flood's CPU time is not charged to the reads.)
    let (one_server, uncharged) = ([addr], Cpu::default());
    let (during, flood) = tokio::join!(
        read(&one_server, one, S2, Some(reader), &uncharged),
        flood(addr, time)
    );
    put.latency(
        &format!("S2 reads, 1 client, during a {FLOODERS}-client login flood"),
        "p99 ≤ 25 ms",
        &during,
    );
    put.print(
        &format!("  the flood: wrong keys, {FLOODERS} clients"),
        &flood,
    );

    // Two portals on the one database, the clients split between them.
    if engine == Engine::Postgres
        && let Some(run) = two_portals
    {
        let second = Server::start(db, site, &SERVE_FLAGS).await;
        let both = [addr, second.addr];
        let mut put = Put {
            table: put.table,
            column: Column::TwoPortals,
            label: "2 portals",
            cpu: Cpu {
                servers: vec![server.pid(), second.pid()],
                database,
            },
        };
        let outcome = read(&both, reading, S2, Some(sessions.clone()), &put.cpu).await;
        put.rate(&s2_figure(), S2_GOAL, &outcome, 200);
        let outcome = run.submit(&both, &put.cpu).await;
        put.rate(
            &submissions_figure(run.clients),
            submissions_goal(run.clients),
            &outcome,
            201,
        );
    }
    (s2_body, s3_body)
}

const S2_GOAL: &str = "≥ 15,000/s with one portal, p99 ≤ 10 ms";

fn s2_figure() -> String {
    format!("S2 list (GET {S2}), {READERS} clients")
}

fn submissions_figure(clients: usize) -> String {
    format!("durable submissions, {clients} clients (201/s)")
}

fn submissions_goal(clients: usize) -> &'static str {
    if clients >= 64 {
        "PostgreSQL ≥ 3,000/s, p99 ≤ 50 ms"
    } else {
        "≥ 2,000/s, p99 ≤ 50 ms"
    }
}

/// The floor: a bare axum server answering the captured S2 and S3 bodies.
async fn floor(s2_body: &[u8], s3_body: &[u8], time: Duration, table: &mut Table) {
    let bodies = tempfile::tempdir().expect("a temporary folder");
    let (s2_file, s3_file) = (bodies.path().join("s2"), bodies.path().join("s3"));
    std::fs::write(&s2_file, s2_body).expect("written");
    std::fs::write(&s3_file, s3_body).expect("written");
    let (floor, floor_addr) = spawn_self(&[
        "floor",
        s2_file.to_str().expect("UTF-8"),
        s3_file.to_str().expect("UTF-8"),
    ]);
    let floor_addr: SocketAddr = floor_addr.parse().expect("the floor's address");
    let reading = Plan {
        clients: READERS,
        requests: 2_000_000,
        time,
    };
    let mut cells = Vec::new();
    for (name, path) in [("S2", S2), ("S3", S3)] {
        let cpu = Cpu {
            servers: vec![floor.0.id()],
            database: None,
        };
        let outcome = read(&[floor_addr], reading, path, None, &cpu).await;
        let label = format!("floor: bare axum, the same {name} JSON, {READERS} clients");
        print_row("", &label, &outcome, outcome.per_second());
        cells.push(format!(
            "{name} {}/s, p99 {:.1} ms",
            thousands(outcome.per_second() as u64),
            outcome.quantile_ms(0.99)
        ));
    }
    table.note(format!(
        "Floor (a bare axum handler answering the same JSON, no store, {READERS} clients): {}.",
        cells.join("; ")
    ));
}

/// Where one server's (or two portals') figures go: printed as measured,
/// and put in the table's column.
struct Put<'t> {
    table: &'t mut Table,
    column: Column,
    label: &'static str,
    /// Whose CPU time each run is charged.
    cpu: Cpu,
}

/// The processes a run's CPU time is read from: the servers, PostgreSQL
/// (the postmaster and its children: the backends, the WAL writer…) and
/// this load generator.
#[derive(Default)]
struct Cpu {
    servers: Vec<u32>,
    database: Option<u32>,
}

impl Cpu {
    /// Seconds used so far: servers, database, load generator; none at
    /// all when no server is named (the default: nothing is charged).
    fn used(&self) -> [f64; 3] {
        if self.servers.is_empty() {
            return [0.0; 3];
        }
        let database = self.database.map_or(0.0, |postmaster| {
            cpu_secs(postmaster)
                + server::children(postmaster)
                    .into_iter()
                    .map(cpu_secs)
                    .sum::<f64>()
        });
        [
            self.servers.iter().copied().map(cpu_secs).sum(),
            database,
            cpu_secs(std::process::id()),
        ]
    }
}

impl Put<'_> {
    /// A throughput figure: answers with `expected` per second and every
    /// answer's p50 and p99; any other answer is named in the cell.
    fn rate(&mut self, figure: &str, goal: &'static str, outcome: &Outcome, expected: u16) {
        let per_second = outcome.per_second_with(expected);
        print_row(self.label, figure, outcome, per_second);
        let mut cell = format!(
            "{}/s, p50 {:.1}, p99 {:.1} ms",
            thousands(per_second as u64),
            outcome.quantile_ms(0.5),
            outcome.quantile_ms(0.99)
        );
        let others = outcome.other_than(expected);
        if !others.is_empty() {
            cell.push_str(&format!(" (also {others})"));
        }
        self.table.put(figure, goal, self.column, cell);
    }

    /// A latency figure: p50 and p99.
    fn latency(&mut self, figure: &str, goal: &'static str, outcome: &Outcome) {
        print_row(self.label, figure, outcome, outcome.per_second());
        let cell = format!(
            "p50 {:.2}, p99 {:.2} ms",
            outcome.quantile_ms(0.5),
            outcome.quantile_ms(0.99)
        );
        self.table.put(figure, goal, self.column, cell);
    }

    /// Printed only.
    fn print(&self, figure: &str, outcome: &Outcome) {
        print_row(self.label, figure, outcome, outcome.per_second());
    }
}

fn print_row(label: &str, figure: &str, outcome: &Outcome, per_second: f64) {
    let answers = outcome.latencies.len().max(1) as f64;
    let [servers, database, generator] = outcome.cpu.map(|secs| secs * 1e6 / answers);
    println!(
        "{label:<10} {figure:<52} {:>9.0} {:>8.2} {:>8.2} {servers:>6.0} {database:>6.0} {generator:>6.0}  {}",
        per_second,
        outcome.quantile_ms(0.5),
        outcome.quantile_ms(0.99),
        outcome.statuses()
    );
}

/// The body of one `GET path`, on a connection of its own (an idle one
/// would have been closed by the server's header-read timeout).
async fn body(addr: SocketAddr, path: &str, session: &str) -> Vec<u8> {
    let mut conn = Conn::connect(addr).await.expect("connected");
    let answer = conn
        .send(&http::get(addr, path, Some(session)))
        .await
        .expect("answered");
    assert_eq!(answer.status, 200, "GET {path}");
    answer.body
}

/// `GET path` by `plan.clients` clients spread over `addrs`, client `c`
/// as `sessions[c]` (when given), after a warm-up.
async fn read(
    addrs: &[SocketAddr],
    plan: Plan,
    path: &str,
    sessions: Option<Arc<Vec<String>>>,
    cpu: &Cpu,
) -> Outcome {
    let path = path.to_owned();
    let request = move |addr, client: usize, _| {
        let session = sessions.as_ref().map(|s| s[client % s.len()].as_str());
        Some(http::get(addr, &path, session))
    };
    // Warm up (connections, caches), then measure.
    let warm = Plan {
        time: WARM_UP,
        ..plan
    };
    let request = Arc::new(request);
    let r = request.clone();
    http::run(addrs, warm, move |a, c, n| r(a, c, n)).await;
    let before = cpu.used();
    let mut outcome = http::run(addrs, plan, move |a, c, n| request(a, c, n)).await;
    outcome.charge(before, cpu.used());
    outcome
}

/// A submission run: `clients` clients submitting as the lines after the
/// first `first`.
struct Submissions {
    clients: usize,
    first: usize,
    time: Duration,
    sessions: Arc<Vec<String>>,
    consent_hash: String,
}

impl Submissions {
    /// Runs it, the clients spread over `addrs`.
    async fn submit(&self, addrs: &[SocketAddr], cpu: &Cpu) -> Outcome {
        let (first, sessions) = (self.first, self.sessions.clone());
        let consent_hash = self.consent_hash.clone();
        // Each client's next provider, from the last down, skipping the
        // line's own 「通知する」 ones.
        let next: Vec<AtomicUsize> = (0..self.clients).map(|_| AtomicUsize::new(0)).collect();
        let plan = Plan {
            clients: self.clients,
            requests: self.clients * (PROVIDERS - NOTIFY),
            time: self.time,
        };
        let before = cpu.used();
        let mut outcome = http::run(addrs, plan, move |addr, client, _| {
            let line = (first + client + 1) as u64;
            // A client whose line has every provider submitted stops.
            let provider = loop {
                let k = next[client].fetch_add(1, Ordering::Relaxed);
                let p = PROVIDERS.checked_sub(k).filter(|&p| p > 0)?;
                if !(0..NOTIFY).any(|j| server::notified(line, j, PROVIDERS, NOTIFY) == p) {
                    break p;
                }
            };
            let body = serde_json::json!({
                "idempotency_key": format!("{:032x}", rand::random::<u128>()),
                "consent_hash": consent_hash,
                "setting": "notify",
                "providers": [server::provider_code(provider)],
                "applicant": {
                    "name": "山田 太郎",
                    "phone": "03-1234-5678",
                    "email": "taro@example.jp",
                    "wants_mail": false
                }
            });
            Some(http::post_json(
                addr,
                "/api/applications",
                Some(&sessions[first + client]),
                "",
                body.to_string().as_bytes(),
            ))
        })
        .await;
        outcome.charge(before, cpu.used());
        outcome
    }
}

/// The flood, for `time` plus the reader's warm-up, so that every read
/// measured falls inside it.
async fn flood(addr: SocketAddr, time: Duration) -> Outcome {
    let plan = Plan {
        clients: FLOODERS,
        requests: 10_000_000,
        time: time + WARM_UP,
    };
    http::run(&[addr], plan, move |addr, _, n| {
        let from = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
        Some(http::login(
            addr,
            &server::customer_id(9_000_000_000 + n as u64),
            "wrong-key-0000",
            Some(&from),
        ))
    })
    .await
}

/// The floor: a bare axum server answering the two captured bodies, on the
/// same runtime as `kaisen serve` (tokio, a worker per core). Prints its
/// address, then serves until killed.
pub fn floor_server(s2: &str, s3: &str) {
    use axum::routing::get;
    let json = |path: &str| {
        let bytes = axum::body::Bytes::from(std::fs::read(path).expect("a body file"));
        move || {
            let bytes = bytes.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    bytes,
                )
            }
        }
    };
    let app = axum::Router::new()
        .route("/api/notifications", get(json(s2)))
        .route("/api/providers", get(json(s3)));
    tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bound");
            println!("{}", listener.local_addr().expect("an address"));
            axum::serve(listener, app).await.expect("served");
        });
}
