//! A mount over a fresh backing directory, cut and remounted at will.

use std::fs;
use std::path::{Path, PathBuf};

use lazyfs::LazyFs;

/// A backing directory, a mountpoint and, while mounted, the mount.
pub struct Rig {
    dir: tempfile::TempDir,
    fs: Option<LazyFs>,
}

impl Rig {
    /// Mounts an empty backing directory.
    pub fn new() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("backing")).unwrap();
        fs::create_dir(dir.path().join("mnt")).unwrap();
        let mut rig = Rig { dir, fs: None };
        rig.mount();
        rig
    }

    /// The top of the tree the rig lives in.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `rel` on the mount.
    pub fn mnt(&self, rel: &str) -> PathBuf {
        self.dir.path().join("mnt").join(rel)
    }

    /// `rel` in the backing directory (the durable state once cut or
    /// unmounted).
    pub fn backing(&self, rel: &str) -> PathBuf {
        self.dir.path().join("backing").join(rel)
    }

    /// Mounts the backing directory again.
    pub fn mount(&mut self) {
        assert!(self.fs.is_none(), "already mounted");
        self.fs = Some(LazyFs::mount(&self.backing(""), &self.mnt("")).unwrap());
    }

    /// Cuts the power; the mount stays, failing every operation.
    pub fn cut(&self) {
        self.fs.as_ref().expect("mounted").cut().unwrap();
    }

    /// Unmounts (after a cut, or cleanly).
    pub fn unmount(&mut self) {
        self.fs.take().expect("mounted").unmount().unwrap();
    }

    /// Cuts the power and unmounts: the backing directory is now the
    /// durable state.
    pub fn crash(&mut self) {
        self.cut();
        self.unmount();
    }
}

/// The names in a directory, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}
