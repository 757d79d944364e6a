//! Throwaway PostgreSQL clusters for kaisen's tests, bench and e2e script.
//!
//! The PostgreSQL store is tested against real servers: one per test, some
//! crashed on purpose, some with a streaming standby to fail over to. This
//! crate starts them from Debian's packages (the newest
//! `/usr/lib/postgresql/<version>/bin` from 15 up, installed by
//! `scripts/setup.sh`) on a free port of 127.0.0.1, each in a directory of
//! its own, and makes sure none outlives its [`Cluster`] value, even when a
//! test panics.
//!
//! ```no_run
//! # fn main() -> Result<(), testkit::Error> {
//! let cluster = testkit::Cluster::start(testkit::Options::default())?;
//! cluster.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")?;
//! assert_eq!(cluster.psql("SELECT x FROM t")?, "1");
//! let url = cluster.url(); // postgres://kaisen@127.0.0.1:<port>/kaisen
//! # Ok(()) }
//! ```
//!
//! PostgreSQL refuses to run as root; when the tests do (CI), the server's
//! tools run as the `postgres` user through `runuser`, and the cluster's
//! directory is handed to that user.

mod cluster;
mod config;
mod error;
mod installation;
mod options;
mod process;
mod standby;

pub use cluster::Cluster;
pub use error::Error;
pub use options::Options;
