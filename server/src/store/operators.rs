//! The operator console's records (SPEC §5): operator accounts, their
//! sessions, and the log of every operator action (「操作履歴」), with the
//! rules both engines apply to them.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use shared::domain::{ApplicationId, CustomerId, ProviderCode, Timestamp};

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OperatorRole {
    /// Looks applications, lines, the outbox and events up.
    Viewer,
    /// Also unlocks customer IDs, retries deliveries and manages operators.
    Admin,
}

impl OperatorRole {
    /// The role as the console shows it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Viewer => "閲覧者",
            Self::Admin => "管理者",
        }
    }
}

/// An operator account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorRecord {
    /// The login name: 1 to 32 of `a-z 0-9 . _ -`.
    pub name: String,
    /// What the operator may do.
    pub role: OperatorRole,
    /// The password's Argon2id hash (a PHC string); never the password.
    pub password_hash: String,
    /// The password is the one-time one printed at creation: it must be
    /// changed before anything else.
    pub password_temporary: bool,
    /// The TOTP secret (RFC 6238, base32), once enrolled.
    pub totp_secret: Option<String>,
    /// The last TOTP time step accepted: a code is accepted once.
    pub totp_last_step: Option<u64>,
    /// A disabled operator cannot log in, and their sessions end.
    pub disabled: bool,
    /// Failed logins in a row.
    pub failures: u32,
    /// Locked until then after too many failed logins.
    pub locked_until: Option<Timestamp>,
    /// When the account was made.
    pub created_at: Timestamp,
    /// Moves on at every write: an update names the revision it read, and
    /// loses to any write made since (`Engine::update_operator`).
    pub revision: u64,
}

impl OperatorRecord {
    /// Whether the account is locked at `now`.
    pub fn is_locked(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }
}

/// Failed logins in a row after which an operator account is locked.
pub const OPERATOR_MAX_FAILURES: u32 = 5;
/// How long an operator account stays locked.
pub const OPERATOR_LOCK_SECS: i64 = 15 * 60;

/// The account after one more failed login at `now`: the count goes on
/// (from 0 again once a lock ran out) and reaching the limit locks it.
pub fn after_operator_failure(record: &OperatorRecord, now: Timestamp) -> OperatorRecord {
    let mut next = record.clone();
    let count = if record.locked_until.is_some_and(|until| now >= until) {
        1
    } else {
        record.failures + 1
    };
    if count >= OPERATOR_MAX_FAILURES {
        next.failures = 0;
        next.locked_until = Some(now.plus_secs(OPERATOR_LOCK_SECS));
    } else {
        next.failures = count;
    }
    next
}

/// An operator's logged-in session in the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorSession {
    /// The operator.
    pub operator: String,
    /// The token every form of this session carries (CSRF).
    pub csrf: String,
    /// When the session began.
    pub created_at: Timestamp,
    /// The last request (for the idle limit).
    pub last_seen: Timestamp,
    /// A TOTP secret offered at enrolment, not yet confirmed by a code.
    pub enrolling: Option<String>,
}

/// Whether a session has run out at `now`: idle for `idle_secs`, or
/// older than `total_secs`.
pub fn operator_session_expired(
    session: &OperatorSession,
    now: Timestamp,
    idle_secs: i64,
    total_secs: i64,
) -> bool {
    now.unix() - session.last_seen.unix() >= idle_secs
        || now.unix() - session.created_at.unix() >= total_secs
}

/// What an operator did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ActionKind {
    /// An account was made (`kaisen operator add`, or by an admin).
    OperatorAdded {
        /// The new account.
        name: String,
        /// Its role.
        role: OperatorRole,
    },
    /// An account was disabled.
    OperatorDisabled {
        /// The account.
        name: String,
    },
    /// Logged in.
    LoggedIn,
    /// A login was refused (wrong password or code, locked, disabled).
    LoginRefused,
    /// Logged out.
    LoggedOut,
    /// Changed the password.
    PasswordChanged,
    /// Enrolled a TOTP authenticator.
    TotpEnrolled,
    /// Looked an application up and saw it.
    ApplicationViewed {
        /// The application.
        application_id: ApplicationId,
    },
    /// Looked an application up and found none.
    ApplicationNotFound {
        /// What was asked for, as typed.
        query: String,
    },
    /// Looked a line up and saw it.
    LineViewed,
    /// Looked a line up and found none.
    LineNotFound,
    /// Looked at the mails waiting.
    OutboxViewed,
    /// Looked at the provider events waiting.
    EventsViewed,
    /// Unlocked a customer ID.
    LineUnlocked {
        /// Why.
        reason: String,
    },
    /// Asked for a completion mail to be tried again now.
    MailRetried {
        /// The mail's application.
        application_id: ApplicationId,
        /// Why.
        reason: String,
    },
    /// Asked for a provider event to be tried again now.
    EventRetried {
        /// The event's provider.
        provider: ProviderCode,
        /// Its sequence.
        sequence: u64,
        /// Why.
        reason: String,
    },
}

impl ActionKind {
    /// The action as 「操作履歴」 lists it.
    pub fn label(&self) -> &'static str {
        match self {
            Self::OperatorAdded { .. } => "オペレーター追加",
            Self::OperatorDisabled { .. } => "オペレーター無効化",
            Self::LoggedIn => "ログイン",
            Self::LoginRefused => "ログイン失敗",
            Self::LoggedOut => "ログアウト",
            Self::PasswordChanged => "パスワード変更",
            Self::TotpEnrolled => "確認コードの登録",
            Self::ApplicationViewed { .. } => "申込照会",
            Self::ApplicationNotFound { .. } => "申込照会（該当なし）",
            Self::LineViewed => "回線照会",
            Self::LineNotFound => "回線照会（該当なし）",
            Self::OutboxViewed => "メール送信待ちの表示",
            Self::EventsViewed => "通知イベントの表示",
            Self::LineUnlocked { .. } => "ロック解除",
            Self::MailRetried { .. } => "メールの再送",
            Self::EventRetried { .. } => "通知イベントの再送",
        }
    }
}

/// An action to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAction {
    /// When.
    pub at: Timestamp,
    /// Who: the operator's name, or `(cli)` for the command line.
    pub operator: String,
    /// Whose line it concerned, if one.
    pub customer_id: Option<CustomerId>,
    /// The client's address, for actions through the console.
    pub address: Option<IpAddr>,
    /// What.
    #[serde(flatten)]
    pub kind: ActionKind,
}

/// A recorded action: kept for good, never changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorAction {
    /// Its place in the log, from 1, in the order recorded.
    pub id: u64,
    /// The action.
    #[serde(flatten)]
    pub action: NewAction,
}

/// Which actions to list: newest first, before `before` (an ID), at most
/// `limit`, only those of `operator` and of `customer_id` when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionFilter {
    /// Only this operator's.
    pub operator: Option<String>,
    /// Only those concerning this line.
    pub customer_id: Option<CustomerId>,
    /// Only those older than this ID.
    pub before: Option<u64>,
    /// At most this many.
    pub limit: usize,
}

impl ActionFilter {
    /// Whether `action` passes the operator and line filters.
    pub fn matches(&self, action: &OperatorAction) -> bool {
        self.operator
            .as_ref()
            .is_none_or(|name| *name == action.action.operator)
            && self
                .customer_id
                .as_ref()
                .is_none_or(|id| action.action.customer_id.as_ref() == Some(id))
            && self.before.is_none_or(|before| action.id < before)
    }
}

/// Whether `name` is a valid operator name: 1 to 32 of `a-z 0-9 . _ -`,
/// starting with a letter or digit.
pub fn valid_operator_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
}
