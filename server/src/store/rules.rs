//! The rules of SPEC §4 that storage enforces, decided here once for every
//! engine. An engine reads the facts inside its transaction, asks these
//! functions what follows, and writes what they answer; so sled and
//! PostgreSQL cannot drift apart.

use shared::domain::{
    ApplicationId, ApplicationState, ProviderCode, Setting, SettingMethod, Timestamp,
};

use super::{
    ApplicationRecord, ChangeRecord, ConsentRecord, DisclosureRecord, EventKind, EventRecord,
    LoginFailures, NewApplication, ProviderRecord, SessionRecord, SettingRecord, SubmitError,
    WorkStep,
};

/// What an engine knows, inside its transaction, of one provider named by
/// an application.
#[derive(Debug, Clone)]
pub struct ProviderFacts {
    /// The provider, if it exists.
    pub provider: Option<ProviderRecord>,
    /// Whether a change for it is being worked for this line.
    pub pending: bool,
    /// The line's current setting for it (none recorded: 「通知しない」).
    pub current: Setting,
}

/// An application that passed every check, waiting for its ID.
#[derive(Debug, Clone)]
pub struct Accepted {
    changes: Vec<ChangeRecord>,
    consent: ConsentRecord,
}

/// Checks an application against the consent in force and, for each of
/// its providers (in `new.providers` order, one fact each), that it exists,
/// has no change being worked and does not already have the setting asked
/// for. The first provider at fault is named.
pub fn check_submission(
    new: &NewApplication,
    consent: Option<ConsentRecord>,
    providers: Vec<ProviderFacts>,
) -> Result<Accepted, SubmitError> {
    let Some(consent) = consent.filter(|c| c.hash == new.consent_hash) else {
        return Err(SubmitError::ConsentChanged);
    };
    let mut changes = Vec::with_capacity(new.providers.len());
    for (code, facts) in new.providers.iter().zip(providers) {
        let Some(provider) = facts.provider else {
            return Err(SubmitError::UnknownProvider(code.clone()));
        };
        if facts.pending {
            return Err(SubmitError::ProviderBusy(provider.name));
        }
        if facts.current == new.setting {
            return Err(SubmitError::AlreadySet(provider.name));
        }
        changes.push(ChangeRecord {
            provider: code.clone(),
            service_name: provider.service_name,
            provider_name: provider.name,
            setting: new.setting,
        });
    }
    Ok(Accepted { changes, consent })
}

impl Accepted {
    /// The application, given the `sequence` number drawn for its day
    /// (from 1); a sequence beyond the day's last is [`SubmitError::DayFull`].
    pub fn into_record(
        self,
        new: &NewApplication,
        sequence: u32,
    ) -> Result<ApplicationRecord, SubmitError> {
        if sequence == 0 || sequence > ApplicationId::MAX_SEQUENCE {
            return Err(SubmitError::DayFull);
        }
        Ok(ApplicationRecord {
            id: ApplicationId::new(new.received_at.jst_date(), sequence),
            customer_id: new.customer_id.clone(),
            received_at: new.received_at,
            expected_done_at: new.received_at.plus_secs(new.work_delay_secs),
            completed_at: None,
            state: ApplicationState::Received,
            changes: self.changes,
            applicant: new.applicant.clone(),
            consent_version: self.consent.version,
            consent_hash: self.consent.hash,
            idempotency_key: new.idempotency_key.clone(),
            mail_sent_at: None,
        })
    }
}

/// The steps of work queued for an application in its state, with when
/// each is due: what a submission queues, and what a restore queues again.
pub fn work_of(record: &ApplicationRecord) -> Vec<(Timestamp, WorkStep)> {
    match record.state {
        ApplicationState::Received => vec![
            (record.received_at, WorkStep::Start),
            (record.expected_done_at, WorkStep::Complete),
        ],
        ApplicationState::InProgress => vec![(record.expected_done_at, WorkStep::Complete)],
        ApplicationState::Completed => Vec::new(),
    }
}

/// Whether an application holds its providers (one change at a time per
/// provider): until its work is completed.
pub fn holds_providers(record: &ApplicationRecord) -> bool {
    record.state != ApplicationState::Completed
}

