//! The power-loss test: the crash test's server and clients, with the
//! server's files on a [`lazyfs`] mount whose power is cut.
//!
//! A SIGKILL leaves the killed server's writes in the kernel's page cache,
//! so the crash test (`crash.rs`) cannot see a missing fsync. Here the
//! database (sled's folder, or a PostgreSQL cluster's data directory) and
//! the mail folder are on a lazyfs mount, which holds every write not yet
//! fsynced in memory. Cycle after cycle the backing folder is mounted, the
//! real `kaisen serve` is started on the mount, and the crash test's clients
//! submit ([`TASKS`] tasks, [`LINES_USED`] lines); after a random while the
//! test waits for the next acknowledgement and, 0–3 ms after seeing it,
//! kills the server with SIGKILL and cuts the power (for PostgreSQL, then
//! kills the cluster's processes too); each cycle prints how long after the
//! acknowledgement both came. Unmounted, the backing folder is exactly the
//! durable state: it is opened through the library (for PostgreSQL, through
//! a cluster started on it, which recovers from its WAL) and checked as the
//! crash test checks (`checks::check`): every acknowledged receipt is
//! there and whole, no key has two applications, nothing is half applied.
//!
//! The server is killed just before the cut, not after it: a server left
//! running on a dead disk answers its clients 500 (sled's writes fail with
//! EIO, PostgreSQL panics), which the clients would count as broken
//! promises. Killing it first loses nothing the test looks for: whatever it
//! acknowledged was fsynced before its answer left, so before the kill.
//!
//! The cut comes within a few milliseconds of an acknowledgement because
//! sled's background flusher fsyncs the data file every 500 ms of its own
//! accord: a store that forgot its own fsync would lose only what it
//! acknowledged since the last flush.
//!
//! Needs FUSE (`/dev/fuse`, as root) and, for the PostgreSQL test, Debian's
//! PostgreSQL (see `testkit`); without them the tests fail saying so.
//!
//! ```text
//! cargo test -p kaisen-server --test power -- --nocapture
//! ```
//!
//! `KAISEN_POWER_CYCLES` sets the cycles of each test (default
//! [`SLED_CYCLES`] and [`POSTGRES_CYCLES`]), `KAISEN_POWER_SEED` repeats a
//! run's random choices (timing still varies).

/// The crash test's helpers, in `tests/crash/`.
#[allow(
    dead_code,
    reason = "shared with crash.rs, which uses all of it; this test uses most"
)]
mod crash {
    pub mod checks;
    pub mod clients;
    pub mod fixture;
    pub mod mail;
    pub mod run;
    pub mod server;
}

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kaisen::store::{Audit, Location};
use lazyfs::LazyFs;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shared::domain::ApplicationId;
use testkit::{Cluster, Options};

use crash::checks;
use crash::clients::{LineClient, SharedLedger, deal_lines};
use crash::fixture::{self, Workspace};
use crash::run::{audit_of, env_number, fail_on, spawn_clients, start_cycle, unix_now};

