//! The one error body every failed `/api` call answers with.

use serde::{Deserialize, Serialize};

use crate::domain::{ApplicantField, FieldErrors};

/// What went wrong, for the client to choose what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request is malformed.
    BadRequest,
    /// Some fields are invalid: see `fields`.
    Validation,
    /// Wrong customer ID or access key.
    BadCredentials,
    /// Too many failed logins: the customer ID is locked for a while.
    Locked,
    /// No session: log in.
    Unauthenticated,
    /// The session has expired: log in again.
    SessionExpired,
    /// Not this line's to see or change.
    Forbidden,
    /// No such thing.
    NotFound,
    /// The change conflicts with one being worked, or the data changed.
    Conflict,
    /// Too many requests: wait and try again.
    TooManyRequests,
    /// The request body is too large.
    PayloadTooLarge,
    /// The server is busy: try again shortly.
    Unavailable,
    /// Something failed on the server; the cause is logged, not sent.
    Internal,
}

/// One field's message, keyed by the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMessage {
    /// The field.
    pub field: ApplicantField,
    /// The message shown under it and in the error summary.
    pub message: String,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What kind of error.
    pub kind: ErrorKind,
    /// A Japanese message for the subscriber.
    pub message: String,
    /// Field messages, in form order, for [`ErrorKind::Validation`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldMessage>,
}

impl ErrorBody {
    /// An error without field messages.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// A validation error carrying each field's message.
    pub fn validation(errors: &FieldErrors) -> Self {
        Self {
            kind: ErrorKind::Validation,
            message: "入力内容に誤りがあります。各項目のメッセージをご確認ください".into(),
            fields: errors
                .iter()
                .map(|(field, e)| FieldMessage {
                    field: *field,
                    message: e.to_string(),
                })
                .collect(),
        }
    }
}
