//! Start, query, stop, crash, start again.

use std::net::TcpListener;
use std::process::Command;

use testkit::{Cluster, Error, Options};

#[test]
fn a_new_cluster_answers_at_its_url_with_the_test_settings() {
    let cluster = Cluster::start(Options {
        settings: vec![("work_mem".to_owned(), "64MB".to_owned())],
        ..Options::default()
    })
    .unwrap();
    let port = cluster.port();
    assert_eq!(cluster.host_spec(), format!("127.0.0.1:{port}"));
    assert_eq!(
        cluster.url(),
        format!("postgres://kaisen@127.0.0.1:{port}/kaisen")
    );

    // The URL as the server's tests will use it, with Debian's psql.
    let output = Command::new("/usr/bin/psql")
        .args(["-X", "-At", "-c", "SELECT current_user, current_database()"])
        .arg(cluster.url())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "kaisen|kaisen\n");

    let settings = cluster
        .psql(
            "SELECT current_setting('fsync'), current_setting('synchronous_commit'), \
             current_setting('shared_buffers'), current_setting('max_connections'), \
             current_setting('listen_addresses'), current_setting('work_mem'), \
             current_setting('server_encoding')",
        )
        .unwrap();
    assert_eq!(settings, "off|on|128MB|200|127.0.0.1|64MB|UTF8");
    let socket_dir = cluster.psql("SHOW unix_socket_directories").unwrap();
    assert_eq!(socket_dir, cluster.dir().display().to_string());
    assert!(cluster.log_path().starts_with(cluster.dir()));
}

#[test]
fn a_stopped_cluster_starts_again_with_its_data_on_its_port() {
    let cluster = Cluster::start(Options::default()).unwrap();
    let url = cluster.url();
    cluster
        .psql("CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2)")
        .unwrap();

    cluster.stop().unwrap();
    assert!(!cluster.is_running());
    assert!(cluster.psql("SELECT 1").is_err());

    cluster.start_again().unwrap();
    assert!(cluster.is_running());
    assert_eq!(cluster.url(), url);
    assert_eq!(cluster.psql("SELECT sum(x) FROM t").unwrap(), "3");
}

#[test]
fn an_immediate_stop_is_a_crash_that_loses_no_committed_row() {
    let cluster = Cluster::start(Options {
        fsync: true,
        ..Options::default()
    })
    .unwrap();
    cluster
        .psql("CREATE TABLE t (x int); INSERT INTO t VALUES (7)")
        .unwrap();

    cluster.kill_immediate().unwrap();
    assert!(!cluster.is_running());
    cluster.start_again().unwrap();

    assert_eq!(cluster.psql("SELECT x FROM t").unwrap(), "7");
    assert!(
        cluster
            .log_tail()
            .contains("automatic recovery in progress"),
        "no crash recovery in the log:\n{}",
        cluster.log_tail()
    );
}

#[test]
fn a_port_taken_by_another_process_is_an_error_with_the_log_tail() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();

    let error = Cluster::start(Options {
        port: Some(port),
        ..Options::default()
    })
    .unwrap_err();

    // The very words a picked port is picked again on.
    match &error {
        Error::Start {
            port: tried, tail, ..
        } => {
            assert_eq!(*tried, port);
            assert!(tail.contains("Address already in use"), "{error}");
        }
        other => panic!("not a start error: {other}"),
    }
}
