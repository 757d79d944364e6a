//! Files and directories: what fsync keeps and what a cut takes.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::FileExt;

use crate::helpers::{Rig, names};

#[test]
fn fsynced_data_is_in_the_backing_directory_after_the_cut() {
    let mut rig = Rig::new();
    let mut f = File::create(rig.mnt("a")).unwrap();
    f.write_all(b"durable").unwrap();
    f.sync_all().unwrap();
    drop(f);
    rig.crash();
    assert_eq!(fs::read(rig.backing("a")).unwrap(), b"durable");
}

#[test]
fn unsynced_data_is_lost_at_the_cut_leaving_the_last_synced_contents() {
    let mut rig = Rig::new();
    let mut f = File::create(rig.mnt("log")).unwrap();
    f.write_all(b"one,").unwrap();
    f.sync_data().unwrap();
    f.write_all(b"two,").unwrap();
    f.flush().unwrap();
    // Reads see the unsynced write, as a page cache does…
    assert_eq!(fs::read(rig.mnt("log")).unwrap(), b"one,two,");
    // …even once the file is closed.
    drop(f);
    assert_eq!(fs::read(rig.mnt("log")).unwrap(), b"one,two,");
    assert_eq!(fs::metadata(rig.mnt("log")).unwrap().len(), 8);
    rig.crash();
    assert_eq!(fs::read(rig.backing("log")).unwrap(), b"one,");
}

#[test]
fn an_unsynced_overwrite_in_place_and_truncate_are_rolled_back_to_the_old_bytes() {
    let mut rig = Rig::new();
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(rig.mnt("page"))
        .unwrap();
    f.write_all_at(&[b'a'; 8192], 0).unwrap();
    f.sync_all().unwrap();
    f.write_all_at(b"bbbb", 4000).unwrap();
    let mut seen = [0; 6];
    f.read_exact_at(&mut seen, 3999).unwrap();
    assert_eq!(&seen, b"abbbba");
    f.set_len(100).unwrap();
    f.set_len(200).unwrap();
    assert_eq!(fs::read(rig.mnt("page")).unwrap()[150], 0);
    drop(f);
    rig.crash();
    assert_eq!(fs::read(rig.backing("page")).unwrap(), [b'a'; 8192]);
}

#[test]
fn a_rename_after_fsync_of_file_and_directory_survives() {
    let mut rig = Rig::new();
    fs::create_dir(rig.mnt("d")).unwrap();
    let mut f = File::create(rig.mnt("d/new.tmp")).unwrap();
    f.write_all(b"v2").unwrap();
    f.sync_all().unwrap();
    drop(f);
    fs::write(rig.mnt("d/current"), b"v1").unwrap();
    fs::rename(rig.mnt("d/new.tmp"), rig.mnt("d/current")).unwrap();
    File::open(rig.mnt("d")).unwrap().sync_all().unwrap();
    rig.crash();
    assert_eq!(names(&rig.backing("d")), ["current"]);
    assert_eq!(fs::read(rig.backing("d/current")).unwrap(), b"v2");
}

#[test]
fn namespace_changes_after_the_last_fsync_are_undone() {
    let mut rig = Rig::new();
    fs::create_dir(rig.mnt("d")).unwrap();
    for name in ["d/kept", "d/moved", "d/replaced", "gone"] {
        write_synced(&rig, name, name.as_bytes());
    }

    fs::remove_file(rig.mnt("gone")).unwrap();
    fs::rename(rig.mnt("d/moved"), rig.mnt("d/replaced")).unwrap();
    fs::create_dir_all(rig.mnt("d/new/deeper")).unwrap();
    fs::write(rig.mnt("d/new/deeper/file"), b"new").unwrap();
    fs::rename(rig.mnt("d/kept"), rig.mnt("d/new/kept")).unwrap();
    std::os::unix::fs::symlink("kept", rig.mnt("link")).unwrap();
    assert_eq!(names(&rig.mnt("")), ["d", "link"]);
    assert_eq!(fs::read(rig.mnt("d/replaced")).unwrap(), b"d/moved");
    rig.crash();

    assert_eq!(names(&rig.backing("")), ["d", "gone"]);
    assert_eq!(names(&rig.backing("d")), ["kept", "moved", "replaced"]);
    for name in ["d/kept", "d/moved", "d/replaced", "gone"] {
        assert_eq!(fs::read(rig.backing(name)).unwrap(), name.as_bytes());
    }
}

