//! A cluster that goes leaves no process and no directory behind.

use std::sync::mpsc;
use std::thread;

use testkit::{Cluster, Options};

#[test]
fn a_dropped_cluster_leaves_no_process_and_no_directory() {
    let cluster = Cluster::start(Options::default()).unwrap();
    let pids = super::server_pids(&cluster);
    let dir = cluster.dir().to_owned();
    assert!(pids.iter().all(|pid| super::is_alive(*pid)));

    drop(cluster);

    let alive: Vec<_> = pids.iter().filter(|pid| super::is_alive(**pid)).collect();
    assert!(alive.is_empty(), "still running: {alive:?}");
    assert!(!dir.exists());
}

#[test]
fn a_test_that_panics_leaves_no_process() {
    let (send, receive) = mpsc::channel();
    let test = thread::spawn(move || {
        let cluster = Cluster::start(Options::default()).unwrap();
        send.send(super::server_pids(&cluster)).unwrap();
        panic!("a deliberate panic, with a cluster running");
    });
    assert!(test.join().is_err());

    let pids = receive.recv().unwrap();
    let alive: Vec<_> = pids.iter().filter(|pid| super::is_alive(**pid)).collect();
    assert!(alive.is_empty(), "still running: {alive:?}");
}
