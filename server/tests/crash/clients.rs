//! The subscribers: one cookie-keeping HTTP client per line, driven by
//! concurrent tasks that flip providers between 「通知する」 and 「通知しない」
//! as fast as the server answers, and the ledger of what the server
//! acknowledged.
//!
//! Each line belongs to one task, so a line's own submissions never race
//! by accident; races are made on purpose (two drafts for one provider sent
//! at once), as are double clicks (one draft sent twice at once) and
//! reloads (one draft sent again after its answer). A submission cut off by
//! a kill is sent again, with the same key, after the restart.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::api::{NotificationRow, ProviderPage, Receipt};
use shared::domain::Setting;

use super::fixture::{access_key, customer_id};

/// How often a login refused as busy (503) is tried.
const LOGIN_ATTEMPTS: usize = 1000;

/// One application as the client sends it at 「変更」.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The random 128-bit idempotency key, as 32 hex digits.
    pub key: String,
    /// The setting asked for.
    pub setting: Setting,
    /// The providers to change.
    pub providers: Vec<String>,
    /// The applicant form as typed (the server normalises it).
    pub applicant: Value,
    /// 工事完了通知メール 「希望する」.
    pub wants_mail: bool,
}

impl Draft {
    /// The request body.
    fn body(&self, consent_hash: &str) -> Value {
        json!({
            "idempotency_key": self.key,
            "consent_hash": consent_hash,
            "setting": self.setting,
            "providers": self.providers,
            "applicant": self.applicant,
        })
    }
}

/// What came of one submission.
#[derive(Debug)]
pub enum Outcome {
    /// 201 (new) or 200 (replayed key) with a receipt: acknowledged.
    Receipt(StatusCode, Box<Receipt>),
    /// 409: a provider is busy or already set. Expected now and then.
    Conflict,
    /// No answer: the server was killed while the request was in flight.
    CutOff,
    /// Anything else: a bug.
    Unexpected(String),
}

/// What made a submission: the counts printed at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One draft sent once.
    Single,
    /// The same draft sent twice at once.
    DoubleClick,
    /// The same draft sent again after its answer.
    Reload,
    /// One of two drafts for the same provider sent at once.
    Race,
    /// A draft cut off by a kill, sent again after the restart.
    Resend,
}

/// Counts of what the clients saw.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    /// Submissions sent (each request, replays included).
    pub requests: u64,
    /// 201 answers: new applications acknowledged.
    pub created: u64,
    /// 200 answers: replayed keys, the same receipt again.
    pub replays: u64,
    /// 409 answers.
    pub conflicts: u64,
    /// Requests cut off by a kill.
    pub cut_off: u64,
    /// Drafts sent twice at once.
    pub double_clicks: u64,
    /// Drafts sent again after their answer.
    pub reloads: u64,
    /// Pairs of racing drafts.
    pub races: u64,
    /// Drafts sent again after a restart.
    pub resends: u64,
    /// Logins after the first (a session lost in a crash).
    pub relogins: u64,
    /// Any other answer.
    pub other_errors: u64,
}

/// Everything the server acknowledged, by (customer ID, key), and every
/// inconsistency seen in its answers.
#[derive(Debug, Default)]
pub struct Ledger {
    /// The first receipt of each acknowledged key.
    pub acked: BTreeMap<(String, String), Receipt>,
    /// The keys answered 201 (a new application): never twice.
    created_keys: BTreeSet<(String, String)>,
    /// The counts.
    pub counts: Counts,
    /// Answers that break a promise (a key with two IDs, a receipt that does
    /// not match its draft, two receipts in one race, a 5xx, …).
    pub violations: Vec<String>,
}

