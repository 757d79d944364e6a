//! The two engines under test, and the fixture every case starts from.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use kaisen::store::{Location, NewApplication, Purpose, Store};
use serde_json::{Value, json};
use shared::domain::{Applicant, CustomerId, ProviderCode, Setting, Timestamp};

/// Runs a case on each engine: `conformance!(name, |db| async move { … })`
/// makes `name::sled` and `name::postgres`.
#[macro_export]
macro_rules! conformance {
    ($name:ident, $case:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sled() {
                let db = $crate::engines::TestDb::sled().await;
                ($case)(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = $crate::engines::TestDb::postgres().await;
                ($case)(db).await;
            }
        }
    };
}

/// One fresh database.
pub struct TestDb {
    /// Where it is.
    pub location: Location,
    /// sled's one store: a folder has one process, so every view of it is
    /// that process's store.
    kept: tokio::sync::Mutex<Option<Store>>,
    _dir: Option<tempfile::TempDir>,
}

/// The private cluster every PostgreSQL case of this binary shares, each
/// in its own database.
fn cluster() -> &'static testkit::Cluster {
    static CLUSTER: OnceLock<testkit::Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        testkit::Cluster::shared(testkit::Options::default())
            .expect("a private PostgreSQL cluster starts")
    })
}

impl TestDb {
    /// An empty sled folder.
    pub async fn sled() -> Self {
        let dir = tempfile::TempDir::new().expect("a folder");
        Self {
            location: Location::Sled(dir.path().join("db")),
            kept: tokio::sync::Mutex::default(),
            _dir: Some(dir),
        }
    }

    /// An empty PostgreSQL database.
    pub async fn postgres() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "case_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let cluster = tokio::task::spawn_blocking(cluster)
            .await
            .expect("no panic");
        let url = cluster.create_database(&name).expect("a database");
        Self {
            location: Location::Postgres(url),
            kept: tokio::sync::Mutex::default(),
            _dir: None,
        }
    }

    /// A store on it: with PostgreSQL, each `open` is another process's
    /// view; with sled, the one process's store.
    pub async fn open(&self) -> Store {
        self.open_for(Purpose::Serve)
            .await
            .expect("the store opens")
    }

    /// A store on it opened for `purpose`, or why not.
    pub async fn open_for(&self, purpose: Purpose) -> Result<Store, kaisen::store::StoreError> {
        let mut kept = self.kept.lock().await;
        if let Some(store) = &*kept {
            return Ok(store.clone());
        }
        // A folder just let go of is held a moment longer by its last
        // handles' threads.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let store = loop {
            match Store::open(&self.location, purpose).await {
                Err(kaisen::store::StoreError::InUse(_))
                    if std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                outcome => break outcome?,
            }
        };
        if matches!(self.location, Location::Sled(_)) {
            *kept = Some(store.clone());
        }
        Ok(store)
    }

    /// Lets go of sled's store, as a process that exits does.
    pub async fn close(&self) {
        self.kept.lock().await.take();
    }

    /// A store on it, loaded with [`fixture`].
    pub async fn with_fixture(&self) -> Store {
        let store = self.open().await;
        kaisen::import::import(&store, import_file(fixture()))
            .await
            .expect("the fixture imports");
        store
    }
}

/// Line A: 「通知する」 for W0001 and W0002, 「通知しない」 for W0003.
pub const LINE_A: &str = "CAF0000000001";
/// Line B: 「通知する」 for W0001.
pub const LINE_B: &str = "CAF0000000002";
/// The fixture's providers: W0001 to W0030.
pub const PROVIDERS: usize = 30;

/// A small import file: two lines, thirty providers, notices, consent.
pub fn fixture() -> Value {
    let providers: Vec<Value> = (1..=PROVIDERS)
        .map(|n| json!({"code": format!("W{n:04}"), "service_name": "IP電話", "name": format!("通信{n:02}株式会社"), "purpose": format!("通信{n:02}のご契約確認のため")}))
        .collect::<Vec<_>>();
    let mut providers = providers;
    providers[0]["api"] = api("w0001");
    json!({
        "providers": providers,
        "lines": [
            {
                "customer_id": LINE_A,
                "access_key_hash": HASH,
                "services": [{"name": "フレッツ光ネクスト", "status": "利用中"}],
                "notifications": [
                    {"provider": "W0001", "setting": "notify", "set_on": "2025-04-01", "method": "初期設定"},
                    {"provider": "W0002", "setting": "notify", "set_on": "2025-05-10", "method": "お電話"},
                    {"provider": "W0003", "setting": "do_not_notify", "set_on": "2025-06-01", "method": "初期設定"},
                ],
            },
            {
                "customer_id": LINE_B,
                "access_key_hash": HASH,
                "notifications": [
                    {"provider": "W0001", "setting": "notify", "set_on": "2024-12-01", "method": "初期設定"},
                ],
            },
        ],
        "notices": ["お知らせ"],
        "consent": {"version": "2026-04", "text": "同意します。"},
        "prefixes": [
            {"customer_id": LINE_A, "prefix": PREFIX_A, "from": "2026-11-01T00:00:00+09:00", "until": null},
            {"customer_id": LINE_B, "prefix": "2001:db8:1234:5700::/56", "from": "2026-11-01T00:00:00+09:00", "until": "2026-11-20T00:00:00+09:00"},
        ],
    })
}

