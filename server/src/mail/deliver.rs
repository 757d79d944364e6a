//! Delivering a mail: as an RFC 5322 `.eml` file in a folder (the default),
//! or through an SMTP relay.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use lettre::{Message, SmtpTransport, Transport};
use shared::domain::ApplicationId;

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
    /// SMTP when a relay URL is given (`smtp://host:port`: a plain relay on
    /// the operator's network), else files.
    pub fn new(mail_dir: PathBuf, smtp_url: Option<&str>) -> Result<Self, String> {
        match smtp_url {
            Some(url) => {
                let bad = || format!("--smtp-url {url}: expected smtp://host:port");
                let relay = url
                    .strip_prefix("smtp://")
                    .ok_or_else(bad)?
                    .trim_end_matches('/');
                let (host, port) = relay.rsplit_once(':').ok_or_else(bad)?;
                let port = port.parse().map_err(|_| bad())?;
                let transport = SmtpTransport::builder_dangerous(host)
                    .port(port)
                    .timeout(Some(std::time::Duration::from_secs(10)))
                    .build();
                Ok(Self::Smtp(Arc::new(transport)))
            }
            None => {
                fs::create_dir_all(&mail_dir)
                    .map_err(|e| format!("{}: {e}", mail_dir.display()))?;
                Ok(Self::Folder(mail_dir))
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
                fs::rename(&partial, &path).map_err(|e| e.to_string())
            }
            Self::Smtp(transport) => transport
                .send(message)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }
}
