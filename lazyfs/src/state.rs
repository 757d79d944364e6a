//! The file system's state and the operations on it: a pass-through over
//! the backing directory in which file data waits in an [`Overlay`] until
//! fsync and namespace changes wait in the [`Journal`] until fsync.
//!
//! Locks are taken in one order: the namespace, then the table of open
//! files, then one open file. Reads and writes take only the last two.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt, fchown, lchown};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{Errno, FileAttr, FileHandle, FileType, INodeNo, RenameFlags, Request, TimeOrNow};
use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, UTIME_NOW, UTIME_OMIT};

use crate::journal::Journal;
use crate::overlay::Overlay;

/// The backing directory's hidden entry where removed names wait for the
/// next commit. Invisible and untouchable through the mount.
pub(crate) const TRASH: &str = ".lazyfs-trash";

/// How long the kernel may cache names and attributes. Every change goes
/// through this file system, so the kernel's copy cannot go stale.
pub(crate) const TTL: Duration = Duration::from_secs(1);

/// The file system's state, shared by the FUSE threads and the [`crate::LazyFs`]
/// handle.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Power was cut: every operation fails with EIO and nothing more
    /// reaches the backing directory.
    pub(crate) cut: AtomicBool,
    /// Unmounted, perhaps lazily: every operation fails with EIO.
    pub(crate) closed: AtomicBool,
    pub(crate) ns: Mutex<Namespace>,
    /// The regular files open or with unsynced data, by backing inode
    /// number. An entry holds its backing file open, so the number cannot be
    /// reused while the entry exists.
    pub(crate) files: Mutex<HashMap<u64, Arc<Mutex<OpenFile>>>>,
}

/// The inodes the kernel knows and the journal of namespace changes.
#[derive(Debug)]
pub(crate) struct Namespace {
    pub(crate) nodes: HashMap<u64, Node>,
    /// FUSE inode number by backing inode number.
    pub(crate) by_backing: HashMap<u64, u64>,
    next_ino: u64,
    /// Open directory listings, by handle.
    pub(crate) dirs: HashMap<u64, Vec<DirEntry>>,
    next_dir: u64,
    pub(crate) journal: Journal,
}

/// An inode the kernel has looked up.
#[derive(Debug)]
pub(crate) struct Node {
    /// Where it is in the backing directory (absolute).
    pub(crate) path: PathBuf,
    /// Its backing inode number.
    pub(crate) backing: u64,
    /// The kernel's lookup count; the node goes at zero.
    pub(crate) lookups: u64,
}

/// What a setattr changes.
#[derive(Debug)]
pub(crate) struct AttrChange {
    pub(crate) mode: Option<u32>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) size: Option<u64>,
    pub(crate) atime: Option<TimeOrNow>,
    pub(crate) mtime: Option<TimeOrNow>,
}

#[derive(Debug)]
pub(crate) struct DirEntry {
    pub(crate) name: OsString,
    pub(crate) kind: FileType,
    pub(crate) ino: u64,
}

/// A regular file's backing file and unsynced data.
#[derive(Debug)]
pub(crate) struct OpenFile {
    pub(crate) file: File,
    /// Open FUSE handles.
    pub(crate) handles: u64,
    pub(crate) overlay: Overlay,
    /// The modification time of the latest unsynced write.
    pub(crate) mtime: Option<SystemTime>,
}

/// Locks, ignoring poison: a panicked FUSE thread leaves consistent data
/// (every change is one assignment at the end).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn errno(e: io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_i32)
}

fn rerrno(e: rustix::io::Errno) -> Errno {
    Errno::from_i32(e.raw_os_error())
}

