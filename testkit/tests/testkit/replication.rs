//! A synchronous standby, and the failover to it when the primary dies.

use testkit::{Cluster, Options};

#[test]
fn a_synchronous_standby_has_each_commit_and_takes_over_when_the_primary_is_killed() {
    let primary = Cluster::start(Options::default()).unwrap();
    let standby = Cluster::start_standby(
        &primary,
        Options {
            name: Some("replica_a".to_owned()),
            ..Options::default()
        },
    )
    .unwrap();
    primary.require_synchronous_standby("replica_a").unwrap();
    assert_eq!(
        primary
            .psql("SELECT application_name, sync_state FROM pg_stat_replication")
            .unwrap(),
        "replica_a|sync"
    );

    // remote_apply: the commit returns once the standby shows the row.
    primary
        .psql("CREATE TABLE t (x int); SET synchronous_commit = remote_apply; INSERT INTO t VALUES (1)")
        .unwrap();
    assert_eq!(standby.psql("SELECT x FROM t").unwrap(), "1");
    assert!(standby.psql("INSERT INTO t VALUES (0)").is_err());

    // The default (on): the commit returns once the standby has it on disk.
    primary.psql("INSERT INTO t VALUES (2)").unwrap();
    let primary_pids = super::server_pids(&primary);
    primary.kill9().unwrap();
    assert!(!primary.is_running());
    assert!(primary_pids.iter().all(|pid| !super::is_alive(*pid)));

    standby.promote().unwrap();
    assert_eq!(standby.psql("SELECT x FROM t ORDER BY x").unwrap(), "1\n2");
    standby.psql("INSERT INTO t VALUES (3)").unwrap();
    assert_eq!(standby.psql("SELECT count(*) FROM t").unwrap(), "3");
}