impl Ledger {
    /// Records one answer to `draft` from `customer_id`'s line.
    fn record(&mut self, customer_id: &str, draft: &Draft, kind: Kind, outcome: &Outcome) {
        self.counts.requests += 1;
        match kind {
            Kind::Resend => self.counts.resends += 1,
            Kind::Single | Kind::DoubleClick | Kind::Reload | Kind::Race => {}
        }
        match outcome {
            Outcome::Receipt(status, receipt) => {
                if *status == StatusCode::CREATED {
                    self.counts.created += 1;
                } else {
                    self.counts.replays += 1;
                }
                self.check_receipt(customer_id, draft, *status, receipt);
            }
            Outcome::Conflict => {
                self.counts.conflicts += 1;
                // A key already answered with a receipt must get that
                // receipt again, never a refusal.
                let key = (customer_id.to_owned(), draft.key.clone());
                if let Some(receipt) = self.acked.get(&key) {
                    self.violations.push(format!(
                        "{customer_id} key {}: refused with 409 though it was acknowledged as {}",
                        draft.key, receipt.id
                    ));
                }
            }
            Outcome::CutOff => self.counts.cut_off += 1,
            Outcome::Unexpected(what) => {
                self.counts.other_errors += 1;
                self.violations
                    .push(format!("{customer_id} key {}: {what}", draft.key));
            }
        }
    }

    /// Checks a receipt against its draft and against earlier receipts of
    /// the same key, and keeps the first.
    fn check_receipt(
        &mut self,
        customer_id: &str,
        draft: &Draft,
        status: StatusCode,
        receipt: &Receipt,
    ) {
        let asked: Vec<(String, Setting)> = draft
            .providers
            .iter()
            .map(|p| (p.clone(), draft.setting))
            .collect();
        let answered: Vec<(String, Setting)> = receipt
            .changes
            .iter()
            .map(|c| (c.provider.as_str().to_owned(), c.setting))
            .collect();
        if asked != answered || receipt.applicant.wants_mail != draft.wants_mail {
            self.violations.push(format!(
                "{customer_id} key {}: receipt {} does not match its draft: asked {asked:?}, got {answered:?}",
                draft.key, receipt.id
            ));
        }
        let key = (customer_id.to_owned(), draft.key.clone());
        if status == StatusCode::CREATED && !self.created_keys.insert(key.clone()) {
            self.violations.push(format!(
                "{customer_id} key {}: a second 201 (a new application) for a used key",
                draft.key
            ));
        }
        match self.acked.get(&key) {
            // The first answer may be a replay's (200): the original's
            // answer was cut off or is still on its way.
            None => {
                self.acked.insert(key, receipt.clone());
            }
            Some(first) => {
                let same = first.id == receipt.id
                    && first.received_at == receipt.received_at
                    && first.changes == receipt.changes
                    && first.applicant == receipt.applicant;
                if !same {
                    self.violations.push(format!(
                        "{customer_id} key {}: two different receipts, {} and {}",
                        draft.key, first.id, receipt.id
                    ));
                }
            }
        }
    }
}

/// The ledger, shared by every task.
pub type SharedLedger = Arc<Mutex<Ledger>>;

/// Records `outcome` in the shared ledger.
fn record(ledger: &SharedLedger, customer_id: &str, draft: &Draft, kind: Kind, outcome: &Outcome) {
    ledger
        .lock()
        .expect("the ledger lock is not poisoned")
        .record(customer_id, draft, kind, outcome);
}

/// A line's providers as S2 and S3 show them: the setting and whether a
/// change is being worked.
#[derive(Debug, Default)]
pub struct LineView {
    /// Provider code → (setting, pending).
    pub providers: BTreeMap<String, (Setting, bool)>,
}

impl LineView {
    /// Providers that may be changed to `setting`: not pending, set otherwise.
    fn candidates(&self, setting: Setting) -> Vec<String> {
        self.providers
            .iter()
            .filter(|(_, (current, pending))| *current != setting && !pending)
            .map(|(code, _)| code.clone())
            .collect()
    }
}

/// The request was cut off (the server is gone), or answered 503: the
/// database was out of reach (PostgreSQL killed and starting again), so
/// nothing was acknowledged.
#[derive(Debug)]
pub struct CutOff;

/// A response's status and body; a 503 counts as no answer.
async fn answered(response: reqwest::Response) -> Result<(StatusCode, String), CutOff> {
    let status = response.status();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        return Err(CutOff);
    }
    Ok((status, response.text().await.map_err(|_| CutOff)?))
}