/// Power cuts in the sled test when `KAISEN_POWER_CYCLES` is not set.
const SLED_CYCLES: usize = 8;
/// Power cuts in the PostgreSQL test (each starts a cluster twice).
const POSTGRES_CYCLES: usize = 5;
/// Concurrent client tasks.
const TASKS: usize = 8;
/// The fixture's lines the clients use (each logs in again after a cut:
/// sessions are not synced).
const LINES_USED: usize = 16;
/// The clients submit this many milliseconds before the cut is armed.
const LOAD_MS: std::ops::RangeInclusive<u64> = 300..=1200;
/// The cut comes this many milliseconds after an acknowledgement.
const AFTER_ACK_MS: std::ops::RangeInclusive<u64> = 0..=3;
/// How long the armed cut waits for an acknowledgement at most.
const ACK_WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_power_cut_right_after_acknowledgements_loses_no_receipt() {
    require_fuse();
    let cycles = env_number("KAISEN_POWER_CYCLES").map_or(SLED_CYCLES, |n| n as usize);
    let mut run = PowerRun::new("sled", cycles);
    let mut disk = Disk::new(run.workspace.root.path());
    // The import goes straight into the backing folder: the durable start.
    run.workspace.database = sled_flags(&disk.backing.join("db"));
    run.workspace.import(&run.binary);
    run.workspace.database = sled_flags(&disk.mountpoint.join("db"));
    run.workspace.mail = disk.mountpoint.join("mail");

    for cycle in 0..cycles {
        disk.mount();
        let cut = run.load_then_cut(cycle, &disk).await;
        disk.unmount();
        let audit = audit_of(&Location::Sled(disk.backing.join("db"))).await;
        run.check(cycle, &audit, &disk.backing.join("mail"), &cut);
    }
    run.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_power_cut_right_after_acknowledgements_loses_no_receipt() {
    require_fuse();
    let cycles = env_number("KAISEN_POWER_CYCLES").map_or(POSTGRES_CYCLES, |n| n as usize);
    let mut run = PowerRun::new("postgres", cycles);
    // The server runs as `postgres`, which must reach its folders.
    std::fs::set_permissions(
        run.workspace.root.path(),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("the workspace opened to the postgres user");
    let mut disk = Disk::new(run.workspace.root.path());
    // initdb (which syncs nothing), the schema and the import on the
    // backing folder itself, stopped cleanly: the durable start.
    let cluster = Cluster::start(cluster_options(disk.backing.join("pg"), None))
        .expect("a PostgreSQL cluster starts");
    let port = cluster.port();
    let url = cluster.url();
    run.workspace.database = vec!["--database".into(), url.clone()];
    run.workspace.import(&run.binary);
    cluster.stop().expect("the cluster stops");
    drop(cluster);
    run.workspace.mail = disk.mountpoint.join("mail");

    for cycle in 0..cycles {
        disk.mount();
        let cluster = Cluster::start(cluster_options(disk.mountpoint.join("pg"), Some(port)))
            .expect("the cluster starts on the mount");
        let cut = run.load_then_cut(cycle, &disk).await;
        // The cluster's files fail with EIO since the cut. `kill9` cannot
        // be used: it reads the postmaster's pid from `postmaster.pid`,
        // on the dead disk. Dropping the cluster, which then cannot tell
        // whether it runs, kills every process working in its data
        // directory with SIGKILL (found through /proc) and waits for them.
        drop(cluster);
        disk.unmount();
        // A power loss reboots the machine: no process has the pid that
        // the lock files name. Here the killed postmaster may linger as a
        // zombie until PID 1 reaps it, which PostgreSQL would take for a
        // server still running there.
        remove_lock_files(&disk.backing.join("pg"));
        let cluster = Cluster::start(cluster_options(disk.backing.join("pg"), Some(port)))
            .expect("the cluster recovers on the durable state");
        let audit = audit_of(&Location::Postgres(url.clone())).await;
        cluster.stop().expect("the cluster stops");
        drop(cluster);
        run.check(cycle, &audit, &disk.backing.join("mail"), &cut);
    }
    run.finish();
}

/// The flags naming the sled database in `dir`.
fn sled_flags(dir: &Path) -> Vec<String> {
    vec!["--db".into(), dir.display().to_string()]
}

/// A cluster in `dir` (on the mount or the backing folder) that fsyncs and
/// commits synchronously, on `port` (the URL the server and the import
/// were given) or, the first time, a free one.
fn cluster_options(dir: PathBuf, port: Option<u16>) -> Options {
    Options {
        dir: Some(dir),
        fsync: true,
        synchronous_commit: true,
        port,
        ..Options::default()
    }
}

/// Removes the lock files a killed cluster left in its folder `dir`:
/// `data/postmaster.pid` and its socket's `.s.PGSQL.<port>.lock` (and the
/// socket).
fn remove_lock_files(dir: &Path) {
    let sockets = std::fs::read_dir(dir)
        .expect("the cluster's folder lists")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with(".s.PGSQL."))
        });
    for file in sockets.chain([dir.join("data/postmaster.pid")]) {
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("removing {}: {e}", file.display()),
        }
    }
}

/// Fails at once, saying why, where FUSE is missing: the test must not
/// pass without having cut any power.
fn require_fuse() {
    assert!(
        Path::new("/dev/fuse").exists(),
        "the power-loss test needs FUSE and there is no /dev/fuse \
         (load the fuse module; in a container, pass --device /dev/fuse --cap-add SYS_ADMIN)"
    );
}

