//! Domain newtypes: each can only hold a valid value.

mod applicant;
mod application_id;
mod customer_id;
mod error;
mod line;
mod normalize;
mod time;

pub use applicant::{
    Applicant, ApplicantField, ApplicantForm, Email, FieldErrors, MOBILE_CARRIER_DOMAINS,
    PersonName, Phone, Rules,
};
pub use application_id::ApplicationId;
pub use customer_id::{AccessKey, CustomerId};
pub use error::FieldError;
pub use line::{ApplicationState, ProviderCode, ServiceStatus, Setting, SettingMethod};
#[cfg(feature = "unicode")]
pub use normalize::nfkc;
pub use normalize::{Nfkc, to_half_width_ascii};
pub use time::{Date, Timestamp};
