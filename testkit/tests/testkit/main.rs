//! The testkit's tests: real clusters, started, stopped, crashed, failed
//! over and dropped. Each needs PostgreSQL 15 or newer from Debian
//! (`scripts/setup.sh`).

mod cleanup;
mod command;
mod lifecycle;
mod replication;

use std::fs;

/// Whether process `pid` runs (a zombie does not).
pub fn is_alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) state …`: the state follows the last parenthesis.
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

/// The postmaster's pid and those of the processes that stay in
/// `pg_stat_activity` (checkpointer, walwriter, walsenders…: not the
/// backend asked, nor an autovacuum worker).
pub fn server_pids(cluster: &testkit::Cluster) -> Vec<u32> {
    let mut pids = vec![cluster.postmaster_pid().expect("the cluster runs")];
    let listed = cluster
        .psql(
            "SELECT pid FROM pg_stat_activity \
             WHERE pid <> pg_backend_pid() AND backend_type <> 'autovacuum worker'",
        )
        .unwrap();
    pids.extend(listed.lines().map(|pid| pid.parse::<u32>().unwrap()));
    pids
}
