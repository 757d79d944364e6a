//! The crash test (issue 3, point 7): the real `kaisen serve` binary,
//! many concurrent subscribers, and SIGKILL at random moments.
//!
//! The database is loaded once with `kaisen import`. Then, cycle after
//! cycle, the server is started on it (work delay 1 s, so work completes
//! all the time), [`TASKS`] client tasks submit applications for
//! [`fixture::LINES`] lines — flipping providers between 「通知する」 and
//! 「通知しない」, with double clicks, reloads, races for one provider and
//! resends of what a kill cut off — and the server is killed with SIGKILL
//! after a random delay, or just after its worker logged completed work.
//! After each kill a copy of the database is opened through the library
//! and checked (`checks::check`); at the end the server runs until all
//! work is done and every mail delivered, and the database is checked
//! once more, in full.
//!
//! It runs on both engines: sled, and a private PostgreSQL cluster with
//! fsync on, whose server is itself killed (`pg_ctl stop -m immediate`) and
//! started again mid-load every fourth cycle, the portal answering 503
//! meanwhile (which the clients count as no answer, and send again).
//!
//! Short run (part of `cargo test`; 20 cycles, about a minute):
//!
//! ```text
//! cargo test -p kaisen-server --test crash -- --nocapture
//! ```
//!
//! Long run, as many cycles as asked:
//!
//! ```text
//! KAISEN_CRASH_CYCLES=500 cargo test --release -p kaisen-server --test crash -- --nocapture
//! ```
//!
//! `KAISEN_CRASH_SEED` repeats a run's random choices (timing still
//! varies); `KAISEN_CRASH_CHECK_EVERY=N` checks only every Nth kill's copy.
//! Only 127.0.0.1 is ever contacted.

/// The helpers, in `tests/crash/`.
mod crash {
    pub mod checks;
    pub mod clients;
    pub mod fixture;
    pub mod mail;
    pub mod provider;
    pub mod run;
    pub mod server;
}

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kaisen::store::{Audit, Location};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shared::domain::ApplicationState;

use crash::clients::{LineClient, Shared, SharedLedger, deal_lines, run_task};
use crash::fixture::{self, LINES, Workspace};
use crash::run::{
    WORK_DELAY, audit_of, env_number, fail_on, prepare, spawn_clients, start_cycle, unix_now,
};
use crash::server::ServerProcess;
use crash::{checks, mail};

/// Concurrent client tasks; each owns a share of the lines.
const TASKS: usize = 16;
/// Kill cycles when `KAISEN_CRASH_CYCLES` is not set.
const DEFAULT_CYCLES: usize = 20;
/// A random kill comes this many milliseconds after the clients start.
const KILL_DELAY_MS: std::ops::RangeInclusive<u64> = 100..=1500;
/// A kill timed to the worker waits at most this long for it.
const WORK_WAIT: Duration = Duration::from_secs(4);
/// The end fails when this long passes without work or mail getting done…
const FINISH_TIMEOUT: Duration = Duration::from_secs(30);
/// … or after this long in all.
const FINISH_LIMIT: Duration = Duration::from_secs(30 * 60);

/// When the server is killed.
#[derive(Debug, Clone, Copy)]
enum KillTiming {
    /// After this long.
    After(Duration),
    /// Right after the worker logs completed work (and a random 0–20 ms).
    AfterWork,
}

/// What the run saw besides the ledger.
#[derive(Debug, Default)]
struct RunStats {
    cycles: usize,
    submit_time: Duration,
    kills_timed_to_work: usize,
    kills_with_overdue_work: usize,
    mails_ahead_of_completion: usize,
    partial_mails_seen: usize,
    snapshots_checked: usize,
    stale_start_steps: usize,
    final_restarts: usize,
    database_kills: usize,
}

/// The engine a crash run uses.
enum Engine {
    /// A sled folder in the workspace.
    Sled,
    /// A private PostgreSQL cluster, fsync on: killed itself too, now and
    /// then (`pg_ctl stop -m immediate`), and started again under load.
    Postgres(testkit::Cluster),
}

