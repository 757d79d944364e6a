//! Sessions and failed logins, as rows every process reads: a lockout
//! started through one portal holds on all.

use std::net::IpAddr;

use shared::domain::{CustomerId, Timestamp};

use super::{PgEngine, from_text};
use crate::store::rules::{self, AddressLimit};
use crate::store::{LoginFailures, NewSession, SessionRecord, StoreError};

fn session_of(row: &tokio_postgres::Row) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        customer_id: from_text("sessions", row.get(0))?,
        created_at: Timestamp::from_unix(row.get(1)),
        last_seen: Timestamp::from_unix(row.get(2)),
    })
}

fn failures_of(row: &tokio_postgres::Row) -> LoginFailures {
    LoginFailures {
        count: u32::try_from(row.get::<_, i32>(0)).unwrap_or(0),
        last_at: Timestamp::from_unix(row.get(1)),
        locked_until: row.get::<_, Option<i64>>(2).map(Timestamp::from_unix),
    }
}

impl PgEngine {
    /// A login succeeded: in one transaction, the line's failures are
    /// forgotten, the replaced session ends and the new one starts.
    pub(super) async fn start_session(
        &self,
        line: &CustomerId,
        session: &NewSession,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "DELETE FROM login_failures WHERE customer_id = $1",
            &[&line.as_str()],
        )
        .await?;
        let replaced = match &session.replacing {
            Some(old) => tx
                .query_opt(
                    "DELETE FROM sessions WHERE id = $1 \
                     RETURNING customer_id, created_at, last_seen",
                    &[old],
                )
                .await?
                .map(|row| session_of(&row))
                .transpose()?,
            None => None,
        };
        let r = &session.record;
        tx.execute(
            "INSERT INTO sessions (id, customer_id, created_at, last_seen) VALUES ($1, $2, $3, $4)",
            &[
                &session.id,
                &r.customer_id.as_str(),
                &r.created_at.unix(),
                &r.last_seen.unix(),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(replaced)
    }

    /// A session by its ID.
    pub(super) async fn session_record(
        &self,
        id: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        // Read at every request: prepared once per connection.
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT customer_id, created_at, last_seen FROM sessions WHERE id = $1")
            .await?;
        let row = client.query_opt(&statement, &[&id]).await?;
        row.map(|row| session_of(&row)).transpose()
    }

    /// Ends a session and returns it, if there was one.
    pub(super) async fn delete_session(
        &self,
        id: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "DELETE FROM sessions WHERE id = $1 RETURNING customer_id, created_at, last_seen",
                &[&id],
            )
            .await?;
        row.map(|row| session_of(&row)).transpose()
    }

    /// The failed logins in a row of `id`, if any.
    pub(super) async fn failures_of(
        &self,
        id: &CustomerId,
    ) -> Result<Option<LoginFailures>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT count, last_at, locked_until FROM login_failures WHERE customer_id = $1",
                &[&id.as_str()],
            )
            .await?;
        Ok(row.map(|row| failures_of(&row)))
    }

    /// Counts a failed login: the row is locked (made first if missing),
    /// so failures from every process count one after the other.
    pub(super) async fn count_failure(
        &self,
        id: &CustomerId,
        now: Timestamp,
        max: u32,
        lock_secs: i64,
    ) -> Result<LoginFailures, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO login_failures (customer_id, count, last_at) VALUES ($1, 0, $2) \
             ON CONFLICT DO NOTHING",
            &[&id.as_str(), &now.unix()],
        )
        .await?;
        let row = tx
            .query_one(
                "SELECT count, last_at, locked_until FROM login_failures \
                 WHERE customer_id = $1 FOR UPDATE",
                &[&id.as_str()],
            )
            .await?;
        let next = rules::after_login_failure(Some(&failures_of(&row)), now, max, lock_secs);
        tx.execute(
            "UPDATE login_failures SET count = $2, last_at = $3, locked_until = $4 \
             WHERE customer_id = $1",
            &[
                &id.as_str(),
                &i32::try_from(next.count).unwrap_or(i32::MAX),
                &next.last_at.unix(),
                &next.locked_until.map(Timestamp::unix),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Removes failure counters (and address failures) that can no
    /// longer matter (`rules::login_failures_stale`).
    pub(super) async fn sweep_failures(
        &self,
        now: Timestamp,
        older_than: i64,
    ) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let (mut ids, mut seen): (Vec<String>, Vec<i64>) = (Vec::new(), Vec::new());
        for row in client
            .query(
                "SELECT count, last_at, locked_until, customer_id FROM login_failures",
                &[],
            )
            .await?
        {
            if rules::login_failures_stale(&failures_of(&row), now, older_than) {
                ids.push(row.get(3));
                seen.push(row.get(1));
            }
        }
        // Only rows unchanged since they were read: a failure counted
        // meanwhile keeps its counter.
        let removed = client
            .execute(
                "DELETE FROM login_failures l USING unnest($1::text[], $2::bigint[]) AS s(id, at) \
                 WHERE l.customer_id = s.id AND l.last_at = s.at",
                &[&ids, &seen],
            )
            .await?;
        client
            .execute(
                "DELETE FROM address_failures WHERE $1 - at >= $2",
                &[&now.unix(), &older_than],
            )
            .await?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }

    /// How long `addr` must wait at `now`, from its latest failures.
    pub(super) async fn address_wait_at(
        &self,
        addr: IpAddr,
        now: Timestamp,
        limit: AddressLimit,
    ) -> Result<Option<u64>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT at FROM address_failures WHERE addr = $1 AND at > $2 \
                 ORDER BY at DESC LIMIT $3",
                &[
                    &addr,
                    &(now.unix() - limit.window_secs),
                    &i64::try_from(limit.max).unwrap_or(i64::MAX),
                ],
            )
            .await?;
        let recent: Vec<Timestamp> = rows
            .iter()
            .map(|row| Timestamp::from_unix(row.get(0)))
            .collect();
        Ok(rules::address_wait(&recent, now, limit))
    }
}
