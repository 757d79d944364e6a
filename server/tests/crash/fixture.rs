//! The crash test's data and folders: an import file with [`LINES`] lines
//! and [`PROVIDERS`] providers (SPEC §5 format), loaded once through the
//! real `kaisen import`, and the temporary folder the server runs in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use kaisen::store::SettingRecord;
use serde_json::{Value, json};
use shared::domain::{Date, Setting, SettingMethod};
use tempfile::TempDir;

/// Lines in the import file.
pub const LINES: usize = 40;
/// Providers in the import file.
pub const PROVIDERS: usize = 30;

/// The fixture's consent text.
const CONSENT_TEXT: &str = "回線情報通知機能の利用に同意します。\n\n（クラッシュ試験用の同意書）";

/// The customer ID of line `n` (from 0): `CAF7000000000` + n.
pub fn customer_id(n: usize) -> String {
    format!("CAF{:010}", 7_000_000_000 + n)
}

/// The access key of line `n`.
pub fn access_key(n: usize) -> String {
    format!("Crash-Key-{n:04}")
}

/// The code of provider `n` (from 0): `C0001` onwards.
pub fn provider_code(n: usize) -> String {
    format!("C{:04}", n + 1)
}

/// The imported setting of line `line` for provider `provider`, if the
/// import file records one: about two in five 「通知する」 (初期設定), one in
/// five an explicit 「通知しない」 (お電話), the rest nothing (so
/// 「通知しない」 by default).
pub fn initial_setting(line: usize, provider: usize) -> Option<SettingRecord> {
    let (setting, set_on, method) = match (line * 7 + provider * 3) % 5 {
        0 | 1 => (Setting::Notify, "2025-04-01", "初期設定"),
        2 => (Setting::DoNotNotify, "2025-06-01", "お電話"),
        _ => return None,
    };
    Some(SettingRecord {
        setting,
        set_on: Date::parse(set_on).expect("a date"),
        method: SettingMethod::parse(method).expect("a method"),
    })
}

/// Every imported setting, by (customer ID, provider code).
pub fn initial_settings() -> BTreeMap<(String, String), SettingRecord> {
    let mut all = BTreeMap::new();
    for line in 0..LINES {
        for provider in 0..PROVIDERS {
            if let Some(record) = initial_setting(line, provider) {
                all.insert((customer_id(line), provider_code(provider)), record);
            }
        }
    }
    all
}

/// The import file, as an operator would write it.
pub fn import_file() -> Value {
    let providers: Vec<Value> = (0..PROVIDERS)
        .map(|n| {
            let service_name = ["IP電話", "映像配信", "セキュリティ対策"][n % 3];
            json!({
                "code": provider_code(n),
                "service_name": service_name,
                "name": format!("試験通信{n:02}株式会社"),
            })
        })
        .collect();
    let lines: Vec<Value> = (0..LINES)
        .map(|line| {
            let notifications: Vec<Value> = (0..PROVIDERS)
                .filter_map(|provider| {
                    initial_setting(line, provider).map(|r| {
                        json!({
                            "provider": provider_code(provider),
                            "setting": r.setting,
                            "set_on": r.set_on,
                            "method": r.method,
                        })
                    })
                })
                .collect();
            json!({
                "customer_id": customer_id(line),
                "access_key": access_key(line),
                "services": [{"name": "フレッツ光ネクスト", "status": "利用中"}],
                "notifications": notifications,
            })
        })
        .collect();
    json!({
        "providers": providers,
        "lines": lines,
        "notices": ["クラッシュ試験中"],
        "consent": {"version": "2026-04", "text": CONSENT_TEXT},
    })
}

/// The test's temporary folder: `db/`, `mail/`, `site/index.html`, the
/// import file, the server's log, and snapshots of the database taken
/// after each kill.
pub struct Workspace {
    /// The temporary folder (deleted when dropped unless kept).
    pub root: TempDir,
    /// The database folder.
    pub db: PathBuf,
    /// Where the server writes completion mails.
    pub mail: PathBuf,
    /// The client folder the server serves.
    pub site: PathBuf,
    /// The server's stderr, every start appended.
    pub log: PathBuf,
    /// The flags naming the database: `--db <db>`, or `--database <url>`.
    pub database: Vec<String>,
}

impl Workspace {
    /// Creates the folders and the client's `index.html`.
    pub fn create() -> Self {
        let root = TempDir::new().expect("a temporary folder");
        let db = root.path().join("db");
        let mail = root.path().join("mail");
        let site = root.path().join("site");
        std::fs::create_dir_all(&site).expect("the site folder");
        std::fs::write(
            site.join("index.html"),
            "<!doctype html><html lang=\"ja\"><title>kaisen</title></html>\n",
        )
        .expect("index.html written");
        let log = root.path().join("server.log");
        let database = vec!["--db".into(), db.display().to_string()];
        Self {
            root,
            db,
            mail,
            site,
            log,
            database,
        }
    }

    /// Like [`Workspace::create`], on the PostgreSQL database at `url`.
    pub fn on_postgres(url: &str) -> Self {
        let mut workspace = Self::create();
        workspace.database = vec!["--database".into(), url.into()];
        workspace
    }

    /// Copies the server binary into the workspace and returns the copy:
    /// a build running meanwhile (another `cargo` in the same target
    /// folder) cannot swap the binary between two cycles.
    pub fn install_binary(&self, binary: &Path) -> PathBuf {
        let copy = self.root.path().join("kaisen");
        std::fs::copy(binary, &copy).expect("the server binary is copied");
        copy
    }

    /// The folder for the snapshot taken after kill `cycle`.
    pub fn snapshot(&self, cycle: usize) -> PathBuf {
        self.root.path().join(format!("snapshot-{cycle}"))
    }

    /// Writes [`import_file`] and loads it with `kaisen import FILE --db DIR`
    /// (or `--database URL`).
    pub fn import(&self, binary: &Path) {
        self.import_json(binary, "import.json", &import_file());
    }

    /// Writes `json` to `name` in the workspace and loads it with `kaisen
    /// import`.
    pub fn import_json(&self, binary: &Path, name: &str, json: &Value) {
        let file = self.root.path().join(name);
        std::fs::write(&file, json.to_string()).expect("the import file written");
        let output = Command::new(binary)
            .arg("import")
            .arg(&file)
            .args(&self.database)
            .output()
            .expect("kaisen import runs");
        assert!(
            output.status.success(),
            "kaisen import failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Copies a folder tree (a stopped server's database) to `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("the copy's folder");
    for entry in std::fs::read_dir(from).expect("the folder lists") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("a file copied");
        }
    }
}
