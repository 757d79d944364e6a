//! The `lazyfs mount` command: SIGUSR1 cuts the power, then unmounts.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

#[test]
fn sigusr1_to_lazyfs_mount_cuts_the_power_and_unmounts() {
    let dir = tempfile::tempdir().unwrap();
    let (backing, mnt) = (dir.path().join("backing"), dir.path().join("mnt"));
    fs::create_dir(&backing).unwrap();
    fs::create_dir(&mnt).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lazyfs"))
        .arg("mount")
        .args([&backing, &mnt])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "mounted\n");

    let mut synced = File::create(mnt.join("synced")).unwrap();
    synced.write_all(b"kept").unwrap();
    synced.sync_all().unwrap();
    fs::write(mnt.join("synced"), b"lost").unwrap();
    drop(synced);
    let status = Command::new("kill")
        .args(["-USR1", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());

    assert_eq!(fs::read(backing.join("synced")).unwrap(), b"kept");
    assert!(
        !fs::read_to_string("/proc/self/mounts")
            .unwrap()
            .contains(mnt.to_str().unwrap())
    );
}
