//! The real `kaisen serve` as a child process, on `127.0.0.1` only, killed
//! with SIGKILL.

use std::fs::OpenOptions;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::fixture::Workspace;

/// How long a start may take (sled recovery of a large database included).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a start is tried (a free port taken meanwhile, the previous
/// process's lock not yet released).
const START_ATTEMPTS: usize = 5;

/// A running `kaisen serve`. Dropping it kills it.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl ServerProcess {
    /// Starts `kaisen serve` on the workspace's database with `work_delay`
    /// (humantime, e.g. `1s`) and waits until its port accepts
    /// connections. Its stderr is appended to the workspace's log.
    pub async fn start(binary: &Path, workspace: &Workspace, work_delay: &str) -> Self {
        Self::start_with(binary, workspace, work_delay, &[]).await
    }

    /// Like [`ServerProcess::start`], with `extra` flags for `serve`.
    pub async fn start_with(
        binary: &Path,
        workspace: &Workspace,
        work_delay: &str,
        extra: &[&str],
    ) -> Self {
        for attempt in 1..=START_ATTEMPTS {
            let port = free_port();
            let log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&workspace.log)
                .expect("the server log opens");
            let mut command = Command::new(binary);
            // Only the flags below: no `KAISEN_*` setting (an SMTP relay, a
            // demo data set, …) leaks in from the environment.
            for (name, _) in std::env::vars_os() {
                if name.to_string_lossy().starts_with("KAISEN_") {
                    command.env_remove(name);
                }
            }
            let child = command
                .arg("serve")
                .args(&workspace.database)
                .arg("--addr")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--work-delay")
                .arg(work_delay)
                .args(extra)
                .arg("--mail-dir")
                .arg(&workspace.mail)
                .arg("--site")
                .arg(&workspace.site)
                .arg("--contact")
                .arg("【試験】クラッシュ試験 受付窓口")
                .env("RUST_LOG", "info")
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("kaisen serve starts");
            let mut server = Self {
                child,
                base: format!("http://127.0.0.1:{port}"),
            };
            if server.wait_until_listening(port).await {
                return server;
            }
            eprintln!("crash test: kaisen serve did not start (attempt {attempt}); retrying");
            server.kill();
        }
        panic!(
            "kaisen serve did not start in {START_ATTEMPTS} attempts; see {}",
            workspace.log.display()
        );
    }

    /// Whether the port accepts connections before the process exits or
    /// [`START_TIMEOUT`] passes.
    async fn wait_until_listening(&mut self, port: u16) -> bool {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// Kills the process with SIGKILL and waits until it is gone (its sled
    /// lock released, its files closed).
    pub fn kill(&mut self) {
        // An error means it had exited already; `wait` reaps it either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    /// Sends SIGTERM and waits for the process to exit, at most `limit`:
    /// its exit status and how long it took, or `None` if it was still
    /// running (then it is killed).
    pub async fn terminate(
        &mut self,
        limit: Duration,
    ) -> Option<(std::process::ExitStatus, Duration)> {
        let sent = Instant::now();
        let signalled = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(signalled.success(), "SIGTERM sent");
        while sent.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some((status, sent.elapsed()));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.kill();
        None
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
