//! The operator's subcommands besides `serve`: `import` and `application`.

use std::path::Path;

use shared::domain::ApplicationId;

use crate::import;
use crate::store::{ApplicationRecord, Store};

/// `import <file> --db <dir>`: prints what changed.
pub fn run_import(file: &Path, db: &Path) -> Result<String, String> {
    let store = Store::open(db).map_err(|e| e.to_string())?;
    let r = import::import_path(&store, file)
        .map_err(|e| format!("import refused, nothing written: {e}"))?;
    Ok(format!(
        "imported {}: {} providers, {} lines, {} settings written; notices {}; consent {}",
        file.display(),
        r.providers,
        r.lines,
        r.settings,
        if r.notices { "replaced" } else { "unchanged" },
        if r.consent { "replaced" } else { "unchanged" },
    ))
}

/// `application <id> --db <dir>`: prints one application for an enquiry.
pub fn run_application(id: &str, db: &Path) -> Result<String, String> {
    let id = ApplicationId::parse(id).map_err(|e| format!("{id}: {e}"))?;
    let store = Store::open(db).map_err(|e| e.to_string())?;
    match store.application(id).map_err(|e| e.to_string())? {
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
