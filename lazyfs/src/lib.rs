//! A FUSE file system that loses, when its power is cut, every write not yet
//! fsynced, as Jepsen's LazyFS does.
//!
//! kaisen's crash test kills the server with SIGKILL, but a killed process
//! leaves its writes in the kernel's page cache, so the test cannot see a
//! missing fsync. Run the store on a [`LazyFs`] mount instead and call
//! [`LazyFs::cut`] with the kill: what the store did not make durable is
//! gone.
//!
//! # The durability model
//!
//! The backing directory always holds the durable state plus the namespace
//! changes not yet committed, and nothing else:
//!
//! - **File data** (writes, truncates, size changes) is held in memory per
//!   inode, over the backing file, and reaches the backing file only when
//!   that file is fsynced (`fsync` or `fdatasync`, through any of its
//!   descriptors). Reads see every write, synced or not. `sync_file_range`,
//!   `msync` without fsync and closing a file make nothing durable.
//! - **Namespace changes** (create, mkdir, mknod, symlink, link, unlink,
//!   rmdir, rename, chmod, chown) are applied to the backing directory at
//!   once and journaled. Any fsync of a file or directory on the mount
//!   commits the whole journal, as a journaling file system commits every
//!   earlier metadata change with its next transaction. So a file created
//!   and written but never fsynced, and the next fsync of anything else,
//!   leaves an empty file: ext4's well-known zero-length file.
//! - Times (utimens) and extended attributes are not modelled: times pass
//!   through, xattrs are not supported.
//! - **[`LazyFs::cut`]** undoes the uncommitted namespace changes newest
//!   first and drops all unsynced data; afterwards the backing directory is
//!   exactly the durable state and every operation on the mount fails with
//!   EIO until it is unmounted.
//! - **Unmounting** without a cut is a clean shutdown: everything is made
//!   durable first, as a real file system writes back its page cache.
//!
//! A name removed (unlink, rmdir, or replaced by a rename) waits in the
//! hidden `.lazyfs-trash` directory at the top of the backing directory until
//! the next commit, so that a cut can bring it back; the trash is removed at
//! unmount and at a cut.
//!
//! The backing files themselves are not fsynced: the power loss is
//! simulated, so the host's page cache is durable enough. Unsynced data
//! lives in this process's memory (100 MB written and not fsynced take
//! 100 MB).
//!
//! The mount is served by a process that may itself use it (a test); such a
//! process must unmount (or drop the [`LazyFs`]) before it exits, since
//! closing a file on the mount waits for the server.

mod fuse;
mod journal;
mod overlay;
mod state;

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use fuser::{Config, MountOption, Session, SessionACL, SessionUnmounter};

use crate::fuse::LazyFilesystem;
use crate::state::Shared;

/// FUSE threads serving the mount.
const THREADS: usize = 4;

/// A mounted power-loss file system over a backing directory.
///
/// Dropping it unmounts it, as [`LazyFs::unmount`] does.
#[derive(Debug)]
pub struct LazyFs {
    shared: Arc<Shared>,
    mountpoint: PathBuf,
    unmounter: Option<SessionUnmounter>,
    session: Option<JoinHandle<io::Result<()>>>,
    /// The kernel's number for the FUSE connection (its directory under
    /// [`FUSECTL`]).
    connection: u32,
}

/// Where the kernel lists FUSE connections, each with an `abort` file.
const FUSECTL: &str = "/sys/fs/fuse/connections";

impl LazyFs {
    /// Mounts the directory `backing` at `mountpoint` (an existing
    /// directory) and serves it from background threads.
    ///
    /// Other users may use the mount (`allow_other`, with the kernel checking
    /// permissions: `default_permissions`); as root no `/etc/fuse.conf`
    /// setting is needed. Files and directories made through the mount
    /// belong to the user who made them.
    ///
    /// # Errors
    /// The backing directory cannot be read, or the mount fails (no
    /// `/dev/fuse`, not permitted).
    pub fn mount(backing: &Path, mountpoint: &Path) -> io::Result<LazyFs> {
        let shared = Arc::new(Shared::new(backing)?);
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName(format!("lazyfs:{}", backing.display())),
            MountOption::Subtype("lazyfs".to_owned()),
            MountOption::DefaultPermissions,
            MountOption::NoAtime,
        ];
        config.acl = SessionACL::All;
        config.n_threads = Some(THREADS);
        config.clone_fd = true;
        let mut session = Session::new(LazyFilesystem(Arc::clone(&shared)), mountpoint, &config)?;
        let unmounter = session.unmount_callable();
        let thread = std::thread::Builder::new()
            .name("lazyfs".to_owned())
            .spawn(move || session.run())?;
        let mut fs = LazyFs {
            shared,
            mountpoint: mountpoint.to_owned(),
            unmounter: Some(unmounter),
            session: Some(thread),
            connection: 0,
        };
        // Served by the session just started.
        let dev = std::fs::metadata(mountpoint)?.dev();
        fs.connection = rustix::fs::minor(dev);
        Ok(fs)
    }

    /// Where it is mounted.
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Cuts the power: drops every unsynced write and undoes every namespace
    /// change since the last fsync, leaving the backing directory exactly as
    /// durable as it was. From now on every operation on the mount fails
    /// with EIO, so the process under test cannot go on writing; unmount it
    /// next.
    ///
    /// # Errors
    /// Undoing a namespace change in the backing directory failed (the
    /// others are still undone).
    pub fn cut(&self) -> io::Result<()> {
        self.shared.cut()
    }

    /// Unmounts. Without a [`LazyFs::cut`] before, this is a clean shutdown
    /// and makes everything durable. While files on the mount are still
    /// open, the mount is detached lazily (it disappears from the namespace
    /// at once) and its connection aborted, so those files fail with
    /// ENOTCONN and close without waiting for this process; the abort goes
    /// through `/sys/fs/fuse/connections`, which this mounts if need be.
    ///
    /// # Errors
    /// Unmounting failed, or so did writing back the unsynced data.
    pub fn unmount(mut self) -> io::Result<()> {
        self.unmount_inner()
    }

    fn unmount_inner(&mut self) -> io::Result<()> {
        let Some(mut unmounter) = self.unmounter.take() else {
            return Ok(());
        };
        let busy = match unmounter.unmount() {
            Ok(()) => false,
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::BUSY.raw_os_error()) => {
                rustix::mount::unmount(&self.mountpoint, rustix::mount::UnmountFlags::DETACH)?;
                true
            }
            Err(e) => return Err(e),
        };
        let closed = self.shared.close();
        if busy {
            // Files are still open on the detached mount. Abort the
            // connection, so that closing them does not wait for this
            // process: if it is their owner too, its exit would otherwise
            // wait for itself (closing a FUSE file asks the server).
            self.abort()?;
        }
        if let Some(thread) = self.session.take() {
            // The kernel ends the session once the mount is gone.
            thread
                .join()
                .map_err(|_| io::Error::other("the FUSE session panicked"))??;
        }
        closed
    }

    /// Aborts the FUSE connection: every request on it fails at once.
    /// Mounts the `fusectl` file system if nobody has.
    fn abort(&self) -> io::Result<()> {
        let abort = Path::new(FUSECTL)
            .join(self.connection.to_string())
            .join("abort");
        if !abort.exists() {
            rustix::mount::mount(
                "fusectl",
                FUSECTL,
                "fusectl",
                rustix::mount::MountFlags::empty(),
                None,
            )?;
        }
        std::fs::write(abort, b"1")
    }
}

impl Drop for LazyFs {
    fn drop(&mut self) {
        let _ = self.unmount_inner();
    }
}
