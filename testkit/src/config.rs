//! The files that make a data directory a test cluster: `testkit.conf`
//! (included from `postgresql.conf`, rewritten at each start from the
//! options) and `pg_hba.conf` (trust on 127.0.0.1 and the cluster's socket,
//! replication included).

use std::fs;
use std::path::Path;

use crate::{Error, Options};

/// The settings file, in the data directory.
pub(crate) const FILE: &str = "testkit.conf";

/// Who may connect: anyone over the cluster's own socket or 127.0.0.1.
const HBA: &str = "\
# Written by kaisen-testkit: a test cluster trusts its own socket and 127.0.0.1.
local all all trust
host all all 127.0.0.1/32 trust
local replication all trust
host replication all 127.0.0.1/32 trust
";

/// Sets up a data directory `initdb` just made: our `pg_hba.conf`, and
/// `postgresql.conf` including [`FILE`].
pub(crate) fn prepare(data_dir: &Path) -> Result<(), Error> {
    let hba = data_dir.join("pg_hba.conf");
    fs::write(&hba, HBA).map_err(Error::io(format!("writing {}", hba.display())))?;
    let conf = data_dir.join("postgresql.conf");
    let mut text =
        fs::read_to_string(&conf).map_err(Error::io(format!("reading {}", conf.display())))?;
    text.push_str(&format!("\ninclude '{FILE}'\n"));
    fs::write(&conf, text).map_err(Error::io(format!("writing {}", conf.display())))
}

/// The text of [`FILE`] for a cluster in `dir` on `port`.
pub(crate) fn settings(dir: &Path, port: u16, options: &Options) -> Result<String, Error> {
    let on_off = |on: bool| if on { "on" } else { "off" }.to_owned();
    let mut settings: Vec<(String, String)> = [
        ("port", port.to_string()),
        ("listen_addresses", "127.0.0.1".to_owned()),
        ("unix_socket_directories", dir.display().to_string()),
        ("max_connections", "200".to_owned()),
        ("shared_buffers", "128MB".to_owned()),
        ("fsync", on_off(options.fsync)),
        ("synchronous_commit", on_off(options.synchronous_commit)),
        ("wal_level", "replica".to_owned()),
        ("max_wal_senders", "10".to_owned()),
        ("hot_standby", "on".to_owned()),
        ("lc_messages", "C".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    if let Some(name) = &options.name {
        settings.push(("cluster_name".to_owned(), name.clone()));
    }
    settings.extend(options.settings.iter().cloned());

    let mut text = String::from("# Written by kaisen-testkit at each start: edits are lost.\n");
    for (name, value) in settings {
        let is_parameter = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !is_parameter {
            return Err(Error::InvalidSetting(name));
        }
        text.push_str(&format!("{name} = '{}'\n", value.replace('\'', "''")));
    }
    Ok(text)
}

/// The port [`FILE`] in `data_dir` sets, if it can be read.
pub(crate) fn port(data_dir: &Path) -> Option<u16> {
    fs::read_to_string(data_dir.join(FILE))
        .ok()?
        .lines()
        .find_map(|line| {
            line.strip_prefix("port = '")?
                .strip_suffix('\'')?
                .parse()
                .ok()
        })
}
