//! The schema's migrations, embedded in the binary and applied in order,
//! each once, in one transaction under an advisory lock: ten processes
//! starting at once apply each migration once, the others waiting, then
//! finding it done.

use super::PgEngine;
use crate::store::StoreError;

/// Every migration, in order: (version, SQL).
pub const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("migrations/0001_schema.sql")),
    (2, include_str!("migrations/0002_providers_api.sql")),
    (3, include_str!("migrations/0003_events.sql")),
    (4, include_str!("migrations/0004_operators.sql")),
];

/// The advisory lock's key: "kaisen" in ASCII.
const LOCK: i64 = 0x6b61_6973_656e;

impl PgEngine {
    /// Applies every migration not yet applied; says how many it applied.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (\
                 version integer PRIMARY KEY, \
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await?;
        let applied: Vec<i32> = tx
            .query("SELECT version FROM schema_migrations", &[])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if let Some(newer) = applied.iter().find(|v| **v > latest()) {
            return Err(StoreError::Engine {
                engine: "postgres",
                detail: format!(
                    "the database's schema is version {newer}, newer than this kaisen knows \
                     ({}): run the kaisen that migrated it",
                    latest()
                ),
            });
        }
        let mut count = 0;
        for (version, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[version],
            )
            .await?;
            tracing::info!(version, "database migration applied");
            count += 1;
        }
        tx.commit().await?;
        Ok(count)
    }
}

/// The newest version this binary knows.
pub(super) fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}
