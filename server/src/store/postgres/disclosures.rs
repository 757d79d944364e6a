//! The disclosure log (SPEC §8): `disclosures`, and each line's newest
//! time per provider in `settings.last_disclosed_at`, written by one
//! statement.

use shared::domain::CustomerId;

use super::{PgEngine, from_json, json};
use crate::store::{DisclosurePage, DisclosureRecord, StoreError};

/// A statement's parameter.
type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);

/// Writes a disclosure and moves its provider's newest time on, in one
/// statement: on a client, its own transaction (one round trip); in a
/// transaction (a restore), part of it.
pub(super) async fn write_disclosure(
    client: &impl deadpool_postgres::GenericClient,
    d: &DisclosureRecord,
) -> Result<(), StoreError> {
    let (line, provider, at) = (d.customer_id.as_str(), d.provider.as_str(), d.at.unix());
    let record = json("disclosures", d)?;
    let statement = client
        .prepare_cached(
            "WITH inserted AS (INSERT INTO disclosures (id, customer_id, provider, at, record) \
             VALUES ($1, $2, $3, $4, $5)) \
             UPDATE settings SET last_disclosed_at = $4 \
             WHERE customer_id = $2 AND provider = $3 \
             AND (last_disclosed_at IS NULL OR last_disclosed_at < $4)",
        )
        .await?;
    let params: [Param; 5] = [&d.id, &line, &provider, &at, &record];
    client.execute(&statement, &params).await?;
    Ok(())
}

impl PgEngine {
    /// Writes a disclosure, committed before it returns.
    pub(super) async fn record_disclosure_now(
        &self,
        d: &DisclosureRecord,
    ) -> Result<(), StoreError> {
        write_disclosure(&self.client().await?, d).await
    }

    /// A page of a line's disclosures, newest first, and how many it has.
    pub(super) async fn disclosures_of(
        &self,
        id: &CustomerId,
        skip: u64,
        limit: u64,
    ) -> Result<DisclosurePage, StoreError> {
        let client = self.client().await?;
        let line = id.as_str();
        let (skip, limit) = (
            i64::try_from(skip).unwrap_or(i64::MAX),
            i64::try_from(limit).unwrap_or(i64::MAX),
        );
        let by_line: [Param; 1] = [&line];
        let paged: [Param; 3] = [&line, &skip, &limit];
        let (count, rows) = tokio::try_join!(
            client.query_one(
                "SELECT count(*) FROM disclosures WHERE customer_id = $1",
                &by_line
            ),
            client.query(
                "SELECT record FROM disclosures WHERE customer_id = $1 \
                 ORDER BY at DESC, id DESC OFFSET $2 LIMIT $3",
                &paged,
            ),
        )?;
        Ok(DisclosurePage {
            total: u64::try_from(count.get::<_, i64>(0)).unwrap_or(0),
            items: rows
                .into_iter()
                .map(|row| from_json("disclosures", row.get(0)))
                .collect::<Result<_, _>>()?,
        })
    }
}