impl Engine {
    /// A private cluster that syncs for real (the crash test's point).
    async fn postgres() -> Self {
        let cluster = tokio::task::spawn_blocking(|| {
            testkit::Cluster::start(testkit::Options {
                fsync: true,
                ..testkit::Options::default()
            })
            .expect("a private PostgreSQL cluster starts")
        })
        .await
        .expect("no panic");
        Self::Postgres(cluster)
    }

    /// The run's workspace, its database on this engine.
    fn workspace(&self) -> Workspace {
        match self {
            Self::Sled => Workspace::create(),
            Self::Postgres(cluster) => Workspace::on_postgres(&cluster.url()),
        }
    }

    /// Where a stopped server's database can be read.
    fn location(&self, workspace: &Workspace) -> Location {
        match self {
            Self::Sled => Location::Sled(workspace.db.clone()),
            Self::Postgres(cluster) => Location::Postgres(cluster.url()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_duplicates_and_half_applies_nothing() {
    sigkill_run(Engine::Sled, DEFAULT_CYCLES).await;
}

/// With synchronous_commit off for the cluster (tried once), this test
/// finds acknowledged applications missing after PostgreSQL is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_sigkill_and_killing_postgres_itself_lose_and_duplicate_nothing() {
    sigkill_run(Engine::postgres().await, POSTGRES_CYCLES).await;
}

/// Kill cycles on PostgreSQL when `KAISEN_CRASH_CYCLES` is not set.
const POSTGRES_CYCLES: usize = 12;

/// The crash run on `engine`: see the module documentation. On PostgreSQL
/// every fourth cycle kills the database server itself mid-load (and
/// starts it again, the portal serving on) before the portal is killed.
async fn sigkill_run(engine: Engine, default_cycles: usize) {
    let cycles = env_number("KAISEN_CRASH_CYCLES").unwrap_or(default_cycles as u64) as usize;
    let check_every = env_number("KAISEN_CRASH_CHECK_EVERY").unwrap_or(1).max(1) as usize;
    let seed = env_number("KAISEN_CRASH_SEED").unwrap_or_else(rand::random);
    println!("crash test: {cycles} cycles, seed {seed} (KAISEN_CRASH_SEED to repeat)");
    let run_started = Instant::now();

    let mut workspace = engine.workspace();
    let binary = &workspace.install_binary(Path::new(env!("CARGO_BIN_EXE_kaisen")));
    workspace.import(binary);
    let initial = fixture::initial_settings();
    let ledger = SharedLedger::default();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut dealt = deal_lines(LINES, TASKS);
    let mut stats = RunStats::default();
    let location = engine.location(&workspace);
    let mut consent_hash = String::new();
    // Queued steps and undelivered mails at the last checked kill.
    let mut backlog = (0, 0);

    for cycle in 0..cycles {
        let (mut server, shared) = start_cycle(
            binary,
            &workspace,
            &[],
            &mut dealt,
            &ledger,
            &mut consent_hash,
        )
        .await;
        let timing = if cycle % 3 == 2 {
            KillTiming::AfterWork
        } else {
            KillTiming::After(Duration::from_millis(rng.random_range(KILL_DELAY_MS)))
        };
        let log_offset = file_len(&workspace.log);

        let started = Instant::now();
        let tasks = spawn_clients(&mut dealt, &shared, seed, cycle);
        if let Engine::Postgres(cluster) = &engine
            && cycle % 4 == 1
        {
            // PostgreSQL itself dies mid-load and comes back; the portal
            // answers 503 meanwhile, then carries on.
            tokio::time::sleep(Duration::from_millis(rng.random_range(200..=800))).await;
            let restarted = Instant::now();
            std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        cluster.kill_immediate().expect("PostgreSQL stops");
                        std::thread::sleep(Duration::from_millis(200));
                        cluster.start_again().expect("PostgreSQL starts again");
                    })
                    .join()
                    .expect("no panic");
            });
            stats.database_kills += 1;
            println!(
                "crash test: PostgreSQL killed and started again in {:.1?}",
                restarted.elapsed()
            );
        }
        match timing {
            KillTiming::After(delay) => tokio::time::sleep(delay).await,
            KillTiming::AfterWork => {
                if wait_for_log(&workspace.log, log_offset, "work completed", WORK_WAIT).await {
                    stats.kills_timed_to_work += 1;
                }
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..=20))).await;
            }
        }
        server.kill();
        let killed_at = unix_now();
        shared.stop.store(true, Ordering::SeqCst);
        stats.submit_time += started.elapsed();
        for task in tasks {
            dealt.push(task.await.expect("a client task does not panic"));
        }
        drop(server);
        stats.cycles += 1;

        if cycle % check_every == 0 {
            // sled: a copy of the folder as the kill left it; PostgreSQL:
            // the database itself (no portal is writing to it now).
            let snapshot = workspace.snapshot(cycle);
            let audit = match &engine {
                Engine::Sled => {
                    fixture::copy_tree(&workspace.db, &snapshot);
                    audit_of(&Location::Sled(snapshot.clone())).await
                }
                Engine::Postgres(_) => audit_of(&location).await,
            };
            backlog = (audit.work.len(), audit.outbox.len());
            let acked = ledger.lock().expect("not poisoned").acked.clone();
            let findings =
                checks::check(&audit, &initial, &acked, &workspace.mail, false, killed_at);
            stats.snapshots_checked += 1;
            stats.mails_ahead_of_completion += findings.mails_ahead;
            stats.partial_mails_seen += findings.partials;
            if findings.overdue_steps > 0 {
                stats.kills_with_overdue_work += 1;
            }
            stats.stale_start_steps += findings.stale_start_steps;
            fail_on(
                &mut workspace,
                &format!(
                    "after kill {} (database copy in {})",
                    cycle + 1,
                    snapshot.display()
                ),
                &findings.problems,
                &ledger,
            );
            if snapshot.exists() {
                std::fs::remove_dir_all(&snapshot).expect("the snapshot is removed");
            }
        }
        if (cycle + 1) % 25 == 0 || cycle + 1 == cycles {
            let counts = ledger.lock().expect("not poisoned").counts.clone();
            println!(
                "crash test: {} cycles, {} applications acknowledged, database {} MiB, \
                 {} steps queued and {} mails in the outbox at the last kill, {:.0?} elapsed",
                cycle + 1,
                counts.created,
                tree_size(&workspace.db) >> 20,
                backlog.0,
                backlog.1,
                run_started.elapsed()
            );
        }
    }

    // The end: run until all work is done and every mail is delivered,
    // then check the database in full. A kill racing the mailer's last
    // sync may leave a delivered mail in the outbox: then run again.
    let mut finished = None;
    for attempt in 1..=3 {
        let mut server = ServerProcess::start(binary, &workspace, WORK_DELAY).await;
        dealt = prepare(dealt, &server.base, &ledger).await;
        let shared = Shared {
            consent_hash: consent_hash.clone(),
            ledger: ledger.clone(),
            stop: Arc::new(AtomicBool::new(true)),
        };
        // With `stop` set, each task only resends what the last kill cut off.
        let tasks: Vec<_> = dealt
            .drain(..)
            .map(|lines| tokio::spawn(run_task(lines, shared.clone(), seed)))
            .collect();
        for task in tasks {
            dealt.push(task.await.expect("a client task does not panic"));
        }
        wait_until_all_done(&dealt, &ledger, &workspace.mail).await;
        // The mailer records a delivery and syncs just after writing the file.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        server.kill();
        drop(server);
        let audit = audit_of(&location).await;
        if audit.outbox.is_empty() && audit.work.is_empty() {
            finished = Some(audit);
            break;
        }
        println!("crash test: work or mail left at the end (attempt {attempt}); running again");
        stats.final_restarts += 1;
    }
    let audit = finished.expect("all work and mail done within 3 final runs");
    let acked = ledger.lock().expect("not poisoned").acked.clone();
    let mut findings = checks::check(&audit, &initial, &acked, &workspace.mail, true, unix_now());
    let never_acknowledged = unacknowledged(&audit, &acked);
    if !never_acknowledged.is_empty() {
        findings.problems.push(format!(
            "stored but never acknowledged, though every cut-off submission was sent again: {never_acknowledged:?}"
        ));
    }
    let counts = ledger.lock().expect("not poisoned").counts.clone();
    let wished = audit
        .applications
        .iter()
        .filter(|a| a.applicant.wants_mail)
        .count();
    let completed = audit
        .applications
        .iter()
        .filter(|a| a.state == ApplicationState::Completed)
        .count();
    let submit_secs = stats.submit_time.as_secs_f64();
    let rows = [
        ("kill cycles", stats.cycles.to_string()),
        (
            "PostgreSQL killed and restarted",
            stats.database_kills.to_string(),
        ),
        (
            "kills timed to the worker",
            stats.kills_timed_to_work.to_string(),
        ),
        (
            "kills with due work undone",
            stats.kills_with_overdue_work.to_string(),
        ),
        ("snapshots checked", stats.snapshots_checked.to_string()),
        (
            "  stale start steps seen",
            format!(
                "{} (a completion overtook its start; harmless)",
                stats.stale_start_steps
            ),
        ),
        ("submit requests", counts.requests.to_string()),
        ("acknowledged receipts (keys)", acked.len().to_string()),
        ("new applications (201)", counts.created.to_string()),
        ("replays (200)", counts.replays.to_string()),
        (
            "  stored, answer cut off, acked on resend",
            (acked.len() as u64)
                .saturating_sub(counts.created)
                .to_string(),
        ),
        ("  double clicks sent", counts.double_clicks.to_string()),
        ("  reloads sent", counts.reloads.to_string()),
        ("  resends after a kill", counts.resends.to_string()),
        ("races for one provider", counts.races.to_string()),
        ("409 refusals", counts.conflicts.to_string()),
        ("cut off by a kill", counts.cut_off.to_string()),
        ("logins again after a kill", counts.relogins.to_string()),
        ("other errors", counts.other_errors.to_string()),
        ("applications stored", audit.applications.len().to_string()),
        ("  completed", completed.to_string()),
        ("  never acknowledged", never_acknowledged.len().to_string()),
        (
            "mails wished / files",
            format!("{wished} / {}", findings.mails),
        ),
        (
            "  mails ahead of a lost completion",
            format!("{} (rewritten later)", stats.mails_ahead_of_completion),
        ),
        (
            "  partial mail files after kills",
            stats.partial_mails_seen.to_string(),
        ),
        (
            "  partial mail files at the end",
            findings.partials.to_string(),
        ),
        ("restarts to finish", stats.final_restarts.to_string()),
        ("submit time", format!("{submit_secs:.1} s")),
        (
            "submissions/s",
            format!(
                "{:.1} acknowledged applications ({:.1} answers with a receipt, replays included)",
                acked.len() as f64 / submit_secs,
                (counts.created + counts.replays) as f64 / submit_secs
            ),
        ),
    ];
    println!("crash test: done in {:.1?}", run_started.elapsed());
    for (label, value) in rows {
        println!("  {label:<42}{value}");
    }
    fail_on(&mut workspace, "at the end", &findings.problems, &ledger);
    assert!(
        counts.created > 0 && wished > 0 && findings.mails > 0,
        "the run must submit applications and deliver mail to prove anything"
    );
}

