//! The operator's subcommands besides `serve`: `import`, `export`,
//! `restore` and `application`, on either engine.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use std::time::Instant;

use shared::domain::ApplicationId;

use crate::config::Database;
use crate::import::{self, ImportError};
use crate::store::{ApplicationRecord, Purpose, RestoreError, Store};

async fn open(database: &Database, purpose: Purpose) -> Result<Store, String> {
    let location = database.location()?;
    Store::open(&location, purpose)
        .await
        .map_err(|e| e.to_string())
}

/// `import <file>`: prints what changed, then how fast the file was read
/// (two passes: check, then write).
pub async fn run_import(file: &Path, database: &Database) -> Result<String, String> {
    let store = open(database, Purpose::Import).await?;
    let started = Instant::now();
    let imported = import::import_path(&store, file)
        .await
        .map_err(|e| match e {
            ImportError::Unfinished(_) => format!("import of {} failed: {e}", file.display()),
            _ => format!("import refused, nothing written: {e}"),
        })?;
    let seconds = started.elapsed().as_secs_f64();
    let r = imported.report;
    Ok(format!(
        "imported {}: {} providers, {} lines, {} settings, {} prefixes written; notices {}; consent {}\n\
         {} lines in {seconds:.1} s: {:.0} lines/s",
        file.display(),
        r.providers,
        r.lines,
        r.settings,
        r.prefixes,
        if r.notices { "replaced" } else { "unchanged" },
        if r.consent { "replaced" } else { "unchanged" },
        imported.lines,
        imported.lines as f64 / seconds.max(1e-9),
    ))
}

/// `export <file>`: writes the database to `file` (format in
/// `store::export`). The file is written beside as `<file>.partial`, synced,
/// then renamed, so `file` is whole or absent; an existing file is never
/// overwritten.
pub async fn run_export(file: &Path, database: &Database) -> Result<String, String> {
    if let Some(db) = &database.db
        && !db.is_dir()
    {
        return Err(format!("no database in {}", db.display()));
    }
    if file.exists() {
        return Err(format!(
            "{} already exists: export never overwrites a file; choose another name",
            file.display()
        ));
    }
    let store = open(database, Purpose::Serve).await?;
    let db = store.location().to_string();
    let partial = partial_path(file);
    let written = async {
        let out = File::create(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
        let mut out = BufWriter::new(out);
        let summary = store.export(&mut out).await.map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        let out = out.into_inner().map_err(|e| e.to_string())?;
        out.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&partial, file).map_err(|e| format!("{}: {e}", file.display()))?;
        Ok::<_, String>(summary)
    }
    .await;
    match written {
        Ok(summary) => Ok(format!(
            "exported {} records from {} to {} (sha256 {})",
            summary.records,
            db,
            file.display(),
            summary.sha256
        )),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(format!("export failed: {e}"))
        }
    }
}

/// `<file>.partial`.
fn partial_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// `restore <file>`: loads an export into an empty database.
pub async fn run_restore(file: &Path, database: &Database) -> Result<String, String> {
    let input = File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let store = open(database, Purpose::Serve).await?;
    let mut input = BufReader::new(input);
    let summary = store.restore(&mut input).await.map_err(|e| match e {
        RestoreError::Store(_) | RestoreError::Changed(_) => {
            format!("restore of {} failed: {e}", file.display())
        }
        _ => format!("restore refused, nothing written: {}: {e}", file.display()),
    })?;
    Ok(format!(
        "restored {} records from {} into {} (sha256 {})",
        summary.records,
        file.display(),
        store.location(),
        summary.sha256
    ))
}

/// `migrate`: applies the schema's migrations and says what it did.
pub async fn run_migrate(database: &Database) -> Result<String, String> {
    let location = database.location()?;
    let migrated = crate::store::migrate(&location)
        .await
        .map_err(|e| e.to_string())?;
    Ok(match migrated {
        None => format!("{location}: a sled folder has no migrations"),
        Some((applied, version)) => {
            format!("{location}: schema at version {version}, {applied} migrations applied now")
        }
    })
}

/// `operator add|disable|list`: the console's accounts.
pub async fn run_operator(command: crate::config::OperatorCommand) -> Result<String, String> {
    use crate::config::OperatorCommand;
    use crate::console::accounts;
    let store = open(command.database(), Purpose::Serve).await?;
    let now = crate::state::now();
    match command {
        OperatorCommand::Add { name, role, .. } => {
            let password = accounts::add(&store, &name, role, CLI, now)
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "operator {name} added ({role}).\n\
                 one-time password: {password}\n\
                 Give it to {name} safely; it is shown only now. At the first login they \
                 choose their own password and enrol a TOTP authenticator.\n",
                role = role.label(),
            ))
        }
        OperatorCommand::Disable { name, .. } => {
            accounts::disable(&store, &name, CLI, now)
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "operator {name} disabled; their sessions end now.\n"
            ))
        }
        OperatorCommand::List { .. } => {
            let mut out = String::from("name                             role    state\n");
            for o in store.operators().await.map_err(|e| e.to_string())? {
                let state = if o.disabled {
                    "disabled"
                } else if o.is_locked(now) {
                    "locked"
                } else if o.password_temporary || o.totp_secret.is_none() {
                    "setup pending"
                } else {
                    "active"
                };
                let role = format!("{:?}", o.role).to_lowercase();
                out.push_str(&format!("{:<32} {role:<7} {state}\n", o.name));
            }
            Ok(out)
        }
    }
}

/// Who the operator log names for the command line's actions.
pub const CLI: &str = "(cli)";

/// `application <id>`: prints one application for an enquiry.
pub async fn run_application(id: &str, database: &Database) -> Result<String, String> {
    let id = ApplicationId::parse(id).map_err(|e| format!("{id}: {e}"))?;
    let store = open(database, Purpose::Serve).await?;
    match store.application(id).await.map_err(|e| e.to_string())? {
        Some(record) => Ok(describe(&record)),
        None => Err(format!("no application {id}")),
    }
}

/// A plain-text description of an application.
pub fn describe(r: &ApplicationRecord) -> String {
    let mut out = format!(
        "お申し込みID   {}\n回線           {}\n受付日時       {}\n状態           {}\n工事完了予定   {}\n",
        r.id,
        r.customer_id,
        r.received_at.display_jst(),
        r.state.label(),
        r.expected_done_at.display_jst(),
    );
    if let Some(done) = r.completed_at {
        out.push_str(&format!("工事完了       {}\n", done.display_jst()));
    }
    out.push_str("変更内容\n");
    for c in &r.changes {
        out.push_str(&format!(
            "  {} {} {} → {}\n",
            c.provider,
            c.service_name,
            c.provider_name,
            c.setting.label()
        ));
    }
    let a = &r.applicant;
    out.push_str(&format!(
        "お名前         {}\n電話番号       {}\nメール         {}\n完了通知メール {}\n同意書         {} (sha256 {})\n",
        a.name,
        a.phone,
        a.email.as_ref().map(ToString::to_string).unwrap_or_else(|| "-".into()),
        if a.wants_mail { "希望する" } else { "希望しない" },
        r.consent_version,
        r.consent_hash,
    ));
    out
}
