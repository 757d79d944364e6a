//! Operator accounts: made with a one-time password (by `kaisen operator
//! add` or an admin in the console), disabled, and their password rules.

use shared::domain::Timestamp;

use crate::store::operators::{
    ActionKind, NewAction, OperatorRecord, OperatorRole, valid_operator_name,
};
use crate::store::{Store, StoreError};

/// The shortest password an operator may choose.
pub const MIN_PASSWORD: usize = 12;
/// The longest (Argon2 takes any length; a form's limit keeps it sane).
pub const MAX_PASSWORD: usize = 128;

/// The one-time password's alphabet: no 0/O, 1/l/I, easy to read out.
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";

/// Why an account was not made or changed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The name breaks the rule.
    #[error(
        "「{0}」はオペレーター名に使えません。半角英小文字・数字・「.」「_」「-」の32文字以内で、英数字から始めてください"
    )]
    BadName(String),
    /// The name is taken.
    #[error("オペレーター「{0}」はすでに登録されています")]
    Taken(String),
    /// No such account.
    #[error("オペレーター「{0}」は登録されていません")]
    Unknown(String),
    /// The storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error("hashing: {0}")]
    Hashing(String),
}

/// A new one-time password: 16 characters, about 92 bits.
pub fn one_time_password() -> String {
    (0..16)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect()
}

/// Why a new password is refused, if it is.
pub fn password_problem(password: &str, confirmation: &str, name: &str) -> Option<String> {
    let length = password.chars().count();
    if length < MIN_PASSWORD {
        Some(format!(
            "新しいパスワードは{MIN_PASSWORD}文字以上で入力してください"
        ))
    } else if length > MAX_PASSWORD {
        Some(format!(
            "新しいパスワードは{MAX_PASSWORD}文字以内で入力してください"
        ))
    } else if password.to_lowercase().contains(name) {
        Some("新しいパスワードにオペレーター名を含めないでください".to_owned())
    } else if password != confirmation {
        Some("新しいパスワード（確認）に同じパスワードを入力してください".to_owned())
    } else {
        None
    }
}

/// Makes an account with a one-time password, logs it as done by `by`,
/// and returns the password, to be shown once.
pub async fn add(
    store: &Store,
    name: &str,
    role: OperatorRole,
    by: &str,
    at: Timestamp,
) -> Result<String, AccountError> {
    if !valid_operator_name(name) {
        return Err(AccountError::BadName(name.to_owned()));
    }
    let password = one_time_password();
    let secret = password.clone();
    let password_hash = tokio::task::spawn_blocking(move || {
        crate::password::Hasher::new().hash_secret(secret.as_bytes())
    })
    .await
    .map_err(|e| AccountError::Hashing(e.to_string()))?
    .map_err(|e| AccountError::Hashing(e.to_string()))?;
    let record = OperatorRecord {
        name: name.to_owned(),
        role,
        password_hash,
        password_temporary: true,
        totp_secret: None,
        totp_last_step: None,
        disabled: false,
        failures: 0,
        locked_until: None,
        created_at: at,
        revision: 0,
    };
    if !store.add_operator(&record).await? {
        return Err(AccountError::Taken(name.to_owned()));
    }
    store
        .record_action(&NewAction {
            at,
            operator: by.to_owned(),
            customer_id: None,
            address: None,
            kind: ActionKind::OperatorAdded {
                name: name.to_owned(),
                role,
            },
        })
        .await?;
    Ok(password)
}

/// Disables an account (its sessions end at their next request) and logs
/// it as done by `by`.
pub async fn disable(
    store: &Store,
    name: &str,
    by: &str,
    at: Timestamp,
) -> Result<(), AccountError> {
    store
        .modify_operator(name, |record| {
            Some(OperatorRecord {
                disabled: true,
                ..record.clone()
            })
        })
        .await?
        .ok_or_else(|| AccountError::Unknown(name.to_owned()))?;
    store
        .record_action(&NewAction {
            at,
            operator: by.to_owned(),
            customer_id: None,
            address: None,
            kind: ActionKind::OperatorDisabled {
                name: name.to_owned(),
            },
        })
        .await?;
    Ok(())
}