/// The FUSE attributes of a backing inode, with the size and modification
/// time of unsynced data where there is some.
fn attr(ino: u64, meta: &fs::Metadata, overlay: Option<(u64, Option<SystemTime>)>) -> FileAttr {
    let time = |secs: i64, nsecs: i64| {
        let nanos = u32::try_from(nsecs).unwrap_or(0);
        match u64::try_from(secs) {
            Ok(s) => UNIX_EPOCH + Duration::new(s, nanos),
            Err(_) => UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()),
        }
    };
    let (size, blocks, mtime) = match overlay {
        Some((size, mtime)) => (
            size,
            meta.blocks().max(size.div_ceil(512)),
            mtime.unwrap_or(time(meta.mtime(), meta.mtime_nsec())),
        ),
        None => (
            meta.size(),
            meta.blocks(),
            time(meta.mtime(), meta.mtime_nsec()),
        ),
    };
    FileAttr {
        ino: INodeNo(ino),
        size,
        blocks,
        atime: time(meta.atime(), meta.atime_nsec()),
        mtime,
        ctime: time(meta.ctime(), meta.ctime_nsec()),
        crtime: UNIX_EPOCH,
        kind: FileType::from_std(meta.file_type()).unwrap_or(FileType::RegularFile),
        perm: u16::try_from(meta.mode() & 0o7777).unwrap_or(0),
        nlink: u32::try_from(meta.nlink()).unwrap_or(u32::MAX),
        uid: meta.uid(),
        gid: meta.gid(),
        rdev: u32::try_from(meta.rdev()).unwrap_or(0),
        blksize: 4096,
        flags: 0,
    }
}

impl Namespace {
    pub(crate) fn node(&self, ino: INodeNo) -> Result<&Node, Errno> {
        self.nodes.get(&ino.0).ok_or(Errno::ENOENT)
    }

    /// The backing path of `name` in directory `parent`. The trash is not
    /// there for anyone.
    pub(crate) fn child(&self, parent: INodeNo, name: &OsStr) -> Result<PathBuf, Errno> {
        if parent == INodeNo::ROOT && name == TRASH {
            return Err(Errno::EPERM);
        }
        Ok(self.node(parent)?.path.join(name))
    }

    /// Moves every node at or under `from` to the same place under `to`.
    pub(crate) fn repoint(&mut self, from: &Path, to: &Path) {
        for node in self.nodes.values_mut() {
            if let Ok(rest) = node.path.strip_prefix(from) {
                node.path = if rest.as_os_str().is_empty() {
                    to.to_owned()
                } else {
                    to.join(rest)
                };
            }
        }
    }

    /// Swaps the nodes at or under `a` with those at or under `b`.
    pub(crate) fn swap(&mut self, a: &Path, b: &Path) {
        for node in self.nodes.values_mut() {
            let moved = if let Ok(rest) = node.path.strip_prefix(a) {
                Some(b.join(rest))
            } else if let Ok(rest) = node.path.strip_prefix(b) {
                Some(a.join(rest))
            } else {
                None
            };
            if let Some(p) = moved {
                node.path = p.components().collect();
            }
        }
    }
}

