//! IPv6 prefix assignments (SPEC §5 `prefixes`), in `prefixes`: the
//! prefix as 17 bytes (`network ++ length`), so that a lookup probes the
//! primary key once per length a line's prefix may have.

use std::net::Ipv6Addr;

use shared::domain::{CustomerId, ProviderCode, Timestamp};

use super::{PgEngine, corrupt, from_text};
use crate::store::{ImportReport, PREFIX_LENGTHS, PrefixRecord, StoreError};

/// The columns [`prefix_of`] reads.
const COLUMNS: &str = "network, from_at, until_at, customer_id";

/// The keys of every prefix that may hold `addr`, one per length.
fn candidates(addr: Ipv6Addr) -> Vec<Vec<u8>> {
    PREFIX_LENGTHS
        .filter_map(|len| ipnet::Ipv6Net::new(addr, len).ok())
        .map(|net| network_key(&net.trunc()))
        .collect()
}

/// `network ++ length`.
fn network_key(prefix: &ipnet::Ipv6Net) -> Vec<u8> {
    let mut key = prefix.network().octets().to_vec();
    key.push(prefix.prefix_len());
    key
}

/// An assignment from its [`COLUMNS`].
fn prefix_of(row: &tokio_postgres::Row) -> Result<PrefixRecord, StoreError> {
    let key: &[u8] = row.get(0);
    let prefix = <[u8; 16]>::try_from(key.get(..16).unwrap_or_default())
        .ok()
        .zip(key.get(16).copied())
        .and_then(|(octets, len)| ipnet::Ipv6Net::new(Ipv6Addr::from(octets), len).ok())
        .ok_or_else(|| corrupt("prefixes", "a network that is not 16 bytes and a length"))?;
    Ok(PrefixRecord {
        prefix,
        from: Timestamp::from_unix(row.get(1)),
        until: row.get::<_, Option<i64>>(2).map(Timestamp::from_unix),
        customer_id: from_text("prefixes", row.get(3))?,
    })
}

/// Writes assignments, each replacing the one with its prefix and start,
/// only those that differ; says how many it wrote.
pub(super) async fn write_prefixes(
    tx: &tokio_postgres::Transaction<'_>,
    prefixes: &[PrefixRecord],
) -> Result<usize, StoreError> {
    let networks: Vec<Vec<u8>> = prefixes.iter().map(|p| network_key(&p.prefix)).collect();
    let froms: Vec<i64> = prefixes.iter().map(|p| p.from.unix()).collect();
    let untils: Vec<Option<i64>> = prefixes
        .iter()
        .map(|p| p.until.map(Timestamp::unix))
        .collect();
    let lines: Vec<&str> = prefixes.iter().map(|p| p.customer_id.as_str()).collect();
    let written = tx
        .execute(
            "INSERT INTO prefixes AS p (network, from_at, until_at, customer_id) \
             SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bigint[], $4::text[]) \
             ON CONFLICT (network, from_at) DO UPDATE \
             SET until_at = EXCLUDED.until_at, customer_id = EXCLUDED.customer_id \
             WHERE (p.until_at, p.customer_id) IS DISTINCT FROM \
                   (EXCLUDED.until_at, EXCLUDED.customer_id)",
            &[&networks, &froms, &untils, &lines],
        )
        .await?;
    Ok(usize::try_from(written).unwrap_or(usize::MAX))
}

impl PgEngine {
    /// Writes an import's assignments in one transaction.
    pub(super) async fn import_prefix_chunk(
        &self,
        prefixes: &[PrefixRecord],
    ) -> Result<ImportReport, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let prefixes = write_prefixes(&tx, prefixes).await?;
        tx.commit().await?;
        Ok(ImportReport {
            prefixes,
            ..ImportReport::default()
        })
    }

    /// Every assignment, by prefix then start, as `tx` sees them.
    pub(super) async fn all_prefixes_in(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
    ) -> Result<Vec<PrefixRecord>, StoreError> {
        tx.query(
            &format!("SELECT {COLUMNS} FROM prefixes ORDER BY network, from_at"),
            &[],
        )
        .await?
        .iter()
        .map(prefix_of)
        .collect()
    }

    /// Every assignment, by prefix then start.
    pub(super) async fn all_prefixes(&self) -> Result<Vec<PrefixRecord>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let all = self.all_prefixes_in(&tx).await?;
        tx.commit().await?;
        Ok(all)
    }

    /// The assignment that held `addr` at `at`: the networks of `addr` at
    /// every length a line's prefix may have, probed in one statement.
    pub(super) async fn prefix_holding(
        &self,
        addr: Ipv6Addr,
        at: Timestamp,
    ) -> Result<Option<PrefixRecord>, StoreError> {
        let candidates = candidates(addr);
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM prefixes WHERE network = ANY($1) AND from_at <= $2 \
                 AND (until_at IS NULL OR until_at > $2) ORDER BY network DESC LIMIT 1"
            ))
            .await?;
        let row = client
            .query_opt(&statement, &[&candidates, &at.unix()])
            .await?;
        row.as_ref().map(prefix_of).transpose()
    }

    /// The assignment holding `addr` at `at`, if its line is set to
    /// 「通知する」 for `provider` now: one statement.
    pub(super) async fn notifying_prefix(
        &self,
        addr: Ipv6Addr,
        at: Timestamp,
        provider: &ProviderCode,
    ) -> Result<Option<PrefixRecord>, StoreError> {
        let candidates = candidates(addr);
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT p.network, p.from_at, p.until_at, p.customer_id FROM prefixes p \
                 JOIN settings s ON s.customer_id = p.customer_id AND s.provider = $3 \
                 AND s.setting = 'notify' \
                 WHERE p.network = ANY($1) AND p.from_at <= $2 \
                 AND (p.until_at IS NULL OR p.until_at > $2) ORDER BY p.network DESC LIMIT 1",
            )
            .await?;
        let row = client
            .query_opt(&statement, &[&candidates, &at.unix(), &provider.as_str()])
            .await?;
        row.as_ref().map(prefix_of).transpose()
    }

    /// A line's assignments, by prefix then start.
    pub(super) async fn prefixes_of(
        &self,
        id: &CustomerId,
    ) -> Result<Vec<PrefixRecord>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM prefixes WHERE customer_id = $1 \
                     ORDER BY network, from_at"
                ),
                &[&id.as_str()],
            )
            .await?
            .iter()
            .map(prefix_of)
            .collect()
    }
}
