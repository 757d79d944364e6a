//! Under load on loopback: the S2 list and an S3 page against a bare axum
//! handler returning the same JSON (the floor); durable submissions at 16
//! and 64 clients; S2 reads while 50 clients flood the login.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::http::{self, Conn, Outcome, Plan};
use crate::server::{self, Server, spawn_self};

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

/// Runs every load measurement for `secs` each and prints the table.
pub async fn run(secs: u64) {
    let time = Duration::from_secs(secs);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (db, site) = (dir.path().join("db"), dir.path().join("site"));
    std::fs::create_dir(&site).expect("site made");
    std::fs::write(site.join("index.html"), "<!doctype html>").expect("index written");

    // Lines 1..=32 read, 33..=48 submit at 16 clients, 49..=112 at 64, 113
    // reads during the flood.
    let lines = READERS + 16 + 64 + 1;
    let file = dir.path().join("import.json");
    let key_hash = server::key_hash();
    server::write_import(
        std::fs::File::create(&file).expect("file made"),
        PROVIDERS,
        1,
        lines as u64,
        NOTIFY,
        &key_hash,
    )
    .expect("import file written");
    server::import(&file, &db);
    // The bench's own logins (one per line, from the loopback) under the
    // per-address login limit whatever the number of lines.
    let server = Server::start(
        &db,
        &site,
        &[
            "--trusted-proxy",
            "127.0.0.1",
            "--logins-per-address",
            "100000",
        ],
    )
    .await;
    let addr = server.addr;
    let mut conn = Conn::connect(addr).await.expect("connected");
    let mut sessions = Vec::with_capacity(lines);
    for n in 1..=lines {
        sessions.push(
            server
                .login(&mut conn, &server::customer_id(n as u64))
                .await,
        );
    }
    let sessions = Arc::new(sessions);

    println!();
    println!("Server under load (loopback; the load generator shares the 2 cores)");
    println!(
        "{:<52} {:>9} {:>8} {:>8}  answers",
        "", "answers/s", "p50 ms", "p99 ms"
    );

    // S2 and S3, then the floor with the very same bodies.
    let s2 = "/api/notifications".to_owned();
    let s3 = "/api/providers?page=1".to_owned();
    let s2_body = body(&mut conn, addr, &s2, &sessions[0]).await;
    let s3_body = body(&mut conn, addr, &s3, &sessions[0]).await;
    let reading = Plan {
        clients: READERS,
        requests: 2_000_000,
        time,
    };
    for (label, path) in [
        ("S2 list    GET /api/notifications", &s2),
        ("S3 page    GET /api/providers?page=1", &s3),
    ] {
        let outcome = read(addr, reading, path, Some(sessions.clone())).await;
        row(&format!("{label}, {READERS} clients"), &outcome);
    }
    let bodies = tempfile::tempdir().expect("a temporary folder");
    let (s2_file, s3_file) = (bodies.path().join("s2"), bodies.path().join("s3"));
    std::fs::write(&s2_file, &s2_body).expect("written");
    std::fs::write(&s3_file, &s3_body).expect("written");
    let (_floor, floor_addr) = spawn_self(&[
        "floor",
        s2_file.to_str().expect("UTF-8"),
        s3_file.to_str().expect("UTF-8"),
    ]);
    let floor_addr: SocketAddr = floor_addr.parse().expect("the floor's address");
    for (label, path) in [
        ("floor: bare axum, the same S2 JSON", &s2),
        ("floor: bare axum, the same S3 JSON", &s3),
    ] {
        let outcome = read(floor_addr, reading, path, None).await;
        row(&format!("{label}, {READERS} clients"), &outcome);
    }

    // Durable submissions: each client its own line, one provider after
    // another, each answered only once fsynced.
    let consent: serde_json::Value =
        serde_json::from_slice(&body(&mut conn, addr, "/api/consent", &sessions[0]).await)
            .expect("consent JSON");
    let consent_hash = consent["hash"].as_str().expect("a hash").to_owned();
    for (clients, first) in [(16, READERS), (64, READERS + 16)] {
        let outcome = submit(addr, clients, first, time, &sessions, &consent_hash).await;
        row_of(
            &format!("submissions, {clients} clients (201/s: stored, fsynced)"),
            &outcome,
            outcome.per_second_with(201),
        );
    }

    // S2 reads, one after another, alone and while 50 clients flood the
    // login with wrong keys from spread addresses.
    let reader = Arc::new(vec![sessions[lines - 1].clone()]);
    let one = Plan {
        clients: 1,
        requests: 1_000_000,
        time,
    };
    let alone = read(addr, one, &s2, Some(reader.clone())).await;
    row("S2 reads, 1 client, alone", &alone);
    let (during, flood) = tokio::join!(read(addr, one, &s2, Some(reader)), flood(addr, time));
    row(
        &format!("S2 reads, 1 client, during a {FLOODERS}-client login flood"),
        &during,
    );
    row(
        &format!("  the flood: wrong keys, {FLOODERS} clients"),
        &flood,
    );
}

/// The body of one `GET path`.
async fn body(conn: &mut Conn, addr: SocketAddr, path: &str, session: &str) -> Vec<u8> {
    let answer = conn
        .send(&http::get(addr, path, Some(session)))
        .await
        .expect("answered");
    assert_eq!(answer.status, 200, "GET {path}");
    answer.body
}

async fn read(
    addr: SocketAddr,
    plan: Plan,
    path: &str,
    sessions: Option<Arc<Vec<String>>>,
) -> Outcome {
    let path = path.to_owned();
    let request = move |client: usize, _| {
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
    http::run(addr, warm, move |c, n| r(c, n)).await;
    http::run(addr, plan, move |c, n| request(c, n)).await
}

/// `clients` clients submitting as the lines after the first `first`.
async fn submit(
    addr: SocketAddr,
    clients: usize,
    first: usize,
    time: Duration,
    sessions: &Arc<Vec<String>>,
    consent_hash: &str,
) -> Outcome {
    let sessions = sessions.clone();
    let consent_hash = consent_hash.to_owned();
    // Each client's next provider, from the last down, skipping the line's
    // own 「通知する」 ones.
    let next: Vec<AtomicUsize> = (0..clients).map(|_| AtomicUsize::new(0)).collect();
    let plan = Plan {
        clients,
        requests: clients * (PROVIDERS - NOTIFY),
        time,
    };
    http::run(addr, plan, move |client, _| {
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
    .await
}

/// The flood, for `time` plus the reader's warm-up, so that every read
/// measured falls inside it.
async fn flood(addr: SocketAddr, time: Duration) -> Outcome {
    let plan = Plan {
        clients: FLOODERS,
        requests: 10_000_000,
        time: time + WARM_UP,
    };
    http::run(addr, plan, move |_, n| {
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

fn row(label: &str, outcome: &Outcome) {
    row_of(label, outcome, outcome.per_second());
}

fn row_of(label: &str, outcome: &Outcome, per_second: f64) {
    println!(
        "{label:<52} {:>9.0} {:>8.2} {:>8.2}  {}",
        per_second,
        outcome.quantile_ms(0.5),
        outcome.quantile_ms(0.99),
        outcome.statuses()
    );
}

/// The floor: a bare axum server answering the two captured bodies, on the
/// same runtime as `kaisen serve` (tokio, a worker per core). Prints its
/// address, then serves until killed.
pub fn floor(s2: &str, s3: &str) {
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
