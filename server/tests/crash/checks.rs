//! The promises, checked on the database itself (opened through the
//! library, `Store::audit`) and on the mail folder:
//!
//! 1. every acknowledged receipt exists and is whole;
//! 2. no idempotency key has two applications;
//! 3. no application is half applied: its pending markers, queued steps,
//!    outbox entry and the line's settings all agree with its state;
//! 4. every due change is applied exactly once: each (line, provider)'s
//!    applications alternate in setting, starting from the imported one,
//!    and the stored setting is the last completed one's;
//! 5. each completed application that wished mail has its `<id>.eml`
//!    (once its delivery is recorded, or always at the end), none other has
//!    one, and at the end the outbox is empty.
//!
//! [`check`] holds after any crash; with `finished` it also demands that all
//! work is done and every mail delivered.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kaisen::store::{ApplicationRecord, Audit, SettingRecord, WorkStep};
use shared::api::{ChangeRow, Receipt};
use shared::domain::{ApplicationId, ApplicationState, Setting, SettingMethod};

use super::mail;

/// What the checks found.
#[derive(Debug, Default)]
pub struct Findings {
    /// Broken promises: the test fails on any.
    pub problems: Vec<String>,
    /// `<id>.eml` files.
    pub mails: usize,
    /// `.eml` files of applications whose completion the database does not
    /// hold (yet): a mail delivered from an outbox entry that a crash then
    /// lost; it is delivered again, over the same file, once the work is
    /// redone. Not a broken promise; counted.
    pub mails_ahead: usize,
    /// `.eml.partial` files (a delivery cut off by a kill).
    pub partials: usize,
    /// Start steps left queued for completed applications (see [`check`]):
    /// dropped by the worker's next pass.
    pub stale_start_steps: usize,
    /// Queued steps whose due time had passed (work the worker had not
    /// finished when the server died).
    pub overdue_steps: usize,
}

