//! The `testkit` command, as the e2e serve script uses it.

use std::fs;
use std::process::Command;

use testkit::Cluster;

#[test]
fn the_command_starts_a_cluster_that_outlives_it_and_stops_it() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("pg");
    let start = Command::new(env!("CARGO_BIN_EXE_testkit"))
        .arg("start")
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(start.status.success(), "{start:?}");
    // Stops the server if an assertion fails.
    let cluster = Cluster::attach(&dir).unwrap();
    let url = String::from_utf8(start.stdout).unwrap();
    assert_eq!(url, format!("{}\n", cluster.url()));
    assert_eq!(fs::read_to_string(dir.join("url")).unwrap(), url);
    assert_eq!(cluster.psql("SELECT 1").unwrap(), "1");
    let postmaster = cluster.postmaster_pid().unwrap();

    let stop = Command::new(env!("CARGO_BIN_EXE_testkit"))
        .arg("stop")
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(stop.status.success(), "{stop:?}");
    assert!(!cluster.is_running());
    assert!(!super::is_alive(postmaster));
    assert!(dir.join("data/PG_VERSION").is_file());
}
