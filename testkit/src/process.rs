//! A cluster's processes, found in `/proc`: every PostgreSQL process works
//! in its data directory, so the `postgres` processes with that directory
//! as their working directory are the cluster's — the postmaster and its
//! children, also after the postmaster was killed.
//!
//! A process is known by its pid and start time (pids are reused), and is
//! gone once it is a zombie or no more, not when it stops looking like a
//! PostgreSQL process (a killed one tearing down its memory still runs). (A container
//! whose first process does not reap orphans keeps exited postmasters as
//! zombies for a while.)

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::Error;

/// How often a wait looks again.
pub(crate) const POLL: Duration = Duration::from_millis(20);
/// How long killed processes may take to go.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// One process, as long as it lives: a pid and when it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Process {
    pid: u32,
    start_time: u64,
}

impl Process {
    /// Process `pid` if it runs.
    pub(crate) fn running(pid: u32) -> Option<Self> {
        Self::read(pid).map(|(process, _)| process)
    }

    /// Process `pid` if it runs, and its command name.
    fn read(pid: u32) -> Option<(Self, String)> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid …`: after the last parenthesis, field 3
        // (the state) and on; the start time is field 22.
        let (head, tail) = stat.rsplit_once(')')?;
        let command = head.split_once('(')?.1.to_owned();
        let fields: Vec<&str> = tail.split_whitespace().collect();
        let state = fields.first()?;
        let start_time = fields.get(22 - 3)?.parse().ok()?;
        let process = Self { pid, start_time };
        (*state != "Z" && *state != "X").then_some((process, command))
    }

    /// Its pid.
    pub(crate) fn pid(self) -> u32 {
        self.pid
    }

    /// Whether it still runs.
    pub(crate) fn is_running(self) -> bool {
        Self::running(self.pid) == Some(self)
    }
}

/// The running PostgreSQL processes working in `data_dir` (canonical).
pub(crate) fn cluster_processes(data_dir: &Path) -> Vec<Process> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| cluster_process(pid, data_dir))
        .collect()
}

/// Process `pid`, if it is a PostgreSQL process working in `data_dir`
/// (canonical). (By its command name, not its binary: that cannot be read
/// any more while a killed process tears its memory down.)
pub(crate) fn cluster_process(pid: u32, data_dir: &Path) -> Option<Process> {
    let (process, command) = Process::read(pid)?;
    let cwd = fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
    (command == "postgres" && cwd == data_dir && process.is_running()).then_some(process)
}

/// Sends SIGKILL to `processes`; those already gone are no error.
pub(crate) fn kill9(processes: &[Process]) -> Result<(), Error> {
    let pids: Vec<String> = processes
        .iter()
        .filter(|process| process.is_running())
        .map(|process| process.pid.to_string())
        .collect();
    if pids.is_empty() {
        return Ok(());
    }
    Command::new("kill")
        .arg("-KILL")
        .args(pids)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(Error::io("running kill"))?;
    Ok(())
}

/// Ends the cluster's processes, `known` (found before they were told to
/// go) and any found now: waits `grace` for them to exit, sends SIGKILL to
/// the rest and waits until they are gone. Those still there after 10 s
/// more are named in the error.
pub(crate) fn end(data_dir: &Path, known: Vec<Process>, grace: Duration) -> Result<(), Error> {
    let left = wait_until_gone(data_dir, known, grace);
    kill9(&left)?;
    let left = wait_until_gone(data_dir, left, KILL_TIMEOUT);
    if left.is_empty() {
        return Ok(());
    }
    let pids: Vec<u32> = left.iter().map(|process| process.pid).collect();
    Err(Error::Io {
        action: format!("ending the processes of {} ({pids:?})", data_dir.display()),
        source: std::io::Error::from(std::io::ErrorKind::TimedOut),
    })
}

/// Waits until `running` and any process of the cluster found meanwhile
/// are gone, for at most `timeout`; those still running then.
fn wait_until_gone(data_dir: &Path, mut running: Vec<Process>, timeout: Duration) -> Vec<Process> {
    let start = Instant::now();
    loop {
        running.retain(|process| process.is_running());
        for process in cluster_processes(data_dir) {
            if !running.contains(&process) {
                running.push(process);
            }
        }
        if running.is_empty() || start.elapsed() >= timeout {
            return running;
        }
        thread::sleep(POLL);
    }
}
