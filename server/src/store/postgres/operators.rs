//! The operator console's records as rows every process reads: accounts,
//! sessions and the append-only action log; and the console's
//! interventions on the other tables.

use shared::domain::{ApplicationId, CustomerId, ProviderCode, Timestamp};

use super::{PgEngine, from_json, id_column, json};
use crate::store::StoreError;
use crate::store::operators::{
    ActionFilter, NewAction, OperatorAction, OperatorRecord, OperatorSession,
};

/// A revision as its column holds it.
fn revision(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PgEngine {
    /// Stores a new account unless its name is taken.
    pub(super) async fn insert_operator(&self, r: &OperatorRecord) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let added = client
            .execute(
                "INSERT INTO operators (name, revision, record) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO NOTHING",
                &[&r.name, &revision(r.revision), &json("operators", r)?],
            )
            .await?;
        Ok(added == 1)
    }

    /// An account by name.
    pub(super) async fn operator_record(
        &self,
        name: &str,
    ) -> Result<Option<OperatorRecord>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT record FROM operators WHERE name = $1")
            .await?;
        client
            .query_opt(&statement, &[&name])
            .await?
            .map(|row| from_json("operators", row.get(0)))
            .transpose()
    }

    /// Every account, by name.
    pub(super) async fn operator_records(&self) -> Result<Vec<OperatorRecord>, StoreError> {
        let client = self.client().await?;
        client
            .query("SELECT record FROM operators ORDER BY name", &[])
            .await?
            .into_iter()
            .map(|row| from_json("operators", row.get(0)))
            .collect()
    }

    /// Replaces an account still at the revision `record` names.
    pub(super) async fn replace_operator(
        &self,
        record: &OperatorRecord,
    ) -> Result<Option<OperatorRecord>, StoreError> {
        let next = OperatorRecord {
            revision: record.revision + 1,
            ..record.clone()
        };
        let client = self.client().await?;
        let updated = client
            .execute(
                "UPDATE operators SET revision = $3, record = $4 \
                 WHERE name = $1 AND revision = $2",
                &[
                    &record.name,
                    &revision(record.revision),
                    &revision(next.revision),
                    &json("operators", &next)?,
                ],
            )
            .await?;
        Ok((updated == 1).then_some(next))
    }

    /// Stores a session.
    pub(super) async fn upsert_operator_session(
        &self,
        id: &str,
        s: &OperatorSession,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO operator_sessions (id, created_at, last_seen, record) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE \
                 SET last_seen = EXCLUDED.last_seen, record = EXCLUDED.record",
                &[
                    &id,
                    &s.created_at.unix(),
                    &s.last_seen.unix(),
                    &json("operator_sessions", s)?,
                ],
            )
            .await?;
        Ok(())
    }

    /// A session by ID.
    pub(super) async fn operator_session_record(
        &self,
        id: &str,
    ) -> Result<Option<OperatorSession>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT record FROM operator_sessions WHERE id = $1")
            .await?;
        client
            .query_opt(&statement, &[&id])
            .await?
            .map(|row| from_json("operator_sessions", row.get(0)))
            .transpose()
    }

    /// Ends a session.
    pub(super) async fn delete_operator_session(&self, id: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM operator_sessions WHERE id = $1", &[&id])
            .await?;
        Ok(())
    }

    /// Removes the sessions run out at `now`.
    pub(super) async fn delete_expired_operator_sessions(
        &self,
        now: Timestamp,
        idle_secs: i64,
        total_secs: i64,
    ) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let removed = client
            .execute(
                "DELETE FROM operator_sessions WHERE last_seen <= $1 OR created_at <= $2",
                &[
                    &now.unix().saturating_sub(idle_secs),
                    &now.unix().saturating_sub(total_secs),
                ],
            )
            .await?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }

    /// Appends an action; the identity column gives its ID.
    pub(super) async fn insert_action(
        &self,
        action: &NewAction,
    ) -> Result<OperatorAction, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "WITH id AS (SELECT nextval(pg_get_serial_sequence('operator_actions', 'id')) AS id) \
                 INSERT INTO operator_actions (id, operator, customer_id, record) \
                 SELECT id.id, $1, $2, jsonb_build_object('id', id.id) || $3::jsonb FROM id \
                 RETURNING id",
                &[
                    &action.operator,
                    &action.customer_id.as_ref().map(CustomerId::as_str),
                    &json("operator_actions", action)?,
                ],
            )
            .await?;
        Ok(OperatorAction {
            id: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
            action: action.clone(),
        })
    }

    /// The logged actions `filter` selects, newest first.
    pub(super) async fn select_actions(
        &self,
        filter: &ActionFilter,
    ) -> Result<Vec<OperatorAction>, StoreError> {
        let client = self.client().await?;
        let before = filter.before.map(revision).unwrap_or(i64::MAX);
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        client
            .query(
                "SELECT record FROM operator_actions \
                 WHERE id < $1 AND ($2::text IS NULL OR operator = $2) \
                 AND ($3::text IS NULL OR customer_id = $3) \
                 ORDER BY id DESC LIMIT $4",
                &[
                    &before,
                    &filter.operator,
                    &filter.customer_id.as_ref().map(CustomerId::as_str),
                    &limit,
                ],
            )
            .await?
            .into_iter()
            .map(|row| from_json("operator_actions", row.get(0)))
            .collect()
    }

    /// Forgets a customer ID's failed logins.
    pub(super) async fn delete_login_failures(&self, id: &CustomerId) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let removed = client
            .execute(
                "DELETE FROM login_failures WHERE customer_id = $1",
                &[&id.as_str()],
            )
            .await?;
        Ok(removed > 0)
    }

    /// Makes a waiting mail due now.
    pub(super) async fn mail_due_now(
        &self,
        id: ApplicationId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let updated = client
            .execute(
                "UPDATE outbox SET next_attempt_at = least(next_attempt_at, $2) \
                 WHERE application_id = $1",
                &[&id_column(id), &now.unix()],
            )
            .await?;
        Ok(updated == 1)
    }

    /// Makes an undelivered event due now.
    pub(super) async fn event_due_now(
        &self,
        provider: &ProviderCode,
        sequence: u64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let updated = client
            .execute(
                "UPDATE events SET next_attempt_at = least(next_attempt_at, $3) \
                 WHERE provider = $1 AND sequence = $2 AND delivered_at IS NULL",
                &[&provider.as_str(), &revision(sequence), &now.unix()],
            )
            .await?;
        Ok(updated == 1)
    }
}

/// Writes a restored account and action (within the restore's transaction).
pub(super) async fn restore_operator(
    tx: &impl deadpool_postgres::GenericClient,
    r: &OperatorRecord,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO operators (name, revision, record) VALUES ($1, $2, $3)",
        &[&r.name, &revision(r.revision), &json("operators", r)?],
    )
    .await?;
    Ok(())
}

/// Writes a restored action and moves the ID sequence past it.
pub(super) async fn restore_action(
    tx: &impl deadpool_postgres::GenericClient,
    a: &OperatorAction,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO operator_actions (id, operator, customer_id, record) VALUES ($1, $2, $3, $4)",
        &[
            &revision(a.id),
            &a.action.operator,
            &a.action.customer_id.as_ref().map(CustomerId::as_str),
            &json("operator_actions", a)?,
        ],
    )
    .await?;
    tx.execute(
        "SELECT setval(pg_get_serial_sequence('operator_actions', 'id'), $1)",
        &[&revision(a.id)],
    )
    .await?;
    Ok(())
}
