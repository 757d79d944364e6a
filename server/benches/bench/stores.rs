//! The stores each figure is measured on: a sled folder, and a database of
//! the bench's own PostgreSQL cluster, with `fsync` and
//! `synchronous_commit` on (every commit flushed to the disk before it is
//! acknowledged, as sled's group commit does).

use std::ffi::OsString;
use std::path::Path;

use kaisen::store::Location;

use crate::table::Column;

/// A storage engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `--db <dir>`.
    Sled,
    /// `--database <url>`.
    Postgres,
}

impl Engine {
    /// `sled` or `postgres`, as `--engine` names them.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "sled" => Some(Self::Sled),
            "postgres" => Some(Self::Postgres),
            _ => None,
        }
    }

    /// The table's column for one server on this engine.
    pub fn column(self) -> Column {
        match self {
            Self::Sled => Column::Sled,
            Self::Postgres => Column::Postgres,
        }
    }

    /// `sled` or `postgres`, for the lines printed while measuring.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sled => "sled",
            Self::Postgres => "postgres",
        }
    }
}

/// The engines measured, and the PostgreSQL cluster when one of them is
/// PostgreSQL (stopped when this goes).
pub struct Stores {
    engines: Vec<Engine>,
    cluster: Option<testkit::Cluster>,
}

impl Stores {
    /// Starts the cluster if `engines` has PostgreSQL, with `settings` added
    /// to its configuration (`--pg-set name=value`).
    pub fn start(engines: Vec<Engine>, settings: Vec<(String, String)>) -> Self {
        let cluster = engines.contains(&Engine::Postgres).then(|| {
            let cluster = testkit::Cluster::start(testkit::Options {
                fsync: true,
                synchronous_commit: true,
                settings,
                ..testkit::Options::default()
            })
            .expect("a PostgreSQL cluster starts (see scripts/setup.sh)");
            let shown = cluster
                .psql(
                    "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings \
                     WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', \
                     'commit_delay', 'commit_siblings', 'shared_buffers', 'wal_buffers', \
                     'max_wal_size', 'server_version')",
                )
                .unwrap_or_default();
            eprintln!("PostgreSQL for the bench: {shown}");
            cluster
        });
        Self { engines, cluster }
    }

    /// The engines measured, in the table's order.
    pub fn engines(&self) -> &[Engine] {
        &self.engines
    }

    /// A new, empty store on `engine` called `name` (letters, digits and
    /// `_`): the folder `dir/name` for sled, a database of the cluster for
    /// PostgreSQL.
    pub fn create(&self, engine: Engine, dir: &Path, name: &str) -> Location {
        match engine {
            Engine::Sled => Location::Sled(dir.join(name)),
            Engine::Postgres => Location::Postgres(
                self.cluster()
                    .create_database(name)
                    .expect("a database made"),
            ),
        }
    }

    /// The bytes `location` takes on disk: its folder, or its database
    /// (`pg_database_size`, the cluster's write-ahead log left out).
    pub fn bytes(&self, location: &Location) -> u64 {
        match location {
            Location::Sled(dir) => bytes_in(dir),
            Location::Postgres(url) => self
                .cluster()
                .psql(&format!(
                    "SELECT pg_database_size('{}')",
                    database_name(url)
                ))
                .ok()
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0),
        }
    }

    /// Removes a PostgreSQL database once measured, to free its disk (a
    /// sled folder goes with its temporary directory).
    pub fn remove(&self, location: &Location) {
        if let Location::Postgres(url) = location {
            let _ = self
                .cluster()
                .psql(&format!("DROP DATABASE \"{}\"", database_name(url)));
        }
    }

    /// The PostgreSQL postmaster's process ID, when PostgreSQL is measured.
    pub fn postmaster(&self) -> Option<u32> {
        self.cluster
            .as_ref()
            .and_then(testkit::Cluster::postmaster_pid)
    }

    fn cluster(&self) -> &testkit::Cluster {
        self.cluster
            .as_ref()
            .expect("a cluster whenever PostgreSQL is measured")
    }
}

/// The flag and value naming `location` for a `kaisen` command.
pub fn args(location: &Location) -> [OsString; 2] {
    match location {
        Location::Sled(dir) => ["--db".into(), dir.into()],
        Location::Postgres(url) => ["--database".into(), url.into()],
    }
}

/// `location` as one argument, for the bench's own child (`reopen`).
pub fn to_arg(location: &Location) -> String {
    match location {
        Location::Sled(dir) => dir.display().to_string(),
        Location::Postgres(url) => url.clone(),
    }
}

/// The location [`to_arg`] made.
pub fn from_arg(arg: &str) -> Location {
    if arg.starts_with("postgres://") {
        Location::Postgres(arg.to_owned())
    } else {
        Location::Sled(arg.into())
    }
}

/// The database a `postgres://…/<name>` URL names.
fn database_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// The bytes of the files under `dir`.
fn bytes_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => bytes_in(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}
