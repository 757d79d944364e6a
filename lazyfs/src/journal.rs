//! The metadata journal: how to undo every namespace change made since the
//! last fsync.
//!
//! Namespace changes (create, mkdir, symlink, link, unlink, rmdir, rename,
//! chmod, chown) are applied to the backing directory at once, so lookups
//! and listings need no model of their own. Each one records its inverse
//! here; a name that goes away is moved into the trash directory instead of
//! being deleted, so that its inverse can bring it back. An fsync commits the
//! journal: the trash is emptied and the inverses are forgotten. A power cut
//! runs the inverses newest first, which leaves the backing directory as it
//! was at the last commit.

use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, lchown};
use std::path::{Path, PathBuf};

use rustix::fs::{CWD, RenameFlags, renameat_with};

/// The inverse of one namespace change.
#[derive(Debug)]
enum Undo {
    /// A file, symlink, node or hard link was created at this path.
    Remove(PathBuf),
    /// A directory was created at this path.
    RemoveDir(PathBuf),
    /// The name `path` went away; its inode waits at `trash`.
    Restore { trash: PathBuf, path: PathBuf },
    /// `from` was renamed to `to`.
    Rename { from: PathBuf, to: PathBuf },
    /// `a` and `b` were exchanged.
    Exchange { a: PathBuf, b: PathBuf },
    /// The permission bits at `path` were `mode`.
    Mode { path: PathBuf, mode: u32 },
    /// The owner at `path` was `uid`, `gid`.
    Owner { path: PathBuf, uid: u32, gid: u32 },
}

/// Inverses of the namespace changes since the last commit, oldest first.
#[derive(Debug)]
pub(crate) struct Journal {
    undo: Vec<Undo>,
    trash: PathBuf,
    next_trash: u64,
}

impl Journal {
    /// An empty journal whose removed names wait in `trash` (a directory on
    /// the backing file system, which this creates).
    pub(crate) fn new(trash: PathBuf) -> io::Result<Self> {
        match fs::remove_dir_all(&trash) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        fs::create_dir(&trash)?;
        Ok(Self {
            undo: Vec::new(),
            trash,
            next_trash: 0,
        })
    }

    /// The trash directory.
    pub(crate) fn trash(&self) -> &Path {
        &self.trash
    }

    /// Records that `path` was created (`dir`: as a directory).
    pub(crate) fn created(&mut self, path: PathBuf, dir: bool) {
        self.undo.push(if dir {
            Undo::RemoveDir(path)
        } else {
            Undo::Remove(path)
        });
    }

    /// Moves the name `path` into the trash and records how to bring it
    /// back. Returns where it went.
    pub(crate) fn remove(&mut self, path: &Path) -> io::Result<PathBuf> {
        let trash = self.trash.join(self.next_trash.to_string());
        self.next_trash += 1;
        fs::rename(path, &trash)?;
        self.undo.push(Undo::Restore {
            trash: trash.clone(),
            path: path.to_owned(),
        });
        Ok(trash)
    }

    /// Takes back the latest [`Journal::remove`], when the change it
    /// prepared failed.
    pub(crate) fn unremove(&mut self) -> io::Result<()> {
        match self.undo.pop() {
            Some(undo @ Undo::Restore { .. }) => apply(undo),
            Some(other) => {
                self.undo.push(other);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Records that `from` was renamed to `to`.
    pub(crate) fn renamed(&mut self, from: PathBuf, to: PathBuf) {
        self.undo.push(Undo::Rename { from, to });
    }

    /// Records that `a` and `b` were exchanged.
    pub(crate) fn exchanged(&mut self, a: PathBuf, b: PathBuf) {
        self.undo.push(Undo::Exchange { a, b });
    }

    /// Records the permission bits `path` had before a chmod.
    pub(crate) fn chmodded(&mut self, path: PathBuf, mode: u32) {
        self.undo.push(Undo::Mode { path, mode });
    }

    /// Records the owner `path` had before a chown.
    pub(crate) fn chowned(&mut self, path: PathBuf, uid: u32, gid: u32) {
        self.undo.push(Undo::Owner { path, uid, gid });
    }

    /// Makes every recorded change durable. Returns the trashed paths, which
    /// the caller deletes (it first forgets the inodes that go with them).
    pub(crate) fn commit(&mut self) -> Vec<PathBuf> {
        self.undo
            .drain(..)
            .filter_map(|u| match u {
                Undo::Restore { trash, .. } => Some(trash),
                _ => None,
            })
            .collect()
    }

    /// Undoes every recorded change, newest first. Keeps going past a
    /// failure and returns the first.
    pub(crate) fn roll_back(&mut self) -> io::Result<()> {
        let mut first = Ok(());
        while let Some(undo) = self.undo.pop() {
            if let Err(e) = apply(undo) {
                first = first.and(Err(e));
            }
        }
        first
    }
}

/// Runs one inverse.
fn apply(undo: Undo) -> io::Result<()> {
    match undo {
        Undo::Remove(path) => fs::remove_file(path),
        Undo::RemoveDir(path) => fs::remove_dir(path),
        Undo::Restore { trash, path } => fs::rename(trash, path),
        Undo::Rename { from, to } => fs::rename(to, from),
        Undo::Exchange { a, b } => Ok(renameat_with(CWD, &a, CWD, &b, RenameFlags::EXCHANGE)?),
        Undo::Mode { path, mode } => fs::set_permissions(path, fs::Permissions::from_mode(mode)),
        Undo::Owner { path, uid, gid } => lchown(path, Some(uid), Some(gid)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_back_restores_the_namespace_of_the_last_commit() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        fs::write(p("kept"), b"kept").unwrap();
        fs::write(p("old"), b"old").unwrap();
        let mut j = Journal::new(p(".trash")).unwrap();

        fs::write(p("new"), b"").unwrap();
        j.created(p("new"), false);
        j.remove(&p("old")).unwrap();
        fs::rename(p("new"), p("old")).unwrap();
        j.renamed(p("new"), p("old"));
        fs::create_dir(p("d")).unwrap();
        j.created(p("d"), true);
        j.remove(&p("kept")).unwrap();

        j.roll_back().unwrap();
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [".trash", "kept", "old"]);
        assert_eq!(fs::read(p("old")).unwrap(), b"old");
    }

    #[test]
    fn a_commit_hands_over_the_trash_and_forgets_the_inverses() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        fs::write(p("gone"), b"").unwrap();
        let mut j = Journal::new(p(".trash")).unwrap();
        let trashed = j.remove(&p("gone")).unwrap();
        assert_eq!(j.commit(), [trashed]);
        j.roll_back().unwrap();
        assert!(!p("gone").exists());
    }
}
