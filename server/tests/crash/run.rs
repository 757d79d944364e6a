//! One cycle's moves, shared by the crash test (`crash.rs`) and the
//! power-loss test (`power.rs`): start the server and log the clients in,
//! set the client tasks loose, read the database through the library, and
//! fail on broken promises.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{SystemTime, UNIX_EPOCH};

use kaisen::store::{Audit, Location, Purpose, Store};
use shared::api::Consent;

use super::clients::{LineClient, Shared, SharedLedger, run_task};
use super::fixture::Workspace;
use super::server::ServerProcess;

/// The server's work delay: short, so that work completes all the time.
pub const WORK_DELAY: &str = "1s";

/// Starts the server and logs every client in, reads the consent's hash
/// once, and returns the server with what the client tasks share.
pub async fn start_cycle(
    binary: &Path,
    workspace: &Workspace,
    extra: &[&str],
    dealt: &mut Vec<Vec<LineClient>>,
    ledger: &SharedLedger,
    consent_hash: &mut String,
) -> (ServerProcess, Shared) {
    let server = ServerProcess::start_with(binary, workspace, WORK_DELAY, extra).await;
    *dealt = prepare(std::mem::take(dealt), &server.base, ledger).await;
    if consent_hash.is_empty() {
        let consent: Consent = dealt[0][0]
            .get_json("/api/consent", ledger)
            .await
            .expect("the consent is read");
        *consent_hash = consent.hash;
    }
    let shared = Shared {
        consent_hash: consent_hash.clone(),
        ledger: ledger.clone(),
        stop: Arc::new(AtomicBool::new(false)),
    };
    (server, shared)
}

/// Hands each share of the lines to a client task of its own, seeded from
/// the run's seed, the cycle and the share.
pub fn spawn_clients(
    dealt: &mut Vec<Vec<LineClient>>,
    shared: &Shared,
    seed: u64,
    cycle: usize,
) -> Vec<tokio::task::JoinHandle<Vec<LineClient>>> {
    dealt
        .drain(..)
        .enumerate()
        .map(|(n, lines)| {
            let task_seed = seed ^ ((cycle as u64) << 16 | n as u64);
            tokio::spawn(run_task(lines, shared.clone(), task_seed))
        })
        .collect()
}

/// Points every client at `base` and makes sure each holds a session,
/// one task per share of lines (logins run Argon2 on the server).
pub async fn prepare(
    dealt: Vec<Vec<LineClient>>,
    base: &str,
    ledger: &SharedLedger,
) -> Vec<Vec<LineClient>> {
    let tasks: Vec<_> = dealt
        .into_iter()
        .map(|mut lines| {
            let base = base.to_owned();
            let ledger = ledger.clone();
            tokio::spawn(async move {
                for line in &mut lines {
                    line.base.clone_from(&base);
                    line.ensure_logged_in(&ledger)
                        .await
                        .expect("the server answers logins");
                }
                lines
            })
        })
        .collect();
    let mut prepared = Vec::with_capacity(tasks.len());
    for task in tasks {
        prepared.push(task.await.expect("a login task does not panic"));
    }
    prepared
}

/// Opens the database at `location` through the library and reads all of
/// it.
pub async fn audit_of(location: &Location) -> Audit {
    let store = Store::open(location, Purpose::Serve)
        .await
        .expect("the database opens after the kill");
    store.audit().await.expect("every record decodes")
}

/// Fails the test on `problems`, keeping the workspace for a look.
pub fn fail_on(workspace: &mut Workspace, when: &str, problems: &[String], ledger: &SharedLedger) {
    let violations = std::mem::take(&mut ledger.lock().expect("not poisoned").violations);
    let all: Vec<&String> = violations.iter().chain(problems).collect();
    if all.is_empty() {
        return;
    }
    workspace.root.disable_cleanup(true);
    let shown: Vec<&&String> = all.iter().take(30).collect();
    panic!(
        "{when}: {} broken promises (workspace kept in {}, server log server.log):\n{shown:#?}",
        all.len(),
        workspace.root.path().display()
    );
}

/// Now, in whole seconds since 1970.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A number from the environment, if set; a malformed one fails the test.
pub fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}"))
    })
}
