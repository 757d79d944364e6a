//! `Options`: how a cluster is set up; the defaults suit tests on a small box.

use std::path::PathBuf;

use crate::Error;

/// How [`Cluster::start`](crate::Cluster::start) and
/// [`Cluster::start_standby`](crate::Cluster::start_standby) set a cluster up.
///
/// Besides these, every cluster gets `shared_buffers = 128MB`,
/// `max_connections = 200`, `listen_addresses = '127.0.0.1'`, its Unix
/// socket in its own directory, `wal_level = replica` with
/// `max_wal_senders = 10`, `trust` for 127.0.0.1 and its socket, and its
/// log in `<dir>/log.txt`.
#[derive(Debug, Clone)]
pub struct Options {
    /// `fsync`. Off by default, which makes tests fast and loses nothing
    /// when only the server dies; crash tests and benches turn it on.
    /// (`initdb` and `pg_basebackup` never sync the files they write: a
    /// test crashes the server, never the machine.)
    pub fsync: bool,
    /// `synchronous_commit`: on by default.
    pub synchronous_commit: bool,
    /// More settings for `postgresql.conf`, `(name, value)`, applied after
    /// the ones above (so they can override them). Values are quoted for
    /// the file: `("work_mem", "64MB")`.
    pub settings: Vec<(String, String)>,
    /// The cluster's directory: the data directory is `<dir>/data`, the log
    /// `<dir>/log.txt`, and the Unix socket sits in `<dir>`. Made if missing;
    /// a `data` that holds a cluster already is started as it is (its
    /// settings rewritten from these options). Kept when the cluster goes.
    /// By default, a new temporary directory, removed with the cluster.
    pub dir: Option<PathBuf>,
    /// The port on 127.0.0.1. By default a free one, picked again if
    /// another process takes it before the server binds it.
    pub port: Option<u16>,
    /// The cluster's `cluster_name` (shown in `ps`) and, for a standby, the
    /// `application_name` it connects to its primary with, which
    /// [`Cluster::require_synchronous_standby`](crate::Cluster::require_synchronous_standby)
    /// names. Letters, digits, `_` and `-`. A standby without one is called
    /// `standby`.
    pub name: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            fsync: false,
            synchronous_commit: true,
            settings: Vec::new(),
            dir: None,
            port: None,
            name: None,
        }
    }
}

/// `name` if it is a usable cluster or standby name: letters, digits, `_`
/// and `-` (so that it needs no quoting in a setting or a connection string).
pub(crate) fn check_name(name: &str) -> Result<&str, Error> {
    let usable = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if usable {
        Ok(name)
    } else {
        Err(Error::InvalidName(name.to_owned()))
    }
}
