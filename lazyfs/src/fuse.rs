//! The FUSE protocol side: fuser's [`Filesystem`] trait, each operation
//! checked against a cut and answered from [`Shared`].

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use fuser::{
    Errno, FileHandle, Filesystem, FopenFlags, Generation, INodeNo, KernelConfig, LockOwner,
    OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use rustix::fs::{CWD, Mode};

use crate::state::{AttrChange, Shared, TTL, errno, lock};

/// The [`Filesystem`] that fuser serves.
#[derive(Debug)]
pub(crate) struct LazyFilesystem(pub(crate) Arc<Shared>);

/// Replies to an operation with its result or its error.
macro_rules! answer {
    ($reply:expr, $result:expr, |$ok:pat_param| $send:expr) => {
        match $result {
            Ok($ok) => $send,
            Err(e) => $reply.error(e),
        }
    };
}

impl Filesystem for LazyFilesystem {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        // Ask for 1 MiB writes and read-ahead; the kernel may grant less.
        let _ = config.set_max_write(1 << 20);
        let _ = config.set_max_readahead(1 << 20);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let s = &self.0;
        let result = s.live().and_then(|()| {
            let mut ns = lock(&s.ns);
            let path = ns.child(parent, name).map_err(|_| Errno::ENOENT)?;
            s.entry(&mut ns, path)
        });
        answer!(reply, result, |a| reply.entry(&TTL, &a, Generation(0)));
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        let mut ns = lock(&self.0.ns);
        let Some(node) = ns.nodes.get_mut(&ino.0) else {
            return;
        };
        node.lookups = node.lookups.saturating_sub(nlookup);
        if node.lookups == 0 && ino != INodeNo::ROOT {
            let backing = node.backing;
            ns.nodes.remove(&ino.0);
            if ns.by_backing.get(&backing) == Some(&ino.0) {
                ns.by_backing.remove(&backing);
            }
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let s = &self.0;
        let result = s.live().and_then(|()| {
            let ns = lock(&s.ns);
            s.node_attr(ino.0, ns.node(ino)?)
        });
        answer!(reply, result, |a| reply.attr(&TTL, &a));
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let s = &self.0;
        let change = AttrChange {
            mode,
            uid,
            gid,
            size,
            atime,
            mtime,
        };
        let result = s.live().and_then(|()| s.do_setattr(ino, change));
        answer!(reply, result, |a| reply.attr(&TTL, &a));
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let s = &self.0;
        let result = s.live().and_then(|()| {
            let ns = lock(&s.ns);
            fs::read_link(&ns.node(ino)?.path).map_err(errno)
        });
        answer!(reply, result, |target| reply
            .data(target.as_os_str().as_encoded_bytes()));
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let s = &self.0;
        let perm = mode & !umask & 0o7777;
        let result = s.live().and_then(|()| {
            s.do_make(req, parent, name, Some(perm), |path| {
                Ok(rustix::fs::mknodat(
                    CWD,
                    path,
                    rustix::fs::FileType::from_raw_mode(mode),
                    Mode::from_raw_mode(perm),
                    u64::from(rdev),
                )?)
            })
        });
        answer!(reply, result, |a| reply.entry(&TTL, &a, Generation(0)));
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let s = &self.0;
        let perm = mode & !umask & 0o7777;
        let result = s
            .live()
            .and_then(|()| s.do_make(req, parent, name, Some(perm), |p| fs::create_dir(p)));
        answer!(reply, result, |a| reply.entry(&TTL, &a, Generation(0)));
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let s = &self.0;
        let result = s.live().and_then(|()| s.do_remove(parent, name, false));
        answer!(reply, result, |()| reply.ok());
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let s = &self.0;
        let result = s.live().and_then(|()| s.do_remove(parent, name, true));
        answer!(reply, result, |()| reply.ok());
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let s = &self.0;
        let result = s.live().and_then(|()| {
            s.do_make(req, parent, link_name, None, |p| {
                std::os::unix::fs::symlink(target, p)
            })
        });
        answer!(reply, result, |a| reply.entry(&TTL, &a, Generation(0)));
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let s = &self.0;
        let result = s
            .live()
            .and_then(|()| s.do_rename(parent, name, newparent, newname, flags));
        answer!(reply, result, |()| reply.ok());
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let s = &self.0;
        let result = s.live().and_then(|()| {
            let mut ns = lock(&s.ns);
            let to = ns.child(newparent, newname)?;
            fs::hard_link(&ns.node(ino)?.path, &to).map_err(errno)?;
            ns.journal.created(to.clone(), false);
            s.entry(&mut ns, to)
        });
        answer!(reply, result, |a| reply.entry(&TTL, &a, Generation(0)));
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let s = &self.0;
        let result = s.live().and_then(|()| {
            let ns = lock(&s.ns);
            let node = ns.node(ino)?;
            s.open_file(node, true)?;
            Ok(FileHandle(node.backing))
        });
        answer!(reply, result, |fh| reply.opened(fh, FopenFlags::empty()));
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let s = &self.0;
        let result = s.live().and_then(|()| {
            let f = s.handle(fh)?;
            let f = lock(&f);
            f.overlay
                .read(&f.file, offset, size as usize)
                .map_err(errno)
        });
        answer!(reply, result, |data| reply.data(&data));
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let s = &self.0;
        let result = s.live().and_then(|()| {
            let f = s.handle(fh)?;
            let mut f = lock(&f);
            s.live()?;
            f.overlay.write(offset, data);
            f.mtime = Some(SystemTime::now());
            u32::try_from(data.len()).map_err(|_| Errno::EINVAL)
        });
        answer!(reply, result, |n| reply.written(n));
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let s = &self.0;
        if let Ok(f) = s.handle(fh) {
            let mut f = lock(&f);
            f.handles = f.handles.saturating_sub(1);
        }
        s.settle(fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let s = &self.0;
        let result = s.live().and_then(|()| {
            s.commit()?;
            let f = s.handle(fh)?;
            let mut f = lock(&f);
            s.live()?;
            let f = &mut *f;
            f.overlay.sync(&f.file).map_err(errno)
        });
        answer!(reply, result, |()| reply.ok());
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let s = &self.0;
        let result = s.live().and_then(|()| s.do_opendir(ino));
        answer!(reply, result, |fh| reply.opened(fh, FopenFlags::empty()));
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let s = &self.0;
        if let Err(e) = s.live() {
            return reply.error(e);
        }
        let ns = lock(&s.ns);
        let Some(entries) = ns.dirs.get(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, e) in entries.iter().enumerate().skip(skip) {
            if reply.add(INodeNo(e.ino), i as u64 + 1, e.kind, &e.name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        lock(&self.0.ns).dirs.remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let s = &self.0;
        let result = s.live().and_then(|()| s.commit());
        answer!(reply, result, |()| reply.ok());
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let s = &self.0;
        let result = s.live().and_then(|()| s.do_statfs());
        answer!(reply, result, |v| reply.statfs(
            v.f_blocks,
            v.f_bfree,
            v.f_bavail,
            v.f_files,
            v.f_ffree,
            u32::try_from(v.f_bsize).unwrap_or(4096),
            u32::try_from(v.f_namemax).unwrap_or(255),
            u32::try_from(v.f_frsize).unwrap_or(4096),
        ));
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let s = &self.0;
        let result = s
            .live()
            .and_then(|()| s.do_create(req, parent, name, mode, umask));
        answer!(reply, result, |(a, fh)| reply.created(
            &TTL,
            &a,
            Generation(0),
            fh,
            FopenFlags::empty()
        ));
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let s = &self.0;
        let result = s.live().and_then(|()| {
            let keep_size = rustix::fs::FallocateFlags::KEEP_SIZE.bits() as i32;
            if mode & !keep_size != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            let f = s.handle(fh)?;
            let mut f = lock(&f);
            let end = offset.checked_add(length).ok_or(Errno::EFBIG)?;
            if mode == 0 && end > f.overlay.size() {
                f.overlay.set_len(end);
            }
            Ok(())
        });
        answer!(reply, result, |()| reply.ok());
    }
}