/// What a step of work does to an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stepped {
    /// The application after the step.
    pub record: ApplicationRecord,
    /// The settings that take effect, and release their providers: on
    /// completion only.
    pub settings: Vec<(shared::domain::ProviderCode, SettingRecord)>,
    /// Whether a completion mail is to be queued.
    pub mail: bool,
}

/// Runs `step` on `record` at `now`; `None` when the step has nothing left
/// to do (done already), so running a step twice changes nothing.
pub fn run_step(record: &ApplicationRecord, step: WorkStep, now: Timestamp) -> Option<Stepped> {
    let mut record = record.clone();
    match step {
        WorkStep::Start if record.state == ApplicationState::Received => {
            record.state = ApplicationState::InProgress;
            Some(Stepped {
                record,
                settings: Vec::new(),
                mail: false,
            })
        }
        WorkStep::Complete if record.state != ApplicationState::Completed => {
            let settings = record
                .changes
                .iter()
                .map(|change| {
                    let setting = SettingRecord {
                        setting: change.setting,
                        set_on: now.jst_date(),
                        method: SettingMethod::web(),
                    };
                    (change.provider.clone(), setting)
                })
                .collect();
            record.state = ApplicationState::Completed;
            record.completed_at = Some(now);
            let mail = record.applicant.wants_mail;
            Some(Stepped {
                record,
                settings,
                mail,
            })
        }
        _ => None,
    }
}

/// What an engine knows, in the completion's transaction, of a provider
/// whose setting a completed change moves (SPEC §8, "Events").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFacts {
    /// Whether the provider is registered for the provider API (it has a
    /// webhook and can pull).
    pub registered: bool,
    /// Whether it has ever received this line's customer ID.
    pub received: bool,
}

/// The event a completed change to `setting` sends its provider, if any:
/// `notification.granted` to a registered provider set to 「通知する」;
/// `notification.revoked` to a registered provider set to 「通知しない」
/// that had received the customer ID (the others have nothing to delete).
pub fn event_of(setting: Setting, facts: EventFacts) -> Option<EventKind> {
    match setting {
        _ if !facts.registered => None,
        Setting::Notify => Some(EventKind::Granted),
        Setting::DoNotNotify if facts.received => Some(EventKind::Revoked),
        Setting::DoNotNotify => None,
    }
}

/// A new event for `provider` of the change `record` (completed at
/// `record.completed_at`) made to its line, with its sequence still to be
/// drawn (0), and for `notification.granted` the disclosure it is logged as.
pub fn new_event(
    kind: EventKind,
    provider: &ProviderCode,
    record: &ApplicationRecord,
    now: Timestamp,
) -> (EventRecord, Option<DisclosureRecord>) {
    let at = record.completed_at.unwrap_or(now);
    let disclosure = (kind == EventKind::Granted).then(|| DisclosureRecord {
        id: uuid::Uuid::now_v7().to_string(),
        at,
        customer_id: record.customer_id.clone(),
        provider: provider.clone(),
        reason: shared::api::DisclosureReason::Granted,
        lookup: None,
        application_id: Some(record.id),
    });
    let event = EventRecord {
        id: uuid::Uuid::now_v7().to_string(),
        provider: provider.clone(),
        sequence: 0,
        kind,
        at,
        customer_id: record.customer_id.clone(),
        application_id: record.id,
        disclosure_id: disclosure.as_ref().map(|d| d.id.clone()),
    };
    (event, disclosure)
}

/// Until when a customer ID is locked at `now`, if it is.
pub fn locked_until(failures: Option<&LoginFailures>, now: Timestamp) -> Option<Timestamp> {
    failures
        .and_then(|r| r.locked_until)
        .filter(|until| *until > now)
}

