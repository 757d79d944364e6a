//! `Error`: every way a cluster can fail to do what it was asked, with what
//! a test needs to see why (the tool's output, the end of the server's log).

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Why a [`Cluster`](crate::Cluster) operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No PostgreSQL 15 or newer where Debian installs it.
    #[error(
        "no PostgreSQL 15 or newer: /usr/lib/postgresql/<version>/bin/initdb is missing \
         (scripts/setup.sh installs Debian's postgresql)"
    )]
    NotInstalled,
    /// Running as root, with no `postgres` user to run the server as.
    #[error(
        "PostgreSQL does not run as root, and there is no postgres user in /etc/passwd \
         to run it as (Debian's postgresql package makes one)"
    )]
    NoPostgresUser,
    /// The `postgres` user cannot write to the cluster's directory (as root:
    /// one of its parents is closed to others).
    #[error(
        "the postgres user cannot write to {0}: every directory above it must be \
         searchable by others (chmod o+x)"
    )]
    DirClosed(PathBuf),
    /// A file or process operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// A PostgreSQL tool exited with an error.
    #[error("{command} failed ({status}):\n{output}")]
    Tool {
        /// The tool and what it was asked (`initdb`, `pg_basebackup`…).
        command: String,
        /// How it exited.
        status: ExitStatus,
        /// Its standard output and error.
        output: String,
    },
    /// The server did not start.
    #[error("PostgreSQL did not start on port {port}: {output}\nthe end of {}:\n{tail}", log.display())]
    Start {
        /// The port it was to listen on.
        port: u16,
        /// What `pg_ctl start` said.
        output: String,
        /// The server's log.
        log: PathBuf,
        /// What the server logged during this attempt (its last lines).
        tail: String,
    },
    /// Something the cluster was waiting for did not happen in time.
    #[error("{what} did not happen within {after:?}; the end of {}:\n{tail}", log.display())]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        after: Duration,
        /// The server's log.
        log: PathBuf,
        /// Its last lines.
        tail: String,
    },
    /// psql could not run the SQL.
    #[error("psql failed on {sql:?}:\n{stderr}")]
    Psql {
        /// The SQL.
        sql: String,
        /// What psql said.
        stderr: String,
    },
    /// The directory holds no cluster this crate started.
    #[error("{} holds no testkit cluster (no data/testkit.conf with a port)", .0.display())]
    NotACluster(PathBuf),
    /// The operation needs a running server, and this one is not.
    #[error("the cluster in {} is not running", .0.display())]
    NotRunning(PathBuf),
    /// A server runs in the directory already (started by another
    /// [`Cluster`](crate::Cluster) or by `testkit start`).
    #[error("a server runs in {} already", .0.display())]
    AlreadyRunning(PathBuf),
    /// A cluster or standby name other than letters, digits, `_` and `-`.
    #[error("{0:?} is not a usable name: letters, digits, '_' and '-' only")]
    InvalidName(String),
    /// A setting whose name is not a PostgreSQL parameter name.
    #[error("{0:?} is not a setting name")]
    InvalidSetting(String),
}

impl Error {
    /// An [`Error::Io`] saying what was being done.
    pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let action = action.into();
        move |source| Self::Io { action, source }
    }
}