/// SIGTERM cycles of the graceful-stop test.
const TERM_CYCLES: usize = 4;
/// The graceful-stop test's `--shutdown-timeout`: shorter than most of
/// its cycles, so that the timeout must count from the stop, not the start.
const TERM_TIMEOUT: &str = "1s";
/// How long a stop may take at most before the test calls it hung.
const TERM_LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_submissions_in_flight_exits_0_having_answered_all_it_stored() {
    let seed = env_number("KAISEN_CRASH_SEED").unwrap_or_else(rand::random);
    println!("graceful stop: {TERM_CYCLES} cycles, seed {seed} (KAISEN_CRASH_SEED to repeat)");
    let mut workspace = Workspace::create();
    let binary = &workspace.install_binary(Path::new(env!("CARGO_BIN_EXE_kaisen")));
    workspace.import(binary);
    let initial = fixture::initial_settings();
    let ledger = SharedLedger::default();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut dealt = deal_lines(LINES, TASKS);
    let mut consent_hash = String::new();
    for cycle in 0..TERM_CYCLES {
        let (mut server, shared) = start_cycle(
            binary,
            &workspace,
            &["--shutdown-timeout", TERM_TIMEOUT],
            &mut dealt,
            &ledger,
            &mut consent_hash,
        )
        .await;
        let tasks = spawn_clients(&mut dealt, &shared, seed, cycle);
        tokio::time::sleep(Duration::from_millis(rng.random_range(1000..=2500))).await;
        let log_offset = file_len(&workspace.log);
        let outcome = server.terminate(TERM_LIMIT).await;
        shared.stop.store(true, Ordering::SeqCst);
        for task in tasks {
            dealt.push(task.await.expect("a client task does not panic"));
        }
        drop(server);
        let (status, took) = outcome.expect("the server stops within the limit");
        assert!(
            status.success(),
            "cycle {cycle}: exit status {status}, not 0"
        );
        println!("graceful stop: cycle {cycle} stopped in {took:?}");
        let log = std::fs::read(&workspace.log).expect("the server log");
        let stop_log = String::from_utf8_lossy(&log[log_offset as usize..]);
        assert!(
            stop_log.contains("stopped") && !stop_log.contains("did not finish in time"),
            "cycle {cycle}: the stop did not finish everything in time:\n{stop_log}"
        );

        let audit = audit_of(&Location::Sled(workspace.db.clone())).await;
        let acked = ledger.lock().expect("not poisoned").acked.clone();
        let mut findings =
            checks::check(&audit, &initial, &acked, &workspace.mail, false, unix_now());
        // Whatever the server stored, it answered: no submission was cut
        // off half-way (a SIGKILL leaves such, to be resent).
        let unanswered = unacknowledged(&audit, &acked);
        if !unanswered.is_empty() {
            findings.problems.push(format!(
                "stored but not answered before the stop: {unanswered:?}"
            ));
        }
        fail_on(
            &mut workspace,
            &format!("after SIGTERM {}", cycle + 1),
            &findings.problems,
            &ledger,
        );
    }
    let counts = ledger.lock().expect("not poisoned").counts.clone();
    println!(
        "graceful stop: {} applications acknowledged, {} requests cut off by a stop",
        counts.created, counts.cut_off
    );
    assert!(
        counts.created > 0,
        "the run must submit applications to prove anything"
    );
}