/// Writes a file on the mount and fsyncs it.
fn write_synced(rig: &Rig, name: &str, bytes: &[u8]) {
    let mut f = File::create(rig.mnt(name)).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

#[test]
fn a_file_created_and_written_but_not_fsynced_is_empty_after_another_files_fsync() {
    let mut rig = Rig::new();
    fs::write(rig.mnt("unsynced"), b"lost").unwrap();
    let mut other = File::create(rig.mnt("other")).unwrap();
    other.write_all(b"x").unwrap();
    other.sync_all().unwrap();
    drop(other);
    rig.crash();
    assert_eq!(fs::read(rig.backing("unsynced")).unwrap(), b"");
}

#[test]
fn after_the_cut_every_operation_fails_with_eio() {
    let mut rig = Rig::new();
    let mut f = File::create(rig.mnt("a")).unwrap();
    f.write_all(b"before").unwrap();
    rig.cut();
    let eio = |e: std::io::Error| assert_eq!(e.raw_os_error(), Some(5), "{e}");
    eio(f.write_all(b"after").unwrap_err());
    eio(f.sync_all().unwrap_err());
    eio(File::create(rig.mnt("b")).unwrap_err());
    eio(fs::read_dir(rig.mnt("")).map(|_| ()).unwrap_err());
    drop(f);
    rig.unmount();
    assert_eq!(names(&rig.backing("")), Vec::<String>::new());
}

#[test]
fn a_clean_unmount_makes_everything_durable() {
    let mut rig = Rig::new();
    fs::create_dir(rig.mnt("d")).unwrap();
    fs::write(rig.mnt("d/a"), b"written").unwrap();
    fs::write(rig.mnt("gone"), b"").unwrap();
    fs::remove_file(rig.mnt("gone")).unwrap();
    rig.unmount();
    assert_eq!(names(&rig.backing("")), ["d"]);
    assert_eq!(fs::read(rig.backing("d/a")).unwrap(), b"written");

    rig.mount();
    let mut s = String::new();
    File::open(rig.mnt("d/a"))
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "written");
    rig.crash();
    assert_eq!(fs::read(rig.backing("d/a")).unwrap(), b"written");
}

#[test]
fn a_deleted_file_still_open_reads_and_writes_until_closed() {
    let mut rig = Rig::new();
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(rig.mnt("tmp"))
        .unwrap();
    f.write_all_at(b"scratch", 0).unwrap();
    fs::remove_file(rig.mnt("tmp")).unwrap();
    File::open(rig.mnt("")).unwrap().sync_all().unwrap();
    f.write_all_at(b"S", 0).unwrap();
    let mut seen = [0; 7];
    f.read_exact_at(&mut seen, 0).unwrap();
    assert_eq!(&seen, b"Scratch");
    assert_eq!(
        fs::metadata(rig.mnt("tmp")).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    drop(f);
    rig.crash();
    assert_eq!(names(&rig.backing("")), Vec::<String>::new());
}

#[test]
fn of_hundreds_of_files_the_fsynced_keep_their_data_and_the_others_only_their_names() {
    let mut rig = Rig::new();
    for i in 0..300 {
        let mut f = File::create(rig.mnt(&format!("f{i}"))).unwrap();
        f.write_all(format!("{i}").as_bytes()).unwrap();
        if i % 2 == 0 {
            f.sync_all().unwrap();
        }
    }
    rig.crash();
    // f299 was created after the last fsync.
    assert!(!rig.backing("f299").exists());
    for i in 0..299 {
        let got = fs::read(rig.backing(&format!("f{i}"))).unwrap();
        let want = if i % 2 == 0 {
            format!("{i}")
        } else {
            String::new()
        };
        assert_eq!(got, want.as_bytes(), "f{i}");
    }
}
