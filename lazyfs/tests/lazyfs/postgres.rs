//! PostgreSQL 15 with its data directory on the mount, run as the
//! `postgres` user (the mount is made by root with `allow_other`): a
//! committed row, its WAL fsynced, survives the cut; a row committed with
//! `synchronous_commit = off` does not.

use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::Rig;

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// Runs a PostgreSQL program as the `postgres` user; panics with its output
/// unless it succeeds.
fn as_postgres(program: &str, args: &[&str]) -> String {
    as_postgres_or(program, args, String::new)
}

/// [`as_postgres`], adding `more()` to the output when it fails.
fn as_postgres_or(program: &str, args: &[&str], more: impl FnOnce() -> String) -> String {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--", &format!("{BIN}/{program}")])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("runuser {program}: {e} (PostgreSQL 15 and root needed)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{text}{}",
        more()
    );
    text
}

fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .unwrap();
        assert!(out.status.success(), "no postgres user");
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    (id("-u"), id("-g"))
}

/// A server on `data`, listening only on a socket in `run`.
struct Server<'a> {
    data: &'a str,
    run: &'a str,
}

impl Server<'_> {
    fn start(&self) -> Running {
        // WAL of asynchronous commits waits up to 10 s for the WAL writer.
        let options = format!(
            "-k {} -c listen_addresses='' -c wal_writer_delay=10s",
            self.run
        );
        let log = format!("{}/log", self.run);
        as_postgres_or(
            "pg_ctl",
            &["-D", self.data, "-l", &log, "-o", &options, "-w", "start"],
            || fs::read_to_string(&log).unwrap_or_default(),
        );
        let pid = fs::read_to_string(format!("{}/postmaster.pid", self.data)).unwrap();
        Running {
            postmaster: pid.lines().next().unwrap().to_owned(),
        }
    }

    fn sql(&self, sql: &str) -> String {
        as_postgres(
            "psql",
            &[
                "-h",
                self.run,
                "-U",
                "postgres",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
        )
    }

    fn stop(&self, running: Running) {
        as_postgres("pg_ctl", &["-D", self.data, "-m", "fast", "-w", "stop"]);
        std::mem::forget(running);
    }
}

/// A started server; dropping it kills it.
struct Running {
    postmaster: String,
}

impl Running {
    /// Kills the postmaster and its children at once, as a power loss
    /// would, and waits until they are gone.
    fn kill(self) {
        drop(self);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let pid = &self.postmaster;
        let children =
            fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        let pids: Vec<&str> = std::iter::once(pid.as_str())
            .chain(children.split_whitespace())
            .collect();
        let _ = Command::new("kill").arg("-KILL").args(&pids).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        for pid in pids {
            // Until reaped: the next postmaster takes a zombie's PID in
            // postmaster.pid for a live server.
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

#[test]
fn postgres_keeps_a_committed_row_and_loses_an_unflushed_asynchronous_commit() {
    let mut rig = Rig::new();
    let (uid, gid) = postgres_ids();
    // The postgres user must reach the mount, and own its data and socket
    // directories.
    fs::set_permissions(rig.root(), fs::Permissions::from_mode(0o755)).unwrap();
    let run = rig.root().join("run");
    fs::create_dir(&run).unwrap();
    chown(&run, Some(uid), Some(gid)).unwrap();
    let data = rig.mnt("data");
    fs::create_dir(&data).unwrap();
    chown(&data, Some(uid), Some(gid)).unwrap();
    fs::set_permissions(&data, fs::Permissions::from_mode(0o700)).unwrap();
    let server = Server {
        data: data.to_str().unwrap(),
        run: run.to_str().unwrap(),
    };

    as_postgres(
        "initdb",
        &[
            "-D",
            server.data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-instructions",
        ],
    );
    let running = server.start();
    server.sql("CREATE TABLE receipts (id int PRIMARY KEY)");
    server.sql("INSERT INTO receipts VALUES (1)");
    server.sql("SET synchronous_commit = off; INSERT INTO receipts VALUES (2)");
    assert_eq!(server.sql("SELECT id FROM receipts ORDER BY id"), "1\n2\n");
    rig.cut();
    running.kill();
    rig.unmount();
    assert!(Path::new(&rig.backing("data/PG_VERSION")).exists());

    rig.mount();
    let running = server.start();
    let rows = server.sql("SELECT id FROM receipts ORDER BY id");
    server.stop(running);
    rig.unmount();
    assert_eq!(rows, "1\n");
}