/// One line's client: a cookie store (its session), and its drafts that
/// were cut off by a kill.
pub struct LineClient {
    /// The line's customer ID.
    pub customer_id: String,
    /// Its number in the fixture.
    pub number: usize,
    access_key: String,
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT` of the server now running.
    pub base: String,
    /// Drafts sent but never answered: sent again after the restart.
    pub unanswered: Vec<Draft>,
    logged_in: bool,
}

impl LineClient {
    /// A client for fixture line `number`, not logged in yet.
    pub fn new(number: usize) -> Self {
        Self {
            customer_id: customer_id(number),
            number,
            access_key: access_key(number),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .connect_timeout(Duration::from_secs(2))
                .timeout(Duration::from_secs(20))
                .build()
                .expect("a reqwest client"),
            base: String::new(),
            unanswered: Vec::new(),
            logged_in: false,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Logs in (a new session cookie). The server hashes one login per core
    /// at a time and answers 503 to those that waited too long for their
    /// turn: those wait and try again.
    async fn log_in(&self) -> Result<(), CutOff> {
        for _ in 0..LOGIN_ATTEMPTS {
            let response = self
                .http
                .post(self.url("/api/session"))
                .json(&json!({"customer_id": self.customer_id, "access_key": self.access_key}))
                .send()
                .await
                .map_err(|_| CutOff)?;
            let status = response.status();
            let body = response.text().await.map_err(|_| CutOff)?;
            match status {
                StatusCode::OK => return Ok(()),
                StatusCode::SERVICE_UNAVAILABLE => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                _ => panic!("login of {} failed: {status} {body}", self.customer_id),
            }
        }
        panic!(
            "login of {} still refused as busy after {LOGIN_ATTEMPTS} attempts",
            self.customer_id
        );
    }

    /// Logs in unless a session is held. Sessions are not synced to disk,
    /// so a kill may lose one; requests log in again on a 401.
    pub async fn ensure_logged_in(&mut self, ledger: &SharedLedger) -> Result<(), CutOff> {
        if !self.logged_in {
            self.log_in().await?;
            self.logged_in = true;
        } else if self.get_raw("/api/session").await?.0 == StatusCode::UNAUTHORIZED {
            self.relog_in(ledger).await?;
        }
        Ok(())
    }

    async fn relog_in(&self, ledger: &SharedLedger) -> Result<(), CutOff> {
        ledger.lock().expect("not poisoned").counts.relogins += 1;
        self.log_in().await
    }

    async fn get_raw(&self, path: &str) -> Result<(StatusCode, String), CutOff> {
        let response = self
            .http
            .get(self.url(path))
            .send()
            .await
            .map_err(|_| CutOff)?;
        answered(response).await
    }

    /// `GET path` as JSON, logging in again once on a 401.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        ledger: &SharedLedger,
    ) -> Result<T, CutOff> {
        let (mut status, mut body) = self.get_raw(path).await?;
        if status == StatusCode::UNAUTHORIZED {
            self.relog_in(ledger).await?;
            (status, body) = self.get_raw(path).await?;
        }
        assert_eq!(
            status,
            StatusCode::OK,
            "GET {path} for {}: {body}",
            self.customer_id
        );
        Ok(serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {path}: not the expected JSON ({e}): {body}")))
    }

    /// The line's providers: 「通知する」 ones from `/api/notifications`,
    /// the rest from every page of `/api/providers`, with pending flags.
    pub async fn view(&self, ledger: &SharedLedger) -> Result<LineView, CutOff> {
        let mut view = LineView::default();
        let notified: Vec<NotificationRow> = self.get_json("/api/notifications", ledger).await?;
        for row in notified {
            view.providers
                .insert(row.provider.as_str().to_owned(), (row.setting, row.pending));
        }
        let mut page = 1;
        loop {
            let reply: ProviderPage = self
                .get_json(&format!("/api/providers?page={page}"), ledger)
                .await?;
            for row in reply.items {
                view.providers.insert(
                    row.code.as_str().to_owned(),
                    (Setting::DoNotNotify, row.pending),
                );
            }
            if reply.page >= reply.pages {
                break;
            }
            page += 1;
        }
        Ok(view)
    }

    /// `POST /api/applications` with `draft`; logs in again once on a 401.
    pub async fn submit(
        &self,
        draft: &Draft,
        consent_hash: &str,
        ledger: &SharedLedger,
    ) -> Outcome {
        let mut outcome = self.post_draft(draft, consent_hash).await;
        if let Ok((StatusCode::UNAUTHORIZED, _)) = outcome {
            if self.relog_in(ledger).await.is_err() {
                return Outcome::CutOff;
            }
            outcome = self.post_draft(draft, consent_hash).await;
        }
        match outcome {
            Err(CutOff) => Outcome::CutOff,
            Ok((status, body)) if status == StatusCode::CREATED || status == StatusCode::OK => {
                match serde_json::from_str::<Receipt>(&body) {
                    Ok(receipt) => Outcome::Receipt(status, Box::new(receipt)),
                    Err(e) => {
                        Outcome::Unexpected(format!("{status} without a receipt ({e}): {body}"))
                    }
                }
            }
            Ok((StatusCode::CONFLICT, _)) => Outcome::Conflict,
            Ok((status, body)) => Outcome::Unexpected(format!("{status}: {body}")),
        }
    }

    async fn post_draft(
        &self,
        draft: &Draft,
        consent_hash: &str,
    ) -> Result<(StatusCode, String), CutOff> {
        let response = self
            .http
            .post(self.url("/api/applications"))
            .json(&draft.body(consent_hash))
            .send()
            .await
            .map_err(|_| CutOff)?;
        answered(response).await
    }

    /// The line's applications (S8), newest first.
    pub async fn applications(&self, ledger: &SharedLedger) -> Result<Vec<Receipt>, CutOff> {
        self.get_json("/api/applications", ledger).await
    }

    /// Sends `draft`, records the answer, and keeps it for a resend if it
    /// was cut off.
    async fn send(&mut self, draft: Draft, kind: Kind, shared: &Shared) -> Outcome {
        let outcome = self
            .submit(&draft, &shared.consent_hash, &shared.ledger)
            .await;
        record(&shared.ledger, &self.customer_id, &draft, kind, &outcome);
        if matches!(outcome, Outcome::CutOff) {
            self.unanswered.push(draft);
        }
        outcome
    }

    /// Sends two submissions at once and records both answers.
    async fn send_pair(&mut self, a: Draft, b: Draft, kind: Kind, shared: &Shared) -> [Outcome; 2] {
        let (outcome_a, outcome_b) = tokio::join!(
            self.submit(&a, &shared.consent_hash, &shared.ledger),
            self.submit(&b, &shared.consent_hash, &shared.ledger),
        );
        // Receipts first: a refusal of a key the other answer acknowledged
        // is then caught by the ledger.
        let mut answers = [(a, &outcome_a), (b, &outcome_b)];
        answers.sort_by_key(|(_, outcome)| !matches!(outcome, Outcome::Receipt(..)));
        for (draft, outcome) in answers {
            record(&shared.ledger, &self.customer_id, &draft, kind, outcome);
            if matches!(outcome, Outcome::CutOff) {
                self.unanswered.push(draft);
            }
        }
        [outcome_a, outcome_b]
    }
}

/// What every client task shares.
#[derive(Clone)]
pub struct Shared {
    /// The consent hash in force (the fixture's).
    pub consent_hash: String,
    /// The ledger.
    pub ledger: SharedLedger,
    /// Set when the server has been killed: the tasks stop.
    pub stop: Arc<AtomicBool>,
}

/// A random draft for `line` from what `view` shows, or `None` when every
/// provider has a change pending.
fn random_draft(view: &LineView, number: usize, rng: &mut StdRng) -> Option<Draft> {
    let mut setting = if rng.random_bool(0.5) {
        Setting::Notify
    } else {
        Setting::DoNotNotify
    };
    let mut candidates = view.candidates(setting);
    if candidates.is_empty() {
        setting = match setting {
            Setting::Notify => Setting::DoNotNotify,
            Setting::DoNotNotify => Setting::Notify,
        };
        candidates = view.candidates(setting);
    }
    if candidates.is_empty() {
        return None;
    }
    candidates.shuffle(rng);
    candidates.truncate(rng.random_range(1..=3));
    candidates.sort();
    let wants_mail = rng.random_bool(0.5);
    // Half-width kana and full-width digits: the server normalises them,
    // and the receipt and the stored application must agree.
    let name = ["山田 太郎", "髙橋 花子", "ﾔﾏﾀﾞ ﾊﾅｺ", "渡邉 﨑子"][rng.random_range(0..4)];
    let phone = ["03-1234-5678", "０９０１２３４５６７８"][rng.random_range(0..2)];
    let email = if wants_mail || rng.random_bool(0.5) {
        format!("crash{number}@example.jp")
    } else {
        String::new()
    };
    Some(Draft {
        key: format!("{:032x}", rng.random::<u128>()),
        setting,
        providers: candidates,
        applicant: json!({"name": name, "phone": phone, "email": email, "wants_mail": wants_mail}),
        wants_mail,
    })
}

/// A race: two drafts, each with its own key, for the same provider.
fn racing_drafts(view: &LineView, number: usize, rng: &mut StdRng) -> Option<(Draft, Draft)> {
    let first = random_draft(view, number, rng)?;
    let mut second = random_draft(view, number, rng)?;
    second.setting = first.setting;
    second.providers = vec![first.providers[0].clone()];
    Some((first, second))
}

/// One client task for one cycle, its lines logged in: first resends what
/// the last kill cut off, then submits until [`Shared::stop`] is set.
/// Returns its lines.
pub async fn run_task(mut lines: Vec<LineClient>, shared: Shared, seed: u64) -> Vec<LineClient> {
    let mut rng = StdRng::seed_from_u64(seed);
    for line in &mut lines {
        for draft in std::mem::take(&mut line.unanswered) {
            line.send(draft, Kind::Resend, &shared).await;
        }
    }
    while !shared.stop.load(Ordering::SeqCst) {
        let pick = rng.random_range(0..lines.len());
        let line = &mut lines[pick];
        let Ok(view) = line.view(&shared.ledger).await else {
            // The server is gone; the stop flag follows at once.
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let roll = rng.random_range(0..100);
        if roll < 10 {
            let Some((a, b)) = racing_drafts(&view, line.number, &mut rng) else {
                continue;
            };
            shared.ledger.lock().expect("not poisoned").counts.races += 1;
            let outcomes = line.send_pair(a, b, Kind::Race, &shared).await;
            let created = outcomes
                .iter()
                .filter(|o| matches!(o, Outcome::Receipt(StatusCode::CREATED, _)))
                .count();
            if created > 1 {
                shared
                    .ledger
                    .lock()
                    .expect("not poisoned")
                    .violations
                    .push(format!(
                        "{}: two receipts for one provider in a race",
                        line.customer_id
                    ));
            }
            continue;
        }
        let Some(draft) = random_draft(&view, line.number, &mut rng) else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if roll < 25 {
            shared
                .ledger
                .lock()
                .expect("not poisoned")
                .counts
                .double_clicks += 1;
            line.send_pair(draft.clone(), draft, Kind::DoubleClick, &shared)
                .await;
        } else if roll < 35 {
            let first = line.send(draft.clone(), Kind::Single, &shared).await;
            if matches!(first, Outcome::Receipt(..)) {
                shared.ledger.lock().expect("not poisoned").counts.reloads += 1;
                line.send(draft, Kind::Reload, &shared).await;
            }
        } else {
            line.send(draft, Kind::Single, &shared).await;
        }
    }
    lines
}

/// The fixture's lines, dealt round-robin to `tasks` tasks.
pub fn deal_lines(lines: usize, tasks: usize) -> Vec<Vec<LineClient>> {
    let mut dealt: Vec<Vec<LineClient>> = (0..tasks).map(|_| Vec::new()).collect();
    for n in 0..lines {
        dealt[n % tasks].push(LineClient::new(n));
    }
    dealt
}
