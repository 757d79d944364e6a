//! The PostgreSQL engine's side of export and restore (the format is
//! `store::export`'s), and the audit. An export reads one snapshot
//! (repeatable read, read only), so it may run while portals serve.

use futures_util::TryStreamExt;
use shared::domain::{Date, Timestamp};
use tokio_postgres::IsolationLevel;

use super::applications::{record_of, step_of};
use super::disclosures::write_disclosure;
use super::lines::{PROVIDER_COLUMNS, provider_of, setting_of};
use super::prefixes::write_prefixes;
use super::{PgEngine, application_id, corrupt, from_json, from_text, id_column, json, text};
use crate::store::export::{
    EventExport, ExportRecord, ExportSink, LineExport, OutboxExport, ProviderExport,
    SequenceExport, SettingExport,
};
use crate::store::{Audit, LineRecord, OutboxRecord, StoreError, rules};

/// Every table the restore writes, emptied by `clear` (children first).
const TABLES: &str = "operator_actions, operators, events, event_sequences, disclosures, outbox, work, pending, applications, \
                      day_sequences, prefixes, settings, lines, providers, meta";

impl PgEngine {
    /// Every durable record, in the export's order, from one snapshot.
    pub(super) async fn export_all(&self, sink: &mut ExportSink<'_>) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let meta = |key: &'static str| {
            let tx = &tx;
            async move {
                tx.query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
                    .await
            }
        };
        if let Some(row) = meta("consent").await? {
            sink(ExportRecord::Consent(from_json("meta", row.get(0))?))?;
        }
        if let Some(row) = meta("notices").await? {
            sink(ExportRecord::Notices(from_json("meta", row.get(0))?))?;
        }
        let none: [&(dyn tokio_postgres::types::ToSql + Sync); 0] = [];
        let stream = tx
            .query_raw(
                &format!("SELECT {PROVIDER_COLUMNS} FROM providers ORDER BY code"),
                none,
            )
            .await?;
        futures_util::pin_mut!(stream);
        while let Some(row) = stream.try_next().await? {
            let (code, record) = provider_of(&row)?;
            sink(ExportRecord::Provider(ProviderExport { code, record }))?;
        }
        let stream = tx
            .query_raw(
                "SELECT customer_id, access_key_hash, services FROM lines ORDER BY customer_id",
                none,
            )
            .await?;
        futures_util::pin_mut!(stream);
        while let Some(row) = stream.try_next().await? {
            sink(ExportRecord::Line(LineExport {
                customer_id: from_text("lines", row.get(0))?,
                record: LineRecord {
                    access_key_hash: row.get(1),
                    services: from_json("lines", row.get(2))?,
                },
            }))?;
        }
        let stream = tx
            .query_raw(
                "SELECT provider, setting, set_on, method, customer_id FROM settings \
                 ORDER BY customer_id, provider",
                none,
            )
            .await?;
        futures_util::pin_mut!(stream);
        while let Some(row) = stream.try_next().await? {
            let (provider, record) = setting_of(&row)?;
            sink(ExportRecord::Setting(SettingExport {
                customer_id: from_text("settings", row.get(4))?,
                provider,
                record,
            }))?;
        }
        for prefix in self.all_prefixes_in(&tx).await? {
            sink(ExportRecord::Prefix(prefix))?;
        }
        // A day's last sequence number in use: the highest of its
        // applications' (what sled records). Numbers portals drew and did
        // not use are not carried: a restored database has no portal yet.
        for row in tx
            .query(
                "SELECT (id / 100000000)::text, max((id / 10) % 10000000)::integer \
                 FROM applications GROUP BY 1 ORDER BY 1",
                &[],
            )
            .await?
        {
            let ymd: String = row.get(0);
            let day = ymd
                .get(..4)
                .zip(ymd.get(4..6))
                .zip(ymd.get(6..8))
                .and_then(|((y, m), d)| Date::parse(&format!("{y}-{m}-{d}")).ok())
                .ok_or_else(|| corrupt("applications", format!("bad day {ymd} in an ID")))?;
            sink(ExportRecord::Sequence(SequenceExport {
                day,
                last: u32::try_from(row.get::<_, i32>(1)).unwrap_or(0),
            }))?;
        }
        let stream = tx
            .query_raw("SELECT record FROM applications ORDER BY id", none)
            .await?;
        futures_util::pin_mut!(stream);
        while let Some(row) = stream.try_next().await? {
            sink(ExportRecord::Application(record_of(row.get(0))?))?;
        }
        for row in tx
            .query(
                "SELECT application_id, attempts, next_attempt_at, last_error FROM outbox \
                 ORDER BY application_id",
                &[],
            )
            .await?
        {
            sink(ExportRecord::Outbox(OutboxExport {
                application_id: application_id("outbox", row.get(0))?,
                record: OutboxRecord {
                    attempts: u32::try_from(row.get::<_, i32>(1)).unwrap_or(0),
                    next_attempt_at: Timestamp::from_unix(row.get(2)),
                    last_error: row.get(3),
                },
            }))?;
        }
        let stream = tx
            .query_raw(
                "SELECT record FROM disclosures ORDER BY customer_id, at, id",
                none,
            )
            .await?;
        futures_util::pin_mut!(stream);
        while let Some(row) = stream.try_next().await? {
            sink(ExportRecord::Disclosure(from_json(
                "disclosures",
                row.get(0),
            )?))?;
        }
        let stream = tx
            .query_raw(
                "SELECT record, attempts, next_attempt_at, last_error, delivered_at FROM events \
                 ORDER BY provider, sequence",
                none,
            )
            .await?;
        futures_util::pin_mut!(stream);
        while let Some(row) = stream.try_next().await? {
            sink(ExportRecord::Event(EventExport {
                record: from_json("events", row.get(0))?,
                delivery: super::events::delivery_of(&row, 1),
            }))?;
        }
        for row in tx
            .query("SELECT record FROM operators ORDER BY name", &[])
            .await?
        {
            sink(ExportRecord::Operator(from_json("operators", row.get(0))?))?;
        }
        let stream = tx
            .query_raw("SELECT record FROM operator_actions ORDER BY id", none)
            .await?;
        futures_util::pin_mut!(stream);
        while let Some(row) = stream.try_next().await? {
            sink(ExportRecord::OperatorAction(from_json(
                "operator_actions",
                row.get(0),
            )?))?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// What the database holds (sessions and failure counters aside), if
    /// anything.
    pub(super) async fn first_non_empty(&self) -> Result<Option<&'static str>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM lines), EXISTS (SELECT 1 FROM providers), \
                 EXISTS (SELECT 1 FROM applications), EXISTS (SELECT 1 FROM meta), \
                 EXISTS (SELECT 1 FROM day_sequences), EXISTS (SELECT 1 FROM prefixes), \
                 EXISTS (SELECT 1 FROM disclosures), EXISTS (SELECT 1 FROM events), \
                 EXISTS (SELECT 1 FROM operators), EXISTS (SELECT 1 FROM operator_actions)",
                &[],
            )
            .await?;
        let kinds = [
            "lines",
            "providers",
            "applications",
            "the consent document, notices or ID sequences",
            "the consent document, notices or ID sequences",
            "prefixes",
            "disclosures",
            "events",
            "operator accounts",
            "operator actions",
        ];
        Ok((0..kinds.len())
            .find(|i| row.get::<_, bool>(*i))
            .map(|i| kinds[i]))
    }