/// The disk whose power is cut: a lazyfs mount over a backing folder.
/// Dropping it unmounts (cleanly, making everything durable): after a
/// panic, nothing stays mounted. Servers using it must be gone first, so it
/// is made before them and dropped after.
struct Disk {
    /// The folder under the mount: the durable state once cut.
    backing: PathBuf,
    mountpoint: PathBuf,
    fs: Option<LazyFs>,
}

impl Disk {
    /// Makes `root/backing` and `root/mnt`; mounts nothing yet.
    fn new(root: &Path) -> Self {
        let backing = root.join("backing");
        let mountpoint = root.join("mnt");
        for dir in [&backing, &mountpoint] {
            std::fs::create_dir(dir).expect("a folder for the disk");
        }
        Self {
            backing,
            mountpoint,
            fs: None,
        }
    }

    /// Mounts the backing folder.
    fn mount(&mut self) {
        assert!(self.fs.is_none(), "mounted already");
        let fs = LazyFs::mount(&self.backing, &self.mountpoint).unwrap_or_else(|e| {
            panic!(
                "lazyfs does not mount at {}: {e} (the power-loss test needs FUSE: \
                 /dev/fuse, as root)",
                self.mountpoint.display()
            )
        });
        self.fs = Some(fs);
    }

    /// Cuts the power: every write not fsynced is gone from the backing
    /// folder, and the mount fails every operation from now on.
    fn cut(&self) {
        self.fs
            .as_ref()
            .expect("mounted")
            .cut()
            .expect("the power is cut");
    }

    /// Unmounts, once everything using the mount is gone.
    fn unmount(&mut self) {
        self.fs
            .take()
            .expect("mounted")
            .unmount()
            .expect("lazyfs unmounts");
    }
}

/// When and how the power was cut.
struct Cut {
    /// In seconds since 1970 (for the checks' overdue work).
    at_unix: i64,
    /// From the acknowledgement seen to the SIGKILL sent.
    kill_after_ack: Duration,
    /// From the acknowledgement seen to the cut done (the server gone).
    after_ack: Duration,
}

/// A run of power cuts: the workspace, the clients and what they were
/// told, and what the checks found so far.
struct PowerRun {
    engine: &'static str,
    cycles: usize,
    started: Instant,
    workspace: Workspace,
    binary: PathBuf,
    seed: u64,
    rng: StdRng,
    initial: std::collections::BTreeMap<(String, String), kaisen::store::SettingRecord>,
    ledger: SharedLedger,
    dealt: Vec<Vec<LineClient>>,
    consent_hash: String,
    /// Acknowledged receipts found missing after a cut.
    lost: BTreeSet<ApplicationId>,
    /// Cuts that lost an acknowledged receipt.
    cuts_that_lost: usize,
    /// Every broken promise found, each once, with the cycle that found it.
    problems: Vec<String>,
    seen: BTreeSet<String>,
    longest_after_ack: Duration,
}

impl PowerRun {
    /// A workspace with the server binary in it; nothing imported yet.
    fn new(engine: &'static str, cycles: usize) -> Self {
        let seed = env_number("KAISEN_POWER_SEED").unwrap_or_else(rand::random);
        println!(
            "power test ({engine}): {cycles} cycles, seed {seed} (KAISEN_POWER_SEED to repeat)"
        );
        let workspace = Workspace::create();
        let binary = workspace.install_binary(Path::new(env!("CARGO_BIN_EXE_kaisen")));
        Self {
            engine,
            cycles,
            started: Instant::now(),
            workspace,
            binary,
            seed,
            rng: StdRng::seed_from_u64(seed),
            initial: fixture::initial_settings(),
            ledger: SharedLedger::default(),
            dealt: deal_lines(LINES_USED, TASKS),
            consent_hash: String::new(),
            lost: BTreeSet::new(),
            cuts_that_lost: 0,
            problems: Vec::new(),
            seen: BTreeSet::new(),
            longest_after_ack: Duration::ZERO,
        }
    }