/// A provider API registration with client ID `client_id` (the demo
/// W0001's public key).
pub fn api(client_id: &str) -> Value {
    json!({
        "client_id": client_id,
        "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "E0bh34-i0zpnP_5ssyLupq7QAxSv3JfD5Bg1rCnj57k",
                           "y": "khRpa5yBk5rmMjWIoJwjK1BNd5DhSLOFJrILW7pjOkk", "kid": "w0001-2026-12",
                           "alg": "ES256", "use": "sig"}]},
        "webhook_url": "https://events.example.jp/kaisen",
        "webhook_secret": "whsec_qP83nAe0PBzaLpcv6s2J/ZhuNWVc/1CWaux74L1cbYQ=",
    })
}

/// Line A's prefix in the fixture, since 2026-11-01 (JST).
pub const PREFIX_A: &str = "2001:db8:1234:5600::/56";

/// An Argon2id hash (of "Alpha-Key-0001"), so that the fixture needs no
/// hashing.
pub const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$u6HkWvBZFMAanhY0nYtBfpmhgzlXsnAnWLaYQYQIkm4";

/// An import file from JSON.
pub fn import_file(json: Value) -> kaisen::import::ImportFile {
    serde_json::from_value(json).expect("an import file")
}

/// A customer ID.
pub fn line(id: &str) -> CustomerId {
    CustomerId::parse(id).expect("a customer ID")
}

/// A provider code `W{n:04}`.
pub fn code(n: usize) -> ProviderCode {
    ProviderCode::parse(&format!("W{n:04}")).expect("a code")
}

/// An application of `line` setting `providers` to `setting`, received
/// at `at`, with a fresh idempotency key; work takes 60 s.
pub async fn application(
    store: &Store,
    line_id: &str,
    setting: Setting,
    providers: &[usize],
    at: i64,
) -> NewApplication {
    let consent = store.consent().await.expect("read").expect("a consent");
    NewApplication {
        customer_id: line(line_id),
        idempotency_key: format!("{:032x}", rand::random::<u128>()),
        consent_hash: consent.hash,
        setting,
        providers: providers.iter().map(|n| code(*n)).collect(),
        applicant: applicant(true),
        received_at: Timestamp::from_unix(at),
        work_delay_secs: 60,
    }
}

/// An applicant who wishes the mail, or not.
pub fn applicant(wants_mail: bool) -> Applicant {
    serde_json::from_value(json!({
        "name": "山田太郎",
        "phone": "0312345678",
        "email": if wants_mail { json!("taro@example.jp") } else { Value::Null },
        "wants_mail": wants_mail,
    }))
    .expect("an applicant")
}

/// 2026-12-01 09:00 JST.
pub const T0: i64 = 1_796_083_200;

/// A disclosure of `line_id` to provider `provider` at `at`: a lookup from
/// line A's prefix, or with `application` a notice on a change.
pub fn disclosure(
    line_id: &str,
    provider: usize,
    at: i64,
    application: Option<shared::domain::ApplicationId>,
) -> kaisen::store::DisclosureRecord {
    use shared::api::DisclosureReason;
    kaisen::store::DisclosureRecord {
        id: format!("{at:012}-{line_id}-{provider:04}"),
        at: Timestamp::from_unix(at),
        customer_id: line(line_id),
        provider: code(provider),
        reason: if application.is_some() {
            DisclosureReason::Granted
        } else {
            DisclosureReason::Lookup
        },
        lookup: application.is_none().then(|| kaisen::store::LookupRecord {
            prefix: PREFIX_A.parse().expect("a prefix"),
            connected_at: Timestamp::from_unix(at - 5),
        }),
        application_id: application,
    }
}
