//! `Cluster`: one PostgreSQL server in a directory of its own, started,
//! stopped, crashed and started again by the test that owns it, and ended
//! with it.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::installation::{Installation, run};
use crate::process::Process;
use crate::{Error, Options, config, options, process};

/// How long `pg_ctl` may take to start, stop or promote the server (crash
/// recovery included).
pub(crate) const PG_CTL_TIMEOUT: &str = "60";
/// Starts on a picked port, when another process took it in between.
const PORT_ATTEMPTS: usize = 5;
/// How long the children of a killed postmaster have to notice and exit,
/// or a stopped server's processes to finish exiting, before they are
/// killed.
const EXIT_GRACE: Duration = Duration::from_secs(10);
/// How many lines of the log an error shows.
const TAIL_LINES: usize = 40;
/// The superuser and the database every URL names.
const USER: &str = "kaisen";

/// A private PostgreSQL server on 127.0.0.1, superuser and database
/// `kaisen`, `trust` authentication.
///
/// Dropping it stops the server (immediate mode) and ends every process it
/// left, then removes its directory if it was a temporary one; this also
/// happens when a test panics. Only [`Cluster::detach`] leaves it running.
#[derive(Debug)]
pub struct Cluster {
    installation: Installation,
    /// Canonical: the data directory's path is what its processes' working
    /// directory links to.
    dir: PathBuf,
    data_dir: PathBuf,
    port: u16,
    /// The temporary directory `dir` is, removed after the server stops.
    temp: Option<TempDir>,
    detached: bool,
}

impl Cluster {
    /// Starts a new cluster (or the one in [`Options::dir`], if it holds
    /// one) and returns when it accepts connections.
    pub fn start(options: Options) -> Result<Self, Error> {
        let mut cluster = Self::prepare(&options)?;
        if !cluster.data_dir.join("PG_VERSION").is_file() {
            cluster.initdb()?;
        }
        cluster.launch(&options)?;
        // `\gexec` runs the generated statement, if any: no database
        // `kaisen` yet, as after initdb.
        cluster.psql_in(
            "postgres",
            "SELECT 'CREATE DATABASE kaisen' \
             WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'kaisen') \\gexec",
        )?;
        Ok(cluster)
    }

    /// The cluster started earlier in `dir` (by `testkit start`, or one
    /// left by [`Cluster::detach`]), running or not, to stop or use. It is
    /// stopped when the value goes, like any other; its directory is kept.
    pub fn attach(dir: impl AsRef<Path>) -> Result<Self, Error> {
        let dir = fs::canonicalize(dir.as_ref())
            .map_err(Error::io(format!("finding {}", dir.as_ref().display())))?;
        let data_dir = dir.join("data");
        let port = config::port(&data_dir).ok_or_else(|| Error::NotACluster(dir.clone()))?;
        Ok(Self {
            installation: Installation::find()?,
            dir,
            data_dir,
            port,
            temp: None,
            detached: false,
        })
    }