/// Checks the database (`audit`) and the mail folder against the imported
/// settings and every acknowledged receipt. `now_unix` is when the server
/// died (for [`Findings::overdue_steps`]).
pub fn check(
    audit: &Audit,
    initial: &BTreeMap<(String, String), SettingRecord>,
    acked: &BTreeMap<(String, String), Receipt>,
    mail_dir: &Path,
    finished: bool,
    now_unix: i64,
) -> Findings {
    let mut findings = Findings::default();
    let problems = &mut findings.problems;
    let by_id: BTreeMap<ApplicationId, &ApplicationRecord> =
        audit.applications.iter().map(|a| (a.id, a)).collect();

    // 1. Every acknowledged receipt exists and is whole.
    for ((line, key), receipt) in acked {
        let Some(app) = by_id.get(&receipt.id) else {
            problems.push(format!(
                "acknowledged application {} ({line}, key {key}) is missing",
                receipt.id
            ));
            continue;
        };
        let whole = app.customer_id.as_str() == line
            && app.idempotency_key == *key
            && app
                .changes
                .iter()
                .cloned()
                .map(ChangeRow::from)
                .eq(receipt.changes.iter().cloned())
            && app.applicant == receipt.applicant
            && app.received_at == receipt.received_at
            && app.expected_done_at == receipt.expected_done_at;
        if !whole {
            problems.push(format!(
                "acknowledged application {} is not as acknowledged: stored {app:?}, receipt {receipt:?}",
                receipt.id
            ));
        }
    }

    // 2. No idempotency key has two applications; the key index and the
    //    line index agree with the applications.
    let mut by_key: BTreeMap<(&str, &str), Vec<ApplicationId>> = BTreeMap::new();
    for app in &audit.applications {
        by_key
            .entry((app.customer_id.as_str(), app.idempotency_key.as_str()))
            .or_default()
            .push(app.id);
    }
    for ((line, key), ids) in &by_key {
        if ids.len() > 1 {
            problems.push(format!(
                "{line} key {key} has {} applications: {ids:?}",
                ids.len()
            ));
        }
    }
    let key_index: BTreeSet<(&str, &str, ApplicationId)> = audit
        .idempotency
        .iter()
        .map(|(line, key, id)| (line.as_str(), key.as_str(), *id))
        .collect();
    let expected_keys: BTreeSet<(&str, &str, ApplicationId)> = audit
        .applications
        .iter()
        .map(|a| (a.customer_id.as_str(), a.idempotency_key.as_str(), a.id))
        .collect();
    if key_index != expected_keys || key_index.len() != audit.idempotency.len() {
        problems.push(format!(
            "the idempotency index disagrees with the applications: extra {:?}, missing {:?}",
            key_index.difference(&expected_keys).collect::<Vec<_>>(),
            expected_keys.difference(&key_index).collect::<Vec<_>>()
        ));
    }
    let line_index: BTreeSet<(&str, ApplicationId)> = audit
        .line_applications
        .iter()
        .map(|(line, id)| (line.as_str(), *id))
        .collect();
    let expected_lines: BTreeSet<(&str, ApplicationId)> = audit
        .applications
        .iter()
        .map(|a| (a.customer_id.as_str(), a.id))
        .collect();
    if line_index != expected_lines {
        problems.push(format!(
            "the line index disagrees with the applications: extra {:?}, missing {:?}",
            line_index.difference(&expected_lines).collect::<Vec<_>>(),
            expected_lines.difference(&line_index).collect::<Vec<_>>()
        ));
    }

    // 3. No application half applied: each state has exactly its queued
    //    steps, pending markers and outbox entry.
    let queued: BTreeSet<(ApplicationId, u8, i64)> = audit
        .work
        .iter()
        .map(|(due, id, step)| (*id, *step as u8, due.unix()))
        .collect();
    findings.overdue_steps = audit
        .work
        .iter()
        .filter(|(due, _, _)| due.unix() <= now_unix)
        .count();
    let outbox: BTreeSet<ApplicationId> = audit.outbox.iter().map(|(id, _)| *id).collect();
    let mut expected_queue = BTreeSet::new();
    let mut expected_pending = BTreeSet::new();
    let mut expected_outbox = BTreeSet::new();
    for app in &audit.applications {
        let completed = app.state == ApplicationState::Completed;
        if finished && !completed {
            problems.push(format!("{} is still {:?} at the end", app.id, app.state));
        }
        if completed != app.completed_at.is_some() {
            problems.push(format!(
                "{} is {:?} with completed_at {:?}",
                app.id, app.state, app.completed_at
            ));
        }
        let start = (app.id, WorkStep::Start as u8, app.received_at.unix());
        let complete = (
            app.id,
            WorkStep::Complete as u8,
            app.expected_done_at.unix(),
        );
        match app.state {
            ApplicationState::Received => {
                expected_queue.insert(start);
                expected_queue.insert(complete);
            }
            ApplicationState::InProgress => {
                expected_queue.insert(complete);
            }
            ApplicationState::Completed => {}
        }
        if !completed {
            for change in &app.changes {
                expected_pending.insert((
                    app.customer_id.as_str().to_owned(),
                    change.provider.as_str().to_owned(),
                    app.id,
                ));
            }
        }
        if completed && app.applicant.wants_mail && app.mail_sent_at.is_none() {
            expected_outbox.insert(app.id);
        }
        if app.mail_sent_at.is_some() && !(completed && app.applicant.wants_mail) {
            problems.push(format!(
                "{} records a mail sent but is {:?}, wants_mail {}",
                app.id, app.state, app.applicant.wants_mail
            ));
        }
    }
    // The worker walks the queue in due order while submissions add to it,
    // and sled's range iterator is no snapshot: a submission committed
    // mid-walk can put its start step behind the walk and its complete
    // step ahead, so the application is completed straight from 受付済 and
    // its start step is left queued. The next walk drops that step without
    // a change (its `apply_step` finds the state past 受付済), so it is no
    // half-applied application: counted, not a problem (and at the end the
    // queue must be empty).
    let completed_ids: BTreeSet<ApplicationId> = audit
        .applications
        .iter()
        .filter(|a| a.state == ApplicationState::Completed)
        .map(|a| a.id)
        .collect();
    let stale: Vec<(ApplicationId, u8, i64)> = queued
        .iter()
        .filter(|(id, step, _)| *step == WorkStep::Start as u8 && completed_ids.contains(id))
        .copied()
        .collect();
    findings.stale_start_steps = stale.len();
    let queued: BTreeSet<_> = queued.into_iter().filter(|q| !stale.contains(q)).collect();
    if queued != expected_queue {
        problems.push(format!(
            "the work queue disagrees with the states: extra {:?}, missing {:?}",
            queued.difference(&expected_queue).collect::<Vec<_>>(),
            expected_queue.difference(&queued).collect::<Vec<_>>()
        ));
    }
    let pending: BTreeSet<(String, String, ApplicationId)> = audit
        .pending
        .iter()
        .map(|(line, code, id)| (line.as_str().to_owned(), code.as_str().to_owned(), *id))
        .collect();
    if pending != expected_pending {
        problems.push(format!(
            "pending markers disagree with the states: extra {:?}, missing {:?}",
            pending.difference(&expected_pending).collect::<Vec<_>>(),
            expected_pending.difference(&pending).collect::<Vec<_>>()
        ));
    }
    if outbox != expected_outbox {
        problems.push(format!(
            "the outbox disagrees with the states: extra {:?}, missing {:?}",
            outbox.difference(&expected_outbox).collect::<Vec<_>>(),
            expected_outbox.difference(&outbox).collect::<Vec<_>>()
        ));
    }

    // 3 and 4. Per (line, provider): the applications, in ID order (the
    //    order they were received, and so completed: a provider has one
    //    change pending at a time), alternate from the imported setting;
    //    all but the last are completed, each before the next was received;
    //    the stored setting is the last completed one's.
    let mut history: BTreeMap<(String, String), Vec<(&ApplicationRecord, Setting)>> =
        BTreeMap::new();
    for app in &audit.applications {
        for change in &app.changes {
            history
                .entry((
                    app.customer_id.as_str().to_owned(),
                    change.provider.as_str().to_owned(),
                ))
                .or_default()
                .push((app, change.setting));
        }
    }
    let stored: BTreeMap<(String, String), &SettingRecord> = audit
        .settings
        .iter()
        .map(|(line, code, record)| ((line.as_str().to_owned(), code.as_str().to_owned()), record))
        .collect();
    let pairs: BTreeSet<&(String, String)> = history
        .keys()
        .chain(initial.keys())
        .chain(stored.keys())
        .collect();
    for pair in pairs {
        let apps = history.get(pair).map(Vec::as_slice).unwrap_or_default();
        let mut current = initial
            .get(pair)
            .map_or(Setting::DoNotNotify, |r| r.setting);
        let mut last_completed: Option<(&ApplicationRecord, Setting)> = None;
        for (n, &(app, setting)) in apps.iter().enumerate() {
            if setting == current {
                problems.push(format!(
                    "{pair:?}: {} changes to {setting:?}, which it already was: a change applied twice or lost",
                    app.id
                ));
            }
            current = setting;
            let is_last = n + 1 == apps.len();
            if app.state == ApplicationState::Completed {
                last_completed = Some((app, setting));
            } else if !is_last {
                problems.push(format!(
                    "{pair:?}: {} is {:?} but a later application changed the same provider",
                    app.id, app.state
                ));
            }
            if let (Some(done), Some(&(next, _))) = (app.completed_at, apps.get(n + 1))
                && next.received_at < done
            {
                problems.push(format!(
                    "{pair:?}: {} was received before {} was completed",
                    next.id, app.id
                ));
            }
        }
        let expected = match last_completed {
            Some((app, setting)) => app.completed_at.map(|at| SettingRecord {
                setting,
                set_on: at.jst_date(),
                method: SettingMethod::web(),
            }),
            None => initial.get(pair).cloned(),
        };
        if stored.get(pair).copied() != expected.as_ref() {
            problems.push(format!(
                "{pair:?}: stored setting {:?}, expected {expected:?} (after {:?})",
                stored.get(pair),
                last_completed.map(|(app, _)| app.id)
            ));
        }
    }

    // 5. Mail.
    let folder = mail::scan(mail_dir);
    findings.mails = folder.mails.len();
    findings.partials = folder.partials.len();
    problems.extend(
        folder
            .strays
            .iter()
            .map(|f| format!("a stray file in the mail folder: {f}")),
    );
    for id in &folder.partials {
        if finished && !folder.mails.contains(id) {
            problems.push(format!("{id}.eml.partial left without its {id}.eml"));
        }
    }
    for id in &folder.mails {
        match by_id.get(id) {
            None => problems.push(format!("a mail for {id}, which is not stored")),
            Some(app) if !app.applicant.wants_mail => {
                problems.push(format!("a mail for {id}, which did not wish one"));
            }
            Some(app) if app.state != ApplicationState::Completed => findings.mails_ahead += 1,
            Some(app) => {
                if let Err(e) = mail::check_mail(mail_dir, app) {
                    // Before the end, a mail may still be the one of a
                    // completion a crash lost, awaiting redelivery.
                    if finished || app.mail_sent_at.is_some() {
                        problems.push(format!("{id}.eml: {e}"));
                    } else {
                        findings.mails_ahead += 1;
                    }
                }
            }
        }
    }
    for app in &audit.applications {
        let delivered = app.mail_sent_at.is_some() || finished;
        if app.applicant.wants_mail && delivered && !folder.mails.contains(&app.id) {
            problems.push(format!(
                "{} wished a mail and has no {}.eml",
                app.id, app.id
            ));
        }
    }
    if finished && !audit.work.is_empty() {
        problems.push(format!(
            "{} steps are still queued at the end",
            audit.work.len()
        ));
    }
    if finished && !audit.outbox.is_empty() {
        problems.push(format!(
            "{} mails are still in the outbox",
            audit.outbox.len()
        ));
    }
    findings
}