/// The counter after one more failed login at `now`: the `max`th failure
/// in a row locks the ID for `lock_secs` and starts the count again; a
/// lock that has run out starts a fresh count.
pub fn after_login_failure(
    previous: Option<&LoginFailures>,
    now: Timestamp,
    max: u32,
    lock_secs: i64,
) -> LoginFailures {
    let count = previous
        .filter(|p| p.locked_until.is_none_or(|u| u <= now))
        .map_or(0, |p| p.count)
        + 1;
    let locked_until = (count >= max).then(|| now.plus_secs(lock_secs));
    LoginFailures {
        count: if locked_until.is_some() { 0 } else { count },
        last_at: now,
        locked_until,
    }
}

/// Whether a failure counter can no longer matter at `now`: its lock has
/// run out, or, unlocked, its last failure is older than `older_than`.
pub fn login_failures_stale(r: &LoginFailures, now: Timestamp, older_than: i64) -> bool {
    match r.locked_until {
        Some(until) => until <= now,
        None => now.unix() - r.last_at.unix() > older_than,
    }
}

/// The limits of a session (SPEC §4): idle and in all, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Seconds without a request.
    pub idle_secs: i64,
    /// Seconds since login.
    pub total_secs: i64,
}

/// Whether a session has run out at `now`.
pub fn session_expired(record: &SessionRecord, now: Timestamp, limits: SessionLimits) -> bool {
    now.unix() - record.last_seen.unix() > limits.idle_secs
        || now.unix() - record.created_at.unix() > limits.total_secs
}

/// The limit on failed logins per client address: at most `max` within
/// `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressLimit {
    /// Failures allowed within the window.
    pub max: usize,
    /// The window, in seconds.
    pub window_secs: i64,
}

/// How many seconds an address must wait at `now`, given its most recent
/// failures (newest first, at least the `max` latest if it has that many):
/// once it has `max` within the window, until the oldest of them leaves it.
pub fn address_wait(recent: &[Timestamp], now: Timestamp, limit: AddressLimit) -> Option<u64> {
    let in_window: Vec<_> = recent
        .iter()
        .filter(|at| now.unix() - at.unix() < limit.window_secs)
        .take(limit.max)
        .collect();
    if limit.max == 0 || in_window.len() < limit.max {
        return None;
    }
    let oldest = in_window.last()?;
    u64::try_from(oldest.unix() + limit.window_secs - now.unix()).ok()
}

/// Page `page` (from 1) of `total` items, `per_page` a page: the page
/// actually shown (a page past the last gives the last) and the number of
/// pages (at least 1).
pub fn page_of(total: usize, page: u32, per_page: usize) -> (usize, usize) {
    let pages = total.div_ceil(per_page.max(1)).max(1);
    let page = (page.max(1) as usize).min(pages);
    (page, pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix(secs)
    }

    #[test]
    fn the_tenth_failure_in_a_row_locks_and_a_lock_that_ran_out_counts_afresh() {
        let mut r = None;
        for i in 0..9 {
            r = Some(after_login_failure(r.as_ref(), at(i), 10, 900));
        }
        assert_eq!(r.as_ref().map(|r| r.count), Some(9));
        let locked = after_login_failure(r.as_ref(), at(9), 10, 900);
        assert_eq!(locked.locked_until, Some(at(909)));
        assert_eq!(locked_until(Some(&locked), at(908)), Some(at(909)));
        assert_eq!(locked_until(Some(&locked), at(909)), None);
        let afresh = after_login_failure(Some(&locked), at(910), 10, 900);
        assert_eq!((afresh.count, afresh.locked_until), (1, None));
    }

    #[test]
    fn an_address_waits_once_it_has_max_failures_in_the_window_until_the_oldest_leaves() {
        let limit = AddressLimit {
            max: 3,
            window_secs: 600,
        };
        let recent = [at(300), at(200), at(100)];
        assert_eq!(address_wait(&recent[..2], at(301), limit), None);
        assert_eq!(address_wait(&recent, at(301), limit), Some(399));
        assert_eq!(address_wait(&recent, at(700), limit), None);
    }

    #[test]
    fn a_page_past_the_last_gives_the_last_and_an_empty_list_has_one_page() {
        assert_eq!(page_of(45, 9, 20), (3, 3));
        assert_eq!(page_of(0, 1, 20), (1, 1));
        assert_eq!(page_of(40, 0, 20), (1, 2));
    }
}
