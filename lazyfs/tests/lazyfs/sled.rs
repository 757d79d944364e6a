//! sled 0.34.7 on the mount: `flush()` alone ends in `sync_file_range`,
//! which never reaches the file system, so only an fsync of the data file
//! keeps the keys. This is what lets kaisen's crash test notice a missing
//! `sync_all`.

use std::fs::File;
use std::path::Path;

use crate::helpers::Rig;

/// sled without its periodic flusher, whose every round ends in an fsync of
/// the data file (every 500 ms by default): a cut within that window loses
/// what only `flush()` wrote.
fn open(dir: &Path) -> sled::Db {
    sled::Config::new()
        .path(dir)
        .flush_every_ms(None)
        .open()
        .unwrap()
}

fn insert_keys(db: &sled::Db) {
    for i in 0u32..100 {
        db.insert(i.to_be_bytes(), b"receipt".as_slice()).unwrap();
    }
}

trait CrashWith {
    /// Cuts the power under a running sled, then unmounts.
    fn crash_with(&mut self, db: sled::Db);
}

impl CrashWith for Rig {
    fn crash_with(&mut self, db: sled::Db) {
        self.cut();
        // A killed process runs no destructor. sled's would fsync the data
        // file (and panic on the EIO).
        std::mem::forget(db);
        self.unmount();
    }
}

/// The keys found by opening the backing directory's copy directly.
fn durable_keys(rig: &Rig) -> usize {
    let db = open(&rig.backing("db"));
    db.len()
}

#[test]
fn sled_flush_alone_loses_the_keys_at_the_cut() {
    let mut rig = Rig::new();
    let db = open(&rig.mnt("db"));
    insert_keys(&db);
    db.flush().unwrap();
    assert_eq!(db.len(), 100);
    rig.crash_with(db);
    assert_eq!(durable_keys(&rig), 0);
}

#[test]
fn sled_flush_and_sync_all_of_the_data_file_keeps_the_keys() {
    let mut rig = Rig::new();
    let db = open(&rig.mnt("db"));
    insert_keys(&db);
    db.flush().unwrap();
    File::open(rig.mnt("db").join("db"))
        .unwrap()
        .sync_all()
        .unwrap();
    rig.crash_with(db);
    assert_eq!(durable_keys(&rig), 100);
}