    /// A cluster for a whole test binary, kept in a `static`, which is
    /// never dropped: a watchdog process stops it (immediate mode) and
    /// removes its directory once this process has exited, however it
    /// exited. Each test then makes its own database
    /// ([`Cluster::create_database`]).
    pub fn shared(options: Options) -> Result<Self, Error> {
        let cluster = Self::start(options)?;
        let pg_ctl = cluster.installation.server_command("pg_ctl", &cluster.dir);
        let mut stop = format!("{:?}", pg_ctl.get_program());
        for arg in pg_ctl.get_args() {
            stop.push(' ');
            stop.push_str(&format!("{arg:?}"));
        }
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             cd {dir:?} && {stop} stop -m immediate -D {data:?} >/dev/null 2>&1; rm -rf {dir:?}",
            pid = std::process::id(),
            dir = cluster.dir,
            data = cluster.data_dir,
        );
        std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(Error::io("starting the shared cluster's watchdog"))?;
        Ok(cluster)
    }

    /// Makes database `name` (letters, digits and `_`) and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, Error> {
        options::check_name(name)?;
        self.psql_in("postgres", &format!("CREATE DATABASE \"{name}\""))?;
        Ok(format!("postgres://{USER}@{}/{name}", self.host_spec()))
    }

    /// The URL to connect with: `postgres://kaisen@127.0.0.1:<port>/kaisen`.
    pub fn url(&self) -> String {
        format!("postgres://{USER}@{}/{USER}", self.host_spec())
    }

    /// `127.0.0.1:<port>`, for URLs naming several hosts.
    pub fn host_spec(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's directory: data directory, log, socket.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The data directory (`PGDATA`), `<dir>/data`.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's log, `<dir>/log.txt`.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("log.txt")
    }

    /// The last lines of the server's log, for a failing test to print.
    pub fn log_tail(&self) -> String {
        self.log_since(0)
    }

    /// The postmaster's process id, while it runs.
    pub fn postmaster_pid(&self) -> Option<u32> {
        self.postmaster().map(Process::pid)
    }

    /// Whether the server runs.
    pub fn is_running(&self) -> bool {
        self.postmaster_pid().is_some()
    }

    /// Stops the server cleanly (`pg_ctl stop -m fast`: sessions are ended,
    /// then a shutdown checkpoint).
    pub fn stop(&self) -> Result<(), Error> {
        self.pg_ctl_stop("fast")
    }

    /// Stops the server as a crash would (`pg_ctl stop -m immediate`: no
    /// checkpoint); the next start recovers from the WAL.
    pub fn kill_immediate(&self) -> Result<(), Error> {
        self.pg_ctl_stop("immediate")
    }

    /// Sends SIGKILL to the postmaster, as when its machine dies, and
    /// returns when its children have noticed and exited too (those that
    /// do not within 10 s are killed), so that the data directory can be
    /// started again.
    pub fn kill9(&self) -> Result<(), Error> {
        let postmaster = self
            .postmaster()
            .ok_or_else(|| Error::NotRunning(self.dir.clone()))?;
        let processes = self.processes();
        process::kill9(&[postmaster])?;
        self.end(processes, EXIT_GRACE)
    }

    /// Starts the server again after [`stop`](Self::stop),
    /// [`kill_immediate`](Self::kill_immediate) or [`kill9`](Self::kill9):
    /// same data, same port. Returns when it accepts connections.
    pub fn start_again(&self) -> Result<(), Error> {
        let log = self.log_path();
        let offset = fs::metadata(&log).map_or(0, |metadata| metadata.len());
        let mut command = self.installation.server_command("pg_ctl", &self.dir);
        command
            .arg("start")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", PG_CTL_TIMEOUT]);
        match run(command, "pg_ctl start") {
            Ok(_) => Ok(()),
            Err(Error::Tool { output, .. }) => Err(Error::Start {
                port: self.port,
                output,
                log,
                tail: self.log_since(offset),
            }),
            Err(other) => Err(other),
        }
    }

    /// Runs `sql` (one statement or several) with `psql -X -At` in database
    /// `kaisen`, stopping at the first error; what it printed, without the
    /// last newline: one line a row, columns separated by `|`.
    pub fn psql(&self, sql: &str) -> Result<String, Error> {
        self.psql_in(USER, sql)
    }

    /// Leaves the server running when this value goes, its directory kept
    /// (a temporary one too); returns that directory, for
    /// [`Cluster::attach`] or `testkit stop --dir`.
    pub fn detach(mut self) -> PathBuf {
        if let Some(temp) = self.temp.take() {
            let _ = temp.keep();
        }
        self.detached = true;
        self.dir.clone()
    }

    /// A cluster with its directory made and handed to the server's
    /// account, not initialised and not started; an error if a server runs
    /// in that directory already.
    pub(crate) fn prepare(options: &Options) -> Result<Self, Error> {
        if let Some(name) = &options.name {
            options::check_name(name)?;
        }
        let installation = Installation::find()?;
        let (dir, temp) = match &options.dir {
            Some(dir) => {
                fs::create_dir_all(dir).map_err(Error::io(format!("making {}", dir.display())))?;
                (dir.clone(), None)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("kaisen-pg-")
                    .tempdir()
                    .map_err(Error::io("making a temporary directory"))?;
                (temp.path().to_owned(), Some(temp))
            }
        };
        installation.hand_over(&dir)?;
        let dir =
            fs::canonicalize(&dir).map_err(Error::io(format!("finding {}", dir.display())))?;
        let mut cluster = Self {
            installation,
            data_dir: dir.join("data"),
            dir,
            port: 0,
            temp,
            detached: false,
        };
        if cluster.is_running() {
            // Not this value's to stop.
            cluster.detached = true;
            return Err(Error::AlreadyRunning(cluster.dir.clone()));
        }
        Ok(cluster)
    }

    /// Starts the server of a prepared data directory with `options`' settings
    /// on their port, or on a free one (picked again when it was taken).
    pub(crate) fn launch(&mut self, options: &Options) -> Result<(), Error> {
        let attempts = if options.port.is_some() {
            1
        } else {
            PORT_ATTEMPTS
        };
        let conf = self.data_dir.join(config::FILE);
        let mut attempt = 1;
        loop {
            self.port = match options.port {
                Some(port) => port,
                None => free_port()?,
            };
            fs::write(&conf, config::settings(&self.dir, self.port, options)?)
                .map_err(Error::io(format!("writing {}", conf.display())))?;
            self.installation.hand_over(&conf)?;
            match self.start_again() {
                Err(Error::Start { tail, .. })
                    if attempt < attempts && tail.contains("Address already in use") =>
                {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// The installation the cluster runs from.
    pub(crate) fn installation(&self) -> &Installation {
        &self.installation
    }

    /// Polls `check` until it says yes; a [`Error::Timeout`] saying `what`
    /// was waited for when `timeout` passes first.
    pub(crate) fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut() -> Result<bool, Error>,
    ) -> Result<(), Error> {
        let start = Instant::now();
        while !check()? {
            if start.elapsed() >= timeout {
                return Err(Error::Timeout {
                    what: what.to_owned(),
                    after: timeout,
                    log: self.log_path(),
                    tail: self.log_tail(),
                });
            }
            thread::sleep(process::POLL);
        }
        Ok(())
    }

    /// `initdb` for superuser `kaisen`, UTF-8, the C locale; its files not
    /// synced to disk (see [`Options::fsync`]: 3 to 4 s saved here).
    fn initdb(&self) -> Result<(), Error> {
        let mut command = self.installation.server_command("initdb", &self.dir);
        command
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-U", USER, "-A", "trust", "-E", "UTF8", "--locale=C"])
            .args(["--no-instructions", "--no-sync"]);
        run(command, "initdb")?;
        config::prepare(&self.data_dir)
    }

    /// `pg_ctl stop` in `mode`, returning when every process is gone.
    fn pg_ctl_stop(&self, mode: &str) -> Result<(), Error> {
        if !self.is_running() {
            return Err(Error::NotRunning(self.dir.clone()));
        }
        let processes = self.processes();
        let mut command = self.installation.server_command("pg_ctl", &self.dir);
        command
            .args(["stop", "-m", mode, "-w", "-t", PG_CTL_TIMEOUT, "-D"])
            .arg(&self.data_dir);
        run(command, &format!("pg_ctl stop -m {mode}"))?;
        // The postmaster removes its pid file, which pg_ctl waits for, when
        // its children have exited, but before it has exited itself.
        self.end(processes, EXIT_GRACE)
    }

    /// The postmaster, while it runs.
    fn postmaster(&self) -> Option<Process> {
        let pid_file = fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        let pid = pid_file.lines().next()?.trim().parse().ok()?;
        process::cluster_process(pid, &self.data_dir)
    }

    /// The server's processes now.
    fn processes(&self) -> Vec<Process> {
        process::cluster_processes(&self.data_dir)
    }

    /// Ends `processes` and any other of the server's (see [`process::end`]).
    fn end(&self, processes: Vec<Process>, grace: Duration) -> Result<(), Error> {
        process::end(&self.data_dir, processes, grace)
    }

    /// [`psql`](Self::psql) in `database`.
    fn psql_in(&self, database: &str, sql: &str) -> Result<String, Error> {
        let url = format!("postgres://{USER}@{}/{database}", self.host_spec());
        let mut child = self
            .installation
            .client_command("psql")
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"])
            .args(["-f", "-"])
            .arg("-d")
            .arg(url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(Error::io("running psql"))?;
        // Written from another thread, so that psql's output cannot fill
        // its pipe while the SQL is still going in.
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let input = sql.to_owned();
        let writer = thread::spawn(move || stdin.write_all(input.as_bytes()));
        let output = child
            .wait_with_output()
            .map_err(Error::io("running psql"))?;
        let written = writer.join().expect("the writer does not panic");
        if !output.status.success() {
            return Err(Error::Psql {
                sql: sql.to_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        written.map_err(Error::io("giving psql its SQL"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        Ok(stdout.strip_suffix('\n').unwrap_or(&stdout).to_owned())
    }

    /// The last [`TAIL_LINES`] lines of what the log got from byte `offset` on.
    fn log_since(&self, offset: u64) -> String {
        let log = fs::read(self.log_path()).unwrap_or_default();
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(log.len());
        let text = String::from_utf8_lossy(&log[start..]);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.detached {
            return;
        }
        if self.is_running()
            && let Err(error) = self.kill_immediate()
        {
            eprintln!(
                "testkit: stopping the cluster in {}: {error}",
                self.dir.display()
            );
        }
        // Whatever is left: the children of a killed postmaster, or a server
        // that would not stop.
        if let Err(error) = self.end(Vec::new(), Duration::ZERO) {
            eprintln!("testkit: {error}");
        }
    }
}

/// A port of 127.0.0.1 that nothing listens on (as the kernel picks them:
/// bound to port 0, then released).
fn free_port() -> Result<u16, Error> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(Error::io("finding a free port"))
}