impl Shared {
    /// The state of a fresh mount of `backing`.
    pub(crate) fn new(backing: &Path) -> io::Result<Self> {
        let backing = backing.canonicalize()?;
        let root = fs::metadata(&backing)?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", backing.display()),
            ));
        }
        let journal = Journal::new(backing.join(TRASH))?;
        let mut nodes = HashMap::new();
        nodes.insert(
            INodeNo::ROOT.0,
            Node {
                path: backing,
                backing: root.ino(),
                lookups: 1,
            },
        );
        Ok(Self {
            cut: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            ns: Mutex::new(Namespace {
                nodes,
                by_backing: HashMap::from([(root.ino(), INodeNo::ROOT.0)]),
                next_ino: INodeNo::ROOT.0 + 1,
                dirs: HashMap::new(),
                next_dir: 1,
                journal,
            }),
            files: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn live(&self) -> Result<(), Errno> {
        if self.cut.load(Ordering::SeqCst) || self.closed.load(Ordering::SeqCst) {
            Err(Errno::EIO)
        } else {
            Ok(())
        }
    }

    /// Power loss: undoes the namespace changes since the last commit and
    /// drops every unsynced write. Every later operation fails with EIO.
    pub(crate) fn cut(&self) -> io::Result<()> {
        self.cut.store(true, Ordering::SeqCst);
        let mut ns = lock(&self.ns);
        let rolled_back = ns.journal.roll_back();
        let files: Vec<_> = lock(&self.files).drain().map(|(_, f)| f).collect();
        for f in files {
            // Wait out an fsync under way; the data it wrote was durable.
            let mut f = lock(&f);
            f.overlay = Overlay::clean(0);
        }
        let trash = fs::remove_dir_all(ns.journal.trash());
        rolled_back.and(trash)
    }

    /// A clean shutdown: makes everything durable, as unmounting a real file
    /// system writes back its page cache. Every later operation fails with
    /// EIO. Does nothing after a cut.
    pub(crate) fn close(&self) -> io::Result<()> {
        if self.closed.swap(true, Ordering::SeqCst) || self.cut.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut first = self
            .commit()
            .map_err(|e| io::Error::from_raw_os_error(e.code()));
        let files: Vec<_> = lock(&self.files).drain().map(|(_, f)| f).collect();
        for f in files {
            let mut f = lock(&f);
            let f = &mut *f;
            first = first.and(f.overlay.sync(&f.file));
        }
        let ns = lock(&self.ns);
        first.and(fs::remove_dir_all(ns.journal.trash()))
    }

    /// Makes every namespace change so far durable.
    pub(crate) fn commit(&self) -> Result<(), Errno> {
        let mut ns = lock(&self.ns);
        for trashed in ns.journal.commit() {
            let meta = fs::symlink_metadata(&trashed).map_err(errno)?;
            if meta.is_dir() {
                // The inode goes now; a new one may get its number.
                ns.by_backing.remove(&meta.ino());
                fs::remove_dir_all(&trashed).map_err(errno)?;
            } else {
                if meta.nlink() <= 1 {
                    ns.by_backing.remove(&meta.ino());
                }
                fs::remove_file(&trashed).map_err(errno)?;
            }
        }
        drop(ns);
        // Unsynced data of files deleted for good and closed is gone.
        lock(&self.files).retain(|_, f| {
            let f = lock(f);
            f.handles > 0 || f.file.metadata().is_ok_and(|m| m.nlink() > 0)
        });
        Ok(())
    }

    /// The open file of `node`, opening its backing file if need be.
    /// `handle`: counts a new FUSE handle.
    pub(crate) fn open_file(
        &self,
        node: &Node,
        handle: bool,
    ) -> Result<Arc<Mutex<OpenFile>>, Errno> {
        let mut files = lock(&self.files);
        if let Some(f) = files.get(&node.backing) {
            if handle {
                lock(f).handles += 1;
            }
            return Ok(Arc::clone(f));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&node.path)
            .map_err(errno)?;
        let meta = file.metadata().map_err(errno)?;
        if meta.ino() != node.backing {
            return Err(Errno::ESTALE);
        }
        let f = Arc::new(Mutex::new(OpenFile {
            file,
            handles: u64::from(handle),
            overlay: Overlay::clean(meta.size()),
            mtime: None,
        }));
        files.insert(node.backing, Arc::clone(&f));
        Ok(f)
    }

    /// The open file behind a FUSE handle (the backing inode number).
    pub(crate) fn handle(&self, fh: FileHandle) -> Result<Arc<Mutex<OpenFile>>, Errno> {
        lock(&self.files).get(&fh.0).cloned().ok_or(Errno::EBADF)
    }

    /// Drops an open file that has no handle and nothing unsynced.
    pub(crate) fn settle(&self, backing: u64) {
        let mut files = lock(&self.files);
        if let Some(f) = files.get(&backing) {
            let idle = {
                let f = lock(f);
                f.handles == 0 && !f.overlay.is_dirty()
            };
            if idle {
                files.remove(&backing);
            }
        }
    }

    /// The attributes of a node: those of its open file when it has one
    /// (which also covers a deleted file still open).
    pub(crate) fn node_attr(&self, ino: u64, node: &Node) -> Result<FileAttr, Errno> {
        let open = lock(&self.files).get(&node.backing).cloned();
        match open {
            Some(f) => {
                let f = lock(&f);
                let meta = f.file.metadata().map_err(errno)?;
                Ok(attr(ino, &meta, Some((f.overlay.size(), f.mtime))))
            }
            None => {
                let meta = fs::symlink_metadata(&node.path).map_err(errno)?;
                Ok(attr(ino, &meta, None))
            }
        }
    }

    /// Hands the kernel a name at `path`: counts a lookup of its node,
    /// making one if the kernel does not know the inode yet.
    pub(crate) fn entry(&self, ns: &mut Namespace, path: PathBuf) -> Result<FileAttr, Errno> {
        let meta = fs::symlink_metadata(&path).map_err(errno)?;
        let ino = match ns.by_backing.get(&meta.ino()).copied() {
            Some(ino) if ns.nodes.contains_key(&ino) => {
                if let Some(node) = ns.nodes.get_mut(&ino) {
                    node.lookups += 1;
                    node.path = path;
                }
                ino
            }
            _ => {
                let ino = ns.next_ino;
                ns.next_ino += 1;
                ns.nodes.insert(
                    ino,
                    Node {
                        path,
                        backing: meta.ino(),
                        lookups: 1,
                    },
                );
                ns.by_backing.insert(meta.ino(), ino);
                ino
            }
        };
        let node = ns.node(INodeNo(ino))?;
        self.node_attr(ino, node)
    }

    /// Owner of a new inode: the caller, with the group of a set-group-ID
    /// parent.
    pub(crate) fn owner(req: &Request, parent: &Path) -> (u32, u32) {
        let gid = match fs::metadata(parent) {
            Ok(m) if m.mode() & 0o2000 != 0 => m.gid(),
            _ => req.gid(),
        };
        (req.uid(), gid)
    }

    pub(crate) fn do_setattr(&self, ino: INodeNo, change: AttrChange) -> Result<FileAttr, Errno> {
        let AttrChange {
            mode,
            uid,
            gid,
            size,
            atime,
            mtime,
        } = change;
        let mut ns = lock(&self.ns);
        let path = ns.node(ino)?.path.clone();
        if let Some(mode) = mode {
            let old = fs::symlink_metadata(&path).map_err(errno)?;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode & 0o7777)).map_err(errno)?;
            ns.journal.chmodded(path.clone(), old.mode() & 0o7777);
        }
        if uid.is_some() || gid.is_some() {
            let old = fs::symlink_metadata(&path).map_err(errno)?;
            lchown(&path, uid, gid).map_err(errno)?;
            ns.journal.chowned(path.clone(), old.uid(), old.gid());
        }
        let node = ns.node(ino)?;
        if let Some(size) = size {
            let f = self.open_file(node, false)?;
            {
                let mut f = lock(&f);
                f.overlay.set_len(size);
                f.mtime = Some(SystemTime::now());
            }
            self.settle(node.backing);
        }
        if atime.is_some() || mtime.is_some() {
            let spec = |t: Option<TimeOrNow>| match t {
                None => Timespec {
                    tv_sec: 0,
                    tv_nsec: UTIME_OMIT,
                },
                Some(TimeOrNow::Now) => Timespec {
                    tv_sec: 0,
                    tv_nsec: UTIME_NOW,
                },
                Some(TimeOrNow::SpecificTime(t)) => {
                    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
                    Timespec {
                        tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                        tv_nsec: i64::from(d.subsec_nanos()),
                    }
                }
            };
            let times = Timestamps {
                last_access: spec(atime),
                last_modification: spec(mtime),
            };
            rustix::fs::utimensat(CWD, &path, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(rerrno)?;
            if mtime.is_some()
                && let Some(f) = lock(&self.files).get(&node.backing)
            {
                lock(f).mtime = None;
            }
        }
        self.node_attr(ino.0, node)
    }

    pub(crate) fn do_create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
    ) -> Result<(FileAttr, FileHandle), Errno> {
        let mut ns = lock(&self.ns);
        let path = ns.child(parent, name)?;
        let perm = mode & !umask & 0o7777;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(perm)
            .open(&path)
            .map_err(errno)?;
        ns.journal.created(path.clone(), false);
        file.set_permissions(fs::Permissions::from_mode(perm))
            .map_err(errno)?;
        let (uid, gid) = Self::owner(req, &ns.node(parent)?.path);
        fchown(&file, Some(uid), Some(gid)).map_err(errno)?;
        let backing = file.metadata().map_err(errno)?.ino();
        lock(&self.files).insert(
            backing,
            Arc::new(Mutex::new(OpenFile {
                file,
                handles: 1,
                overlay: Overlay::clean(0),
                mtime: None,
            })),
        );
        let attr = self.entry(&mut ns, path)?;
        Ok((attr, FileHandle(backing)))
    }

    /// Creates a directory, node or symlink at `name` with `make`, gives it
    /// to the caller and journals it.
    pub(crate) fn do_make(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        perm: Option<u32>,
        make: impl FnOnce(&Path) -> io::Result<()>,
    ) -> Result<FileAttr, Errno> {
        let mut ns = lock(&self.ns);
        let path = ns.child(parent, name)?;
        make(&path).map_err(errno)?;
        let dir = fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        ns.journal.created(path.clone(), dir);
        if let Some(perm) = perm {
            fs::set_permissions(&path, fs::Permissions::from_mode(perm)).map_err(errno)?;
        }
        let (uid, gid) = Self::owner(req, &ns.node(parent)?.path);
        lchown(&path, Some(uid), Some(gid)).map_err(errno)?;
        self.entry(&mut ns, path)
    }

    pub(crate) fn do_remove(&self, parent: INodeNo, name: &OsStr, dir: bool) -> Result<(), Errno> {
        let mut ns = lock(&self.ns);
        let path = ns.child(parent, name)?;
        let meta = fs::symlink_metadata(&path).map_err(errno)?;
        match (dir, meta.is_dir()) {
            (false, true) => return Err(Errno::EISDIR),
            (true, false) => return Err(Errno::ENOTDIR),
            (true, true) => {
                if fs::read_dir(&path).map_err(errno)?.next().is_some() {
                    return Err(Errno::ENOTEMPTY);
                }
            }
            (false, false) => {}
        }
        let trash = ns.journal.remove(&path).map_err(errno)?;
        ns.repoint(&path, &trash);
        Ok(())
    }

    pub(crate) fn do_rename(
        &self,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
    ) -> Result<(), Errno> {
        let mut ns = lock(&self.ns);
        let from = ns.child(parent, name)?;
        let to = ns.child(newparent, newname)?;
        if flags.contains(RenameFlags::RENAME_EXCHANGE) {
            rustix::fs::renameat_with(CWD, &from, CWD, &to, rustix::fs::RenameFlags::EXCHANGE)
                .map_err(rerrno)?;
            ns.journal.exchanged(from.clone(), to.clone());
            ns.swap(&from, &to);
            return Ok(());
        }
        if !flags.difference(RenameFlags::RENAME_NOREPLACE).is_empty() {
            return Err(Errno::EINVAL);
        }
        let src = fs::symlink_metadata(&from).map_err(errno)?;
        match fs::symlink_metadata(&to) {
            Ok(dst) => {
                if flags.contains(RenameFlags::RENAME_NOREPLACE) {
                    return Err(Errno::EEXIST);
                }
                if dst.ino() == src.ino() {
                    // Two names of one inode: rename does nothing.
                    return Ok(());
                }
                match (src.is_dir(), dst.is_dir()) {
                    (true, false) => return Err(Errno::ENOTDIR),
                    (false, true) => return Err(Errno::EISDIR),
                    (true, true) if fs::read_dir(&to).map_err(errno)?.next().is_some() => {
                        return Err(Errno::ENOTEMPTY);
                    }
                    _ => {}
                }
                let trash = ns.journal.remove(&to).map_err(errno)?;
                if let Err(e) = fs::rename(&from, &to) {
                    ns.journal.unremove().map_err(errno)?;
                    return Err(errno(e));
                }
                ns.repoint(&to, &trash);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::rename(&from, &to).map_err(errno)?;
            }
            Err(e) => return Err(errno(e)),
        }
        ns.journal.renamed(from.clone(), to.clone());
        ns.repoint(&from, &to);
        Ok(())
    }

    pub(crate) fn do_opendir(&self, ino: INodeNo) -> Result<FileHandle, Errno> {
        let mut ns = lock(&self.ns);
        let path = ns.node(ino)?.path.clone();
        let mut entries = vec![
            DirEntry {
                name: ".".into(),
                kind: FileType::Directory,
                ino: ino.0,
            },
            DirEntry {
                name: "..".into(),
                kind: FileType::Directory,
                ino: INodeNo::ROOT.0,
            },
        ];
        for e in fs::read_dir(&path).map_err(errno)? {
            let e = e.map_err(errno)?;
            if ino == INodeNo::ROOT && e.file_name() == TRASH {
                continue;
            }
            let kind = e
                .file_type()
                .ok()
                .and_then(FileType::from_std)
                .unwrap_or(FileType::RegularFile);
            entries.push(DirEntry {
                name: e.file_name(),
                kind,
                ino: std::os::unix::fs::DirEntryExt::ino(&e),
            });
        }
        let fh = ns.next_dir;
        ns.next_dir += 1;
        ns.dirs.insert(fh, entries);
        Ok(FileHandle(fh))
    }

    pub(crate) fn do_statfs(&self) -> Result<rustix::fs::StatVfs, Errno> {
        let ns = lock(&self.ns);
        let root = ns.node(INodeNo::ROOT)?;
        rustix::fs::statvfs(&root.path).map_err(rerrno)
    }
}
