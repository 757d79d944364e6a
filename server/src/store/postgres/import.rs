//! Writing a checked import file: the head in one transaction, the lines
//! chunk by chunk (each chunk split over the cores, a transaction per part)
//! with binary COPY into a temporary table merged into `lines` and
//! `settings`, each record only if it differs. An "import unfinished" row
//! in `meta` marks the database until the import ends, as with sled.

use shared::domain::CustomerId;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use super::{PgEngine, json, text};
use crate::store::{ImportHead, ImportReport, LineImport, StoreError};

/// The most connections a chunk of lines is written on at once.
const PARTS: usize = 8;

impl PgEngine {
    /// Writes the providers, notices and consent in one transaction; the
    /// catalogue's version moves on if a provider changed.
    pub(super) async fn write_head(&self, head: &ImportHead) -> Result<ImportReport, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut report = ImportReport::default();
        for (code, record) in &head.providers {
            let changed = tx
                .execute(
                    "INSERT INTO providers AS p (code, service_name, name, purpose, api, client_id) \
                     VALUES ($1, $2, $3, $4, $5, $5::jsonb->>'client_id') \
                     ON CONFLICT (code) DO UPDATE SET service_name = EXCLUDED.service_name, \
                     name = EXCLUDED.name, purpose = EXCLUDED.purpose, api = EXCLUDED.api, \
                     client_id = EXCLUDED.client_id \
                     WHERE (p.service_name, p.name, p.purpose, p.api) IS DISTINCT FROM \
                     (EXCLUDED.service_name, EXCLUDED.name, EXCLUDED.purpose, EXCLUDED.api)",
                    &[
                        &code.as_str(),
                        &record.service_name,
                        &record.name,
                        &record.purpose,
                        &record.api.as_ref().map(|api| json("providers", api)).transpose()?,
                    ],
                )
                .await?;
            report.providers += usize::try_from(changed).unwrap_or(0);
        }
        if report.providers > 0 {
            tx.execute("UPDATE catalogue SET version = version + 1", &[])
                .await?;
        }
        let put = "INSERT INTO meta AS m (key, value) VALUES ($1, $2) ON CONFLICT (key) \
                   DO UPDATE SET value = EXCLUDED.value WHERE m.value IS DISTINCT FROM EXCLUDED.value";
        if let Some(notices) = &head.notices {
            report.notices = tx
                .execute(put, &[&"notices", &json("meta", notices)?])
                .await?
                > 0;
        }
        if let Some(consent) = &head.consent {
            report.consent = tx
                .execute(put, &[&"consent", &json("meta", consent)?])
                .await?
                > 0;
        }
        tx.commit().await?;
        Ok(report)
    }

    /// Writes a chunk of lines and their settings: split in one part per
    /// core (at most [`PARTS`]), each written on a connection of its own,
    /// in a transaction of its own (a line's settings go with it, and no
    /// line is in two parts), so that the database's work on a chunk runs
    /// on more than one core. A part that fails leaves the import
    /// unfinished, as a failed chunk does.
    pub(super) async fn write_lines(
        &self,
        chunk: &[LineImport],
    ) -> Result<ImportReport, StoreError> {
        let parts = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(PARTS);
        let size = chunk.len().div_ceil(parts).max(1);
        let written = futures_util::future::try_join_all(
            chunk.chunks(size).map(|part| self.write_part(part)),
        )
        .await?;
        let mut report = ImportReport::default();
        for part in written {
            report.add(part);
        }
        Ok(report)
    }

    /// Writes part of a chunk in one transaction: binary COPY into
    /// temporary tables, then one merge each that writes only the rows that
    /// differ.
    async fn write_part(&self, chunk: &[LineImport]) -> Result<ImportReport, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.batch_execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS import_lines \
                 (customer_id text COLLATE \"C\", access_key_hash text, services jsonb) \
                 ON COMMIT DELETE ROWS; \
             CREATE TEMPORARY TABLE IF NOT EXISTS import_settings \
                 (customer_id text COLLATE \"C\", provider text COLLATE \"C\", setting text, \
                  set_on text, method text) ON COMMIT DELETE ROWS;",
        )
        .await?;
        let sink = tx
            .copy_in("COPY import_lines (customer_id, access_key_hash, services) FROM STDIN BINARY")
            .await?;
        let writer = BinaryCopyInWriter::new(sink, &[Type::TEXT, Type::TEXT, Type::JSONB]);
        futures_util::pin_mut!(writer);
        for line in chunk {
            let services = json("lines", &line.record.services)?;
            writer
                .as_mut()
                .write(&[&line.id.as_str(), &line.record.access_key_hash, &services])
                .await?;
        }
        writer.finish().await?;
        let sink = tx
            .copy_in(
                "COPY import_settings (customer_id, provider, setting, set_on, method) \
                 FROM STDIN BINARY",
            )
            .await?;
        let writer = BinaryCopyInWriter::new(sink, &[Type::TEXT; 5]);
        futures_util::pin_mut!(writer);
        for line in chunk {
            for (code, setting) in &line.settings {
                writer
                    .as_mut()
                    .write(&[
                        &line.id.as_str(),
                        &code.as_str(),
                        &text("settings", &setting.setting)?,
                        &setting.set_on.to_string(),
                        &setting.method.as_str(),
                    ])
                    .await?;
            }
        }
        writer.finish().await?;
        let lines = tx
            .execute(
                "INSERT INTO lines AS l (customer_id, access_key_hash, services) \
                 SELECT customer_id, access_key_hash, services FROM import_lines \
                 ON CONFLICT (customer_id) DO UPDATE SET \
                 access_key_hash = EXCLUDED.access_key_hash, services = EXCLUDED.services \
                 WHERE (l.access_key_hash, l.services) IS DISTINCT FROM \
                 (EXCLUDED.access_key_hash, EXCLUDED.services)",
                &[],
            )
            .await?;
        let settings = tx
            .execute(
                "INSERT INTO settings AS s (customer_id, provider, setting, set_on, method) \
                 SELECT customer_id, provider, setting, set_on, method FROM import_settings \
                 ON CONFLICT (customer_id, provider) DO UPDATE SET setting = EXCLUDED.setting, \
                 set_on = EXCLUDED.set_on, method = EXCLUDED.method \
                 WHERE (s.setting, s.set_on, s.method) IS DISTINCT FROM \
                 (EXCLUDED.setting, EXCLUDED.set_on, EXCLUDED.method)",
                &[],
            )
            .await?;
        tx.commit().await?;
        Ok(ImportReport {
            lines: usize::try_from(lines).unwrap_or(0),
            settings: usize::try_from(settings).unwrap_or(0),
            ..ImportReport::default()
        })
    }

    /// The stored key hashes of the lines of `ids` that exist.
    pub(super) async fn hashes_of(
        &self,
        ids: &[CustomerId],
    ) -> Result<Vec<(CustomerId, String)>, StoreError> {
        let client = self.client().await?;
        let ids: Vec<&str> = ids.iter().map(CustomerId::as_str).collect();
        let rows = client
            .query(
                "SELECT customer_id, access_key_hash FROM lines WHERE customer_id = ANY($1)",
                &[&ids],
            )
            .await?;
        rows.into_iter()
            .map(|row| Ok((super::from_text("lines", row.get(0))?, row.get(1))))
            .collect()
    }
}