    /// Writes checked records, with what they imply, in one transaction.
    pub(super) async fn restore_batch(&self, records: Vec<ExportRecord>) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut providers = false;
        for record in records {
            match record {
                ExportRecord::Consent(c) => {
                    tx.execute(
                        "INSERT INTO meta (key, value) VALUES ('consent', $1)",
                        &[&json("meta", &c)?],
                    )
                    .await?;
                }
                ExportRecord::Notices(n) => {
                    tx.execute(
                        "INSERT INTO meta (key, value) VALUES ('notices', $1)",
                        &[&json("meta", &n)?],
                    )
                    .await?;
                }
                ExportRecord::Provider(p) => {
                    providers = true;
                    tx.execute(
                        "INSERT INTO providers (code, service_name, name, purpose, api, client_id) \
                         VALUES ($1, $2, $3, $4, $5, $5::jsonb->>'client_id')",
                        &[
                            &p.code.as_str(),
                            &p.record.service_name,
                            &p.record.name,
                            &p.record.purpose,
                            &p.record
                                .api
                                .as_ref()
                                .map(|api| json("providers", api))
                                .transpose()?,
                        ],
                    )
                    .await?;
                }
                ExportRecord::Line(l) => {
                    tx.execute(
                        "INSERT INTO lines (customer_id, access_key_hash, services) \
                         VALUES ($1, $2, $3)",
                        &[
                            &l.customer_id.as_str(),
                            &l.record.access_key_hash,
                            &json("lines", &l.record.services)?,
                        ],
                    )
                    .await?;
                }
                ExportRecord::Setting(s) => {
                    tx.execute(
                        "INSERT INTO settings (customer_id, provider, setting, set_on, method) \
                         VALUES ($1, $2, $3, $4, $5)",
                        &[
                            &s.customer_id.as_str(),
                            &s.provider.as_str(),
                            &text("settings", &s.record.setting)?,
                            &s.record.set_on.to_string(),
                            &s.record.method.as_str(),
                        ],
                    )
                    .await?;
                }
                ExportRecord::Prefix(p) => {
                    write_prefixes(&tx, std::slice::from_ref(&p)).await?;
                }
                ExportRecord::Sequence(s) => {
                    tx.execute(
                        "INSERT INTO day_sequences (day, last) VALUES ($1, $2)",
                        &[
                            &s.day.to_string(),
                            &i32::try_from(s.last).unwrap_or(i32::MAX),
                        ],
                    )
                    .await?;
                }
                ExportRecord::Application(a) => {
                    let id = id_column(a.id);
                    tx.execute(
                        "INSERT INTO applications (id, customer_id, idempotency_key, state, record) \
                         VALUES ($1, $2, $3, $4, $5)",
                        &[
                            &id,
                            &a.customer_id.as_str(),
                            &a.idempotency_key,
                            &text("applications", &a.state)?,
                            &json("applications", &a)?,
                        ],
                    )
                    .await?;
                    if rules::holds_providers(&a) {
                        let codes: Vec<&str> =
                            a.changes.iter().map(|c| c.provider.as_str()).collect();
                        tx.execute(
                            "INSERT INTO pending (customer_id, provider, application_id) \
                             SELECT $1, unnest($2::text[]), $3",
                            &[&a.customer_id.as_str(), &codes, &id],
                        )
                        .await?;
                    }
                    for (due, step) in rules::work_of(&a) {
                        tx.execute(
                            "INSERT INTO work (application_id, step, due) VALUES ($1, $2, $3)",
                            &[&id, &(step as i16), &due.unix()],
                        )
                        .await?;
                    }
                }
                ExportRecord::Disclosure(d) => write_disclosure(&tx, &d).await?,
                ExportRecord::Event(e) => super::events::restore_event(&tx, &e).await?,
                ExportRecord::Operator(o) => super::operators::restore_operator(&tx, &o).await?,
                ExportRecord::OperatorAction(a) => {
                    super::operators::restore_action(&tx, &a).await?;
                }
                ExportRecord::Outbox(o) => {
                    tx.execute(
                        "INSERT INTO outbox (application_id, attempts, next_attempt_at, last_error) \
                         VALUES ($1, $2, $3, $4)",
                        &[
                            &id_column(o.application_id),
                            &i32::try_from(o.record.attempts).unwrap_or(i32::MAX),
                            &o.record.next_attempt_at.unix(),
                            &o.record.last_error,
                        ],
                    )
                    .await?;
                }
            }
        }
        if providers {
            tx.execute("UPDATE catalogue SET version = version + 1", &[])
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Empties every table a restore writes.
    pub(super) async fn clear_all(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .batch_execute(&format!(
                "BEGIN; TRUNCATE {TABLES}; UPDATE catalogue SET version = version + 1; COMMIT;"
            ))
            .await?;
        Ok(())
    }

    /// Every application, setting, pending change, key, step and mail.
    pub(super) async fn audit_all(&self) -> Result<Audit, StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let applications: Vec<_> = tx
            .query("SELECT record FROM applications ORDER BY id", &[])
            .await?
            .into_iter()
            .map(|row| record_of(row.get(0)))
            .collect::<Result<_, _>>()?;
        let index = |what: &'static str, sql: &'static str| {
            let tx = &tx;
            async move {
                let rows = tx.query(sql, &[]).await?;
                rows.into_iter()
                    .map(|row| {
                        Ok((
                            from_text(what, row.get(0))?,
                            row.get::<_, String>(1),
                            application_id(what, row.get(2))?,
                        ))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
            }
        };
        let line_applications = index(
            "applications",
            "SELECT customer_id, '', id FROM applications ORDER BY customer_id, id",
        )
        .await?
        .into_iter()
        .map(|(line, _, id)| (line, id))
        .collect();
        let idempotency = index(
            "applications",
            "SELECT customer_id, idempotency_key, id FROM applications \
             ORDER BY customer_id, idempotency_key COLLATE \"C\"",
        )
        .await?;
        let pending = index(
            "pending",
            "SELECT customer_id, provider, application_id FROM pending ORDER BY customer_id, provider",
        )
        .await?
        .into_iter()
        .map(|(line, code, id)| Ok((line, from_text("pending", code)?, id)))
        .collect::<Result<_, StoreError>>()?;
        let settings = tx
            .query(
                "SELECT provider, setting, set_on, method, customer_id FROM settings \
                 ORDER BY customer_id, provider",
                &[],
            )
            .await?
            .iter()
            .map(|row| {
                let (code, setting) = setting_of(row)?;
                Ok((from_text("settings", row.get(4))?, code, setting))
            })
            .collect::<Result<_, StoreError>>()?;
        let work = tx
            .query(
                "SELECT due, application_id, step FROM work ORDER BY due, application_id, step",
                &[],
            )
            .await?
            .iter()
            .map(|row| {
                let step = step_of(row.get(2))?;
                Ok((
                    Timestamp::from_unix(row.get(0)),
                    application_id("work", row.get(1))?,
                    step,
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        tx.commit().await?;
        let outbox = self.outbox_entries().await?;
        Ok(Audit {
            applications,
            line_applications,
            settings,
            pending,
            idempotency,
            work,
            outbox,
        })
    }
}