/// Kill cycles of the provider crash test.
const PROVIDER_CYCLES: usize = 8;
/// Concurrent lookup tasks in the provider crash test.
const LOOKUP_TASKS: usize = 4;

/// Every provider registered for the provider API, a provider looking lines
/// up and a webhook listener failing one request in ten, while subscribers
/// change settings and the server is killed at random or just after it
/// delivered an event: after each kill, every disclosure answered is
/// recorded and every event belongs to a completed change, one per change,
/// numbered without gaps; at the end, every event was delivered, each
/// line's in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_lookups_and_deliveries_answers_nothing_unrecorded_and_loses_no_event() {
    provider_run(Engine::Sled).await;
}

/// [`sigkill_during_lookups_and_deliveries_answers_nothing_unrecorded_and_loses_no_event`]
/// on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_sigkill_during_lookups_and_deliveries_loses_no_disclosure_or_event() {
    provider_run(Engine::postgres().await).await;
}

async fn provider_run(engine: Engine) {
    use crash::provider::{Provider, Webhooks};
    let cycles = env_number("KAISEN_CRASH_CYCLES").unwrap_or(PROVIDER_CYCLES as u64) as usize;
    let seed = env_number("KAISEN_CRASH_SEED").unwrap_or_else(rand::random);
    println!("provider crash test: {cycles} cycles, seed {seed} (KAISEN_CRASH_SEED to repeat)");
    let mut workspace = engine.workspace();
    let binary = &workspace.install_binary(Path::new(env!("CARGO_BIN_EXE_kaisen")));
    workspace.import(binary);
    let (hooks, webhook_url) = Webhooks::start().await;
    let provider = Arc::new(Provider::new());
    provider.register(binary, &workspace, &webhook_url);
    let ledger = SharedLedger::default();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut dealt = deal_lines(LINES, TASKS);
    let mut consent_hash = String::new();
    let flags = ["--provider-rate", "100000", "--provider-burst", "100000"];
    for cycle in 0..cycles {
        let (mut server, shared) = start_cycle(
            binary,
            &workspace,
            &flags,
            &mut dealt,
            &ledger,
            &mut consent_hash,
        )
        .await;
        let log_offset = file_len(&workspace.log);
        let tasks = spawn_clients(&mut dealt, &shared, seed, cycle);
        let lookups: Vec<_> = (0..LOOKUP_TASKS)
            .map(|_| provider.spawn_lookups(&server.base, shared.stop.clone()))
            .collect();
        if cycle % 2 == 1 {
            wait_for_log(&workspace.log, log_offset, "event delivered", WORK_WAIT).await;
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..=20))).await;
        } else {
            tokio::time::sleep(Duration::from_millis(rng.random_range(500..=2500))).await;
        }
        server.kill();
        shared.stop.store(true, Ordering::SeqCst);
        for task in tasks {
            dealt.push(task.await.expect("a client task does not panic"));
        }
        for lookup in lookups {
            lookup.await.expect("the lookups do not panic");
        }
        drop(server);
        let (snapshot, _) = read_provider_side(&engine, &workspace, cycle).await;
        let problems = snapshot.problems(&provider, &hooks, false);
        println!(
            "provider crash test: kill {}: {} events, {} undelivered, {} disclosures answered",
            cycle + 1,
            snapshot.events(),
            snapshot.undelivered(),
            provider.answered.lock().expect("not poisoned").len()
        );
        fail_on(
            &mut workspace,
            &format!("after kill {}", cycle + 1),
            &problems,
            &ledger,
        );
    }

    // The end: run until all work is done and every event delivered (a
    // failed delivery waits 5 s, then 10 s, …; the listener fails no more,
    // but an event that failed four times during the kills waits 80 s),
    // then check in full.
    hooks.stop_failing();
    let mut last = None;
    for attempt in 0..20 {
        let mut server = ServerProcess::start_with(binary, &workspace, WORK_DELAY, &flags).await;
        tokio::time::sleep(Duration::from_secs(6)).await;
        server.kill();
        drop(server);
        let (snapshot, work) = read_provider_side(&engine, &workspace, cycles + attempt).await;
        let done = work == 0 && snapshot.undelivered() == 0;
        last = Some(snapshot);
        if done {
            break;
        }
    }
    let snapshot = last.expect("read at least once");
    assert_eq!(
        snapshot.undelivered(),
        0,
        "every event delivered within 20 runs"
    );
    let problems = snapshot.problems(&provider, &hooks, true);
    fail_on(&mut workspace, "at the end", &problems, &ledger);
    println!(
        "provider crash test: {} events, all delivered; {} disclosures answered, all recorded",
        snapshot.events(),
        provider.answered.lock().expect("not poisoned").len()
    );
    assert!(
        snapshot.events() > 0 && !provider.answered.lock().expect("not poisoned").is_empty(),
        "the run must make events and disclosures to prove anything"
    );
}

