//! The JSON shapes of `/api`: requests, responses, the error body and paths.

mod error;
mod types;

pub use error::{ErrorBody, ErrorKind, FieldMessage};
pub use types::*;

/// The API's paths, so that client and server name them once.
pub mod paths {
    /// `POST` logs in, `GET` tells who is logged in, `DELETE` logs out.
    pub const SESSION: &str = "/api/session";
    /// `GET` the top page's data ([`super::LineOverview`]).
    pub const LINE: &str = "/api/line";
    /// `GET` the providers set to 「通知する」 ([`super::NotificationRow`]).
    pub const NOTIFICATIONS: &str = "/api/notifications";
    /// `GET ?page=N` the providers that are 「通知しない」 ([`super::ProviderPage`]).
    pub const PROVIDERS: &str = "/api/providers";
    /// `GET` the current consent document ([`super::Consent`]).
    pub const CONSENT: &str = "/api/consent";
    /// `POST` submits an application; `GET` lists the line's applications.
    pub const APPLICATIONS: &str = "/api/applications";
    /// `GET ?page=N` every time the line's customer ID was given to a
    /// provider, newest first ([`super::DisclosurePage`], S9).
    pub const DISCLOSURES: &str = "/api/disclosures";

    /// `GET` one application's receipt.
    pub fn application(id: &str) -> String {
        format!("{APPLICATIONS}/{id}")
    }
}
