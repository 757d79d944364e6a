//! The bench's test bed: an import file, the real `kaisen` binary serving
//! it on loopback, and logins.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kaisen::store::Location;

use crate::http::{self, Conn};
use crate::stores;

/// The `kaisen` binary measured: the one cargo built beside this bench, or
/// the one `KAISEN_BENCH_BINARY` names (to compare two builds with the same
/// bench).
pub fn kaisen() -> std::ffi::OsString {
    std::env::var_os("KAISEN_BENCH_BINARY").unwrap_or_else(|| env!("CARGO_BIN_EXE_kaisen").into())
}

/// Every bench line's access key.
pub const KEY: &str = "Bench-Key-2026";

/// A child process, killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `kaisen serve` on a store, answering on the address it holds.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    process: Process,
}

impl Server {
    /// The server process's ID.
    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }

    /// Starts `kaisen serve` on `db` with `extra` flags and waits until it
    /// answers.
    pub async fn start(db: &Location, site: &Path, extra: &[&str]) -> Server {
        let addr = free_port();
        let process = Command::new(kaisen())
            .arg("serve")
            .arg("--addr")
            .arg(addr.to_string())
            .args(stores::args(db))
            .arg("--site")
            .arg(site)
            .arg("--contact")
            .arg("【計測】回線情報通知 計測用窓口")
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("kaisen serve starts");
        let server = Server {
            addr,
            process: Process(process),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(mut conn) = Conn::connect(addr).await
                && conn
                    .send(&http::get(addr, "/api/session", None))
                    .await
                    .is_ok()
            {
                return server;
            }
            assert!(Instant::now() < deadline, "kaisen serve did not answer");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Logs `customer_id` in and answers the session's cookie value.
    pub async fn login(&self, conn: &mut Conn, customer_id: &str) -> String {
        let answer = conn
            .send(&http::login(self.addr, customer_id, KEY, None))
            .await
            .expect("a login is answered");
        assert_eq!(answer.status, 200, "login of {customer_id}");
        let cookie = answer
            .header("set-cookie")
            .and_then(|c| c.strip_prefix("kaisen_session="))
            .and_then(|c| c.split(';').next())
            .expect("a session cookie");
        cookie.to_owned()
    }
}

/// An address on loopback that was free a moment ago.
pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// Runs `kaisen import file` into `db`; panics if it fails.
pub fn import(file: &Path, db: &Location) -> String {
    let output = Command::new(kaisen())
        .arg("import")
        .arg(file)
        .args(stores::args(db))
        .env("RUST_LOG", "warn")
        .output()
        .expect("kaisen import runs");
    assert!(
        output.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The Argon2id hash of [`KEY`], made once.
pub fn key_hash() -> String {
    let key = shared::domain::AccessKey::parse(KEY).expect("a valid key");
    kaisen::password::hash(&key).expect("hashed")
}

/// Writes an import file of `providers` providers and the lines
/// `first..first + lines`, each set to 「通知する」 for `notify` providers.
pub fn write_import(
    out: impl Write,
    providers: usize,
    first: u64,
    lines: u64,
    notify: usize,
    key_hash: &str,
) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    out.write_all(b"{\"providers\":[")?;
    for p in 1..=providers {
        if p > 1 {
            out.write_all(b",")?;
        }
        write!(
            out,
            "{{\"code\":\"{}\",\"service_name\":\"ベンチ光サービス{p}\",\"name\":\"ベンチ通信株式会社{p}\"}}",
            provider_code(p)
        )?;
    }
    out.write_all(b"],\"lines\":[")?;
    for (i, n) in (first..first + lines).enumerate() {
        if i > 0 {
            out.write_all(b",\n")?;
        }
        write!(
            out,
            "{{\"customer_id\":\"{}\",\"access_key_hash\":\"{key_hash}\",\
             \"services\":[{{\"name\":\"光電話\",\"status\":\"利用中\"}}],\"notifications\":[",
            customer_id(n)
        )?;
        for k in 0..notify {
            let p = notified(n, k, providers, notify);
            if k > 0 {
                out.write_all(b",")?;
            }
            write!(
                out,
                "{{\"provider\":\"{}\",\"setting\":\"notify\",\"set_on\":\"2026-04-01\",\"method\":\"初期設定\"}}",
                provider_code(p)
            )?;
        }
        out.write_all(b"]}")?;
    }
    out.write_all(
        "],\"notices\":[\"ベンチマーク用のお知らせです。\"],\
         \"consent\":{\"version\":\"bench\",\"text\":\"ベンチマーク用の同意書です。\"}}\n"
            .as_bytes(),
    )?;
    out.flush()
}

/// The `k`-th of the `notify` providers line `n` has set to 「通知する」:
/// spread over the providers, never the same one twice.
pub fn notified(n: u64, k: usize, providers: usize, notify: usize) -> usize {
    (n as usize * 7 + k * (providers / notify.max(1))) % providers + 1
}

/// The `n`-th provider's code, `W0001`….
pub fn provider_code(n: usize) -> String {
    format!("W{n:04}")
}

/// The `n`-th line's customer ID.
pub fn customer_id(n: u64) -> String {
    format!("CAF{n:010}")
}

/// A child running this bench binary in another mode, which prints one
/// line when ready.
pub fn spawn_self(args: &[&str]) -> (Process, String) {
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut child = Command::new(exe)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the bench starts itself");
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the child reports");
    (Process(child), line.trim().to_owned())
}

/// A `/proc/<pid>/status` field in KiB, 0 when gone.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(str::to_owned))
        })
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The CPU time (user and system, its reaped children's included) a
/// process has used, in seconds; 0 when gone. Linux counts it in ticks of
/// 1/100 s.
pub fn cpu_secs(pid: u32) -> f64 {
    // utime, stime, cutime and cstime: the 14th to 17th fields.
    let ticks: u64 = stat_fields(pid).map_or(0, |fields| {
        fields
            .get(11..15)
            .map_or(0, |f| f.iter().filter_map(|n| n.parse::<u64>().ok()).sum())
    });
    ticks as f64 / 100.0
}

/// The processes whose parent (the 4th field) is `pid`.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| {
            stat_fields(child).and_then(|f| f.get(1)?.parse::<u32>().ok()) == Some(pid)
        })
        .collect()
}

/// The fields of `/proc/<pid>/stat` after the command's name (which is in
/// parentheses and may hold spaces): the first is the 3rd field, the state.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}
