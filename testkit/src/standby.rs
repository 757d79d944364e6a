//! Streaming replication: a standby made from a primary with
//! `pg_basebackup -R`, a primary that waits for it at each commit, and the
//! promotion that makes the standby the primary (the failover tests).

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::cluster::PG_CTL_TIMEOUT;
use crate::installation::run;
use crate::{Cluster, Error, Options, options};

/// How long a standby may take to become the synchronous one, or to take
/// writes after its promotion.
const REPLICATION_TIMEOUT: Duration = Duration::from_secs(30);
/// The name of a standby started without one.
const DEFAULT_NAME: &str = "standby";

impl Cluster {
    /// Starts a streaming standby of `primary` (hot: it answers reads),
    /// connected as `application_name` [`Options::name`] (`standby` if
    /// unset). Returns when it accepts connections.
    ///
    /// The primary's `synchronous_standby_names` is not copied: promoted, the
    /// standby waits for no standby of its own.
    pub fn start_standby(primary: &Cluster, options: Options) -> Result<Cluster, Error> {
        let name = options
            .name
            .clone()
            .unwrap_or_else(|| DEFAULT_NAME.to_owned());
        let options = Options {
            name: Some(name.clone()),
            ..options
        };
        let mut standby = Self::prepare(&options)?;
        let mut command = standby
            .installation()
            .server_command("pg_basebackup", standby.dir());
        command
            .arg("-D")
            .arg(standby.data_dir())
            // -R: standby.signal, and a primary_conninfo with this
            // connection's host, port, user and application_name. Not
            // synced to disk (see `Options::fsync`).
            .args(["-R", "-X", "stream", "-c", "fast", "--no-sync", "-d"])
            .arg(format!(
                "host=127.0.0.1 port={} user=kaisen application_name={name}",
                primary.port()
            ));
        run(command, "pg_basebackup")?;
        forget_synchronous_standbys(standby.data_dir())?;
        standby.launch(&options)?;
        Ok(standby)
    }

    /// Makes every commit on this primary wait until the standby connected
    /// as `application_name` `name` has it on disk
    /// (`synchronous_standby_names`, by `ALTER SYSTEM` and a reload), and
    /// returns when that standby is the synchronous one.
    pub fn require_synchronous_standby(&self, name: &str) -> Result<(), Error> {
        let name = options::check_name(name)?;
        self.psql(&format!(
            "ALTER SYSTEM SET synchronous_standby_names = '\"{name}\"'; SELECT pg_reload_conf()"
        ))?;
        let sync_state =
            format!("SELECT sync_state FROM pg_stat_replication WHERE application_name = '{name}'");
        self.wait_until(
            &format!("standby {name} becoming synchronous"),
            REPLICATION_TIMEOUT,
            || Ok(self.psql(&sync_state)? == "sync"),
        )
    }

    /// Promotes this standby (`pg_ctl promote`) and returns when it takes
    /// writes (`pg_is_in_recovery()` is false).
    pub fn promote(&self) -> Result<(), Error> {
        let mut command = self.installation().server_command("pg_ctl", self.dir());
        command
            .args(["promote", "-w", "-t", PG_CTL_TIMEOUT, "-D"])
            .arg(self.data_dir());
        run(command, "pg_ctl promote")?;
        self.wait_until("the promotion", REPLICATION_TIMEOUT, || {
            Ok(self.psql("SELECT pg_is_in_recovery()")? == "f")
        })
    }
}

/// Removes `synchronous_standby_names` from a base backup's
/// `postgresql.auto.conf`, where the primary's `ALTER SYSTEM` put it.
fn forget_synchronous_standbys(data_dir: &Path) -> Result<(), Error> {
    let auto_conf = data_dir.join("postgresql.auto.conf");
    let text = fs::read_to_string(&auto_conf)
        .map_err(Error::io(format!("reading {}", auto_conf.display())))?;
    let kept: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("synchronous_standby_names"))
        .map(|line| format!("{line}\n"))
        .collect();
    fs::write(&auto_conf, kept).map_err(Error::io(format!("writing {}", auto_conf.display())))
}
