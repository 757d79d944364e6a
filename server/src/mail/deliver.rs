//! Delivering a mail: as an RFC 5322 `.eml` file in a folder (the default),
//! or through an SMTP relay (plain, STARTTLS or implicit TLS, with a login).

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use lettre::{Message, SmtpTransport, Transport};
use shared::domain::ApplicationId;

use super::relay::Relay;
use crate::config::{Password, ServeConfig};

/// Where mail goes. Cloning is cheap.
#[derive(Clone)]
pub enum Mailer {
    /// Files `<application id>.eml` in a folder: a redelivery after a crash
    /// overwrites the same file, so each application has one mail.
    Folder(PathBuf),
    /// An SMTP relay.
    Smtp(Arc<SmtpTransport>),
}

impl Mailer {
    /// SMTP when `--smtp-url` is given (see [`super::relay`]), else files
    /// in `--mail-dir`.
    pub fn new(config: &ServeConfig) -> Result<Self, String> {
        match &config.smtp_url {
            Some(url) => {
                let relay = Relay::parse(
                    url.as_str(),
                    config.smtp_user.as_deref(),
                    config.smtp_password.as_ref().map(Password::expose),
                )?;
                let transport = relay.transport(config.smtp_ca_file.as_deref())?;
                tracing::info!(?relay, "completion mails go through SMTP");
                Ok(Self::Smtp(Arc::new(transport)))
            }
            None => {
                let dir = &config.mail_dir;
                fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                Ok(Self::Folder(dir.clone()))
            }
        }
    }

    /// Delivers one application's mail (blocking).
    pub fn deliver(&self, id: ApplicationId, message: &Message) -> Result<(), String> {
        match self {
            Self::Folder(dir) => {
                let path = dir.join(format!("{id}.eml"));
                let partial = dir.join(format!("{id}.eml.partial"));
                let mut file = fs::File::create(&partial).map_err(|e| e.to_string())?;
                file.write_all(&message.formatted())
                    .map_err(|e| e.to_string())?;
                file.sync_all().map_err(|e| e.to_string())?;
                fs::rename(&partial, &path).map_err(|e| e.to_string())?;
                // The rename is durable once the folder is synced: only then
                // may the delivery be recorded.
                fs::File::open(dir)
                    .and_then(|folder| folder.sync_all())
                    .map_err(|e| e.to_string())
            }
            Self::Smtp(transport) => transport
                .send(message)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }
}