/// Reads what the provider checks need of the stopped server's database (on
/// sled, of a copy made for kill `cycle`), and how many steps of work wait.
async fn read_provider_side(
    engine: &Engine,
    workspace: &Workspace,
    cycle: usize,
) -> (crash::provider::ProviderSide, usize) {
    let location = match engine {
        Engine::Sled => {
            let snapshot = workspace.snapshot(cycle);
            fixture::copy_tree(&workspace.db, &snapshot);
            Location::Sled(snapshot)
        }
        Engine::Postgres(_) => engine.location(workspace),
    };
    let store = kaisen::store::Store::open(&location, kaisen::store::Purpose::Serve)
        .await
        .expect("the database opens after the kill");
    let snapshot = crash::provider::ProviderSide::read(&store).await;
    let work = store.audit().await.expect("read").work.len();
    drop(store);
    if let Location::Sled(copy) = &location {
        let _ = std::fs::remove_dir_all(copy);
    }
    (snapshot, work)
}

/// Waits until every line's applications are completed and every one that
/// wished a mail has its `.eml` file. Long runs end with a backlog (the
/// mailer writes and fsyncs one file at a time, and each server lived about
/// a second), so the wait goes on while there is progress: it fails after
/// [`FINISH_TIMEOUT`] without any, or after [`FINISH_LIMIT`] in all.
async fn wait_until_all_done(dealt: &[Vec<LineClient>], ledger: &SharedLedger, mail_dir: &Path) {
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut last_report = Instant::now();
    let mut best = usize::MAX;
    loop {
        let (mut working, mut unmailed) = (0, 0);
        let mails = mail::scan(mail_dir).mails;
        for line in dealt.iter().flatten() {
            let receipts = line
                .applications(ledger)
                .await
                .expect("the server answers at the end");
            for receipt in receipts {
                if receipt.state != ApplicationState::Completed {
                    working += 1;
                } else if receipt.applicant.wants_mail && !mails.contains(&receipt.id) {
                    unmailed += 1;
                }
            }
        }
        let waiting = working + unmailed;
        if waiting == 0 {
            println!(
                "crash test: all work done and mailed {:.1?} after the last start",
                started.elapsed()
            );
            return;
        }
        if waiting < best {
            best = waiting;
            last_progress = Instant::now();
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            println!("crash test: waiting for {working} completions and {unmailed} mails");
            last_report = Instant::now();
        }
        assert!(
            last_progress.elapsed() < FINISH_TIMEOUT && started.elapsed() < FINISH_LIMIT,
            "{working} applications not completed and {unmailed} mails not written: \
             no progress for {FINISH_TIMEOUT:?}, or {FINISH_LIMIT:?} in all"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The applications stored whose receipt no client received.
fn unacknowledged(
    audit: &Audit,
    acked: &std::collections::BTreeMap<(String, String), shared::api::Receipt>,
) -> Vec<shared::domain::ApplicationId> {
    let acked_ids: BTreeSet<_> = acked.values().map(|r| r.id).collect();
    audit
        .applications
        .iter()
        .filter(|a| !acked_ids.contains(&a.id))
        .map(|a| a.id)
        .collect()
}

/// Waits until `needle` appears in the log after `offset`, at most `limit`.
async fn wait_for_log(log: &Path, offset: u64, needle: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut seen = String::new();
    let mut position = offset;
    while Instant::now() < deadline {
        if let Ok(mut file) = std::fs::File::open(log)
            && file.seek(SeekFrom::Start(position)).is_ok()
        {
            let mut chunk = Vec::new();
            if let Ok(n) = file.read_to_end(&mut chunk) {
                position += n as u64;
                seen.push_str(&String::from_utf8_lossy(&chunk));
                if seen.contains(needle) {
                    return true;
                }
                // Keep only a tail long enough to hold a split needle.
                let keep = seen.len().saturating_sub(needle.len());
                let cut = (keep..=seen.len())
                    .find(|&i| seen.is_char_boundary(i))
                    .unwrap_or(seen.len());
                seen.drain(..cut);
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

/// The bytes of every file under `dir`.
fn tree_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => tree_size(&entry.path()),
            _ => entry.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
