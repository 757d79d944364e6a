//! `Installation`: which PostgreSQL tools to run, and as whom.
//!
//! Debian installs each major version in `/usr/lib/postgresql/<version>/bin`;
//! the newest from 15 up is used. PostgreSQL refuses to run as root, so when
//! this process is root its server tools run as `postgres` through
//! `runuser`, and the directories they write are handed to that user first.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;

/// Where Debian installs PostgreSQL's versions.
const ROOT: &str = "/usr/lib/postgresql";
/// The oldest major version used.
const MIN_VERSION: u32 = 15;

/// The tools of one PostgreSQL version, and the account they run as.
#[derive(Debug, Clone)]
pub(crate) struct Installation {
    bin_dir: PathBuf,
    /// `postgres`'s uid and gid when this process is root; else none (the
    /// tools run as the current user).
    run_as: Option<(u32, u32)>,
}

impl Installation {
    /// The newest installed version from 15 up, run as fits this process.
    pub(crate) fn find() -> Result<Self, Error> {
        let newest = fs::read_dir(ROOT)
            .map_err(|_| Error::NotInstalled)?
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|version| {
                *version >= MIN_VERSION
                    && Path::new(ROOT)
                        .join(version.to_string())
                        .join("bin/initdb")
                        .is_file()
            })
            .max()
            .ok_or(Error::NotInstalled)?;
        let bin_dir = Path::new(ROOT).join(newest.to_string()).join("bin");
        let is_root = fs::metadata("/proc/self")
            .map_err(Error::io("reading /proc/self"))?
            .uid()
            == 0;
        let run_as = if is_root {
            Some(postgres_account()?)
        } else {
            None
        };
        Ok(Self { bin_dir, run_as })
    }

    /// The path of one of the version's tools.
    pub(crate) fn tool(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// A command running a server tool (`initdb`, `pg_ctl`…) as the account
    /// the server runs as, in `dir`, with no `PG*` variables inherited.
    pub(crate) fn server_command(&self, tool: &str, dir: &Path) -> Command {
        let mut command = match self.run_as {
            Some(_) => {
                let mut command = Command::new("runuser");
                command.args(["-u", "postgres", "--"]).arg(self.tool(tool));
                command
            }
            None => Command::new(self.tool(tool)),
        };
        clean_environment(&mut command);
        command.current_dir(dir);
        command
    }

    /// A command running a client tool (`psql`) as the current user.
    pub(crate) fn client_command(&self, tool: &str) -> Command {
        let mut command = Command::new(self.tool(tool));
        clean_environment(&mut command);
        command.env("PGCONNECT_TIMEOUT", "10");
        command
    }

    /// Makes `path` the server account's (a no-op unless root); for a
    /// directory, checks that the account can then write to it (it cannot
    /// when a directory above is closed to others).
    pub(crate) fn hand_over(&self, path: &Path) -> Result<(), Error> {
        let Some((uid, gid)) = self.run_as else {
            return Ok(());
        };
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(Error::io(format!("giving {} to postgres", path.display())))?;
        if path.is_dir() {
            let writable = Command::new("runuser")
                .args(["-u", "postgres", "--", "test", "-w"])
                .arg(path)
                .stdin(Stdio::null())
                .status()
                .map_err(Error::io("running runuser"))?
                .success();
            if !writable {
                return Err(Error::DirClosed(path.to_owned()));
            }
        }
        Ok(())
    }
}

/// Runs `command` to its end; its output if it succeeds, an [`Error::Tool`]
/// naming it `what` if not.
pub(crate) fn run(mut command: Command, what: &str) -> Result<String, Error> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(Error::io(format!("running {what}")))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(Error::Tool {
            command: what.to_owned(),
            status: output.status,
            output: text,
        })
    }
}

/// No `PGHOST`, `PGPORT`, `PGOPTIONS`… from the caller's environment: every
/// tool is told where to go. Messages in English, for the logs and errors.
fn clean_environment(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PG") {
            command.env_remove(name);
        }
    }
    command.env("LC_ALL", "C");
}

/// `postgres`'s uid and gid, from `/etc/passwd`.
fn postgres_account() -> Result<(u32, u32), Error> {
    let passwd = fs::read_to_string("/etc/passwd").map_err(Error::io("reading /etc/passwd"))?;
    passwd
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            if fields.next()? != "postgres" {
                return None;
            }
            let uid = fields.nth(1)?.parse().ok()?;
            let gid = fields.next()?.parse().ok()?;
            Some((uid, gid))
        })
        .ok_or(Error::NoPostgresUser)
}