    /// Starts the server on the mounted `disk`, lets the clients submit,
    /// and a few milliseconds after an acknowledgement kills the server and
    /// cuts the power. Returns when the clients have stopped.
    async fn load_then_cut(&mut self, cycle: usize, disk: &Disk) -> Cut {
        let (mut server, shared) = start_cycle(
            &self.binary,
            &self.workspace,
            &[],
            &mut self.dealt,
            &self.ledger,
            &mut self.consent_hash,
        )
        .await;
        let tasks = spawn_clients(&mut self.dealt, &shared, self.seed, cycle);
        tokio::time::sleep(Duration::from_millis(self.rng.random_range(LOAD_MS))).await;
        let acked = next_acknowledgement(&self.ledger).await;
        tokio::time::sleep(Duration::from_millis(self.rng.random_range(AFTER_ACK_MS))).await;
        let kill_after_ack = acked.elapsed();
        server.kill();
        disk.cut();
        let cut = Cut {
            at_unix: unix_now(),
            kill_after_ack,
            after_ack: acked.elapsed(),
        };
        shared.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for task in tasks {
            self.dealt
                .push(task.await.expect("a client task does not panic"));
        }
        cut
    }

    /// Checks the durable state after cut `cycle`: the database's `audit`
    /// and the mail folder `mail_dir`, against everything acknowledged.
    fn check(&mut self, cycle: usize, audit: &Audit, mail_dir: &Path, cut: &Cut) {
        let mut ledger = self.ledger.lock().expect("not poisoned");
        let violations = std::mem::take(&mut ledger.violations);
        let findings = checks::check(
            audit,
            &self.initial,
            &ledger.acked,
            mail_dir,
            false,
            cut.at_unix,
        );
        let stored: BTreeSet<ApplicationId> = audit.applications.iter().map(|a| a.id).collect();
        let missing: BTreeSet<ApplicationId> = ledger
            .acked
            .values()
            .map(|receipt| receipt.id)
            .filter(|id| !stored.contains(id))
            .collect();
        let acked = ledger.acked.len();
        drop(ledger);
        let newly_lost = missing.difference(&self.lost).count();
        if newly_lost > 0 {
            self.cuts_that_lost += 1;
        }
        self.lost.extend(missing);
        self.longest_after_ack = self.longest_after_ack.max(cut.after_ack);
        for problem in violations.into_iter().chain(findings.problems) {
            if self.seen.insert(problem.clone()) {
                self.problems.push(format!("cut {}: {problem}", cycle + 1));
            }
        }
        println!(
            "power test ({}): cut {}: SIGKILL {:.1?} and the cut {:.1?} after an \
             acknowledgement; {acked} receipts acknowledged so far, {newly_lost} lost \
             by this cut, {} applications stored",
            self.engine,
            cycle + 1,
            cut.kill_after_ack,
            cut.after_ack,
            audit.applications.len()
        );
    }

    /// Prints the run's figures and fails on every broken promise found.
    fn finish(mut self) {
        let counts = self.ledger.lock().expect("not poisoned").counts.clone();
        println!(
            "power test ({}): {} cuts in {:.1?}; {} submissions, {} new applications \
             acknowledged, {} cut off; {} acknowledged receipts lost, by {} cuts; \
             each cut at most {:.1?} after an acknowledgement",
            self.engine,
            self.cycles,
            self.started.elapsed(),
            counts.requests,
            counts.created,
            counts.cut_off,
            self.lost.len(),
            self.cuts_that_lost,
            self.longest_after_ack,
        );
        let problems = std::mem::take(&mut self.problems);
        fail_on(
            &mut self.workspace,
            &format!("{} power cuts ({})", self.cycles, self.engine),
            &problems,
            &self.ledger,
        );
        assert!(
            counts.created > 0,
            "the run must have receipts acknowledged to prove anything"
        );
    }
}

/// Waits for the next acknowledgement (an answer with a receipt, new or
/// replayed) and returns when it was seen; fails after [`ACK_WAIT`].
async fn next_acknowledgement(ledger: &SharedLedger) -> Instant {
    let answered = || {
        let ledger = ledger.lock().expect("not poisoned");
        ledger.counts.created + ledger.counts.replays
    };
    let before = answered();
    let deadline = Instant::now() + ACK_WAIT;
    while answered() == before {
        assert!(
            Instant::now() < deadline,
            "no acknowledgement in {ACK_WAIT:?}: the server is not answering"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Instant::now()
}
