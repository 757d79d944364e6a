//! The mail folder: `<id>.eml` files written by the server's file mailer,
//! and `<id>.eml.partial` files a kill cut off mid-write.

use std::collections::BTreeSet;
use std::path::Path;

use kaisen::store::ApplicationRecord;
use shared::domain::ApplicationId;

/// What the mail folder holds.
#[derive(Debug, Default)]
pub struct Folder {
    /// IDs with an `<id>.eml`.
    pub mails: BTreeSet<ApplicationId>,
    /// IDs with an `<id>.eml.partial`.
    pub partials: BTreeSet<ApplicationId>,
    /// Any other file.
    pub strays: Vec<String>,
}

/// Lists the mail folder (empty if it does not exist yet).
pub fn scan(dir: &Path) -> Folder {
    let mut folder = Folder::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return folder;
    };
    for entry in entries {
        let name = entry
            .expect("a folder entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let (stem, set) = if let Some(stem) = name.strip_suffix(".eml.partial") {
            (stem, &mut folder.partials)
        } else if let Some(stem) = name.strip_suffix(".eml") {
            (stem, &mut folder.mails)
        } else {
            folder.strays.push(name);
            continue;
        };
        match ApplicationId::parse(stem) {
            Ok(id) => {
                set.insert(id);
            }
            Err(_) => folder.strays.push(name),
        }
    }
    folder
}

/// Checks that `<id>.eml` is the completion mail of `app` as stored: sent
/// to its address, naming its ID and its (stored) completion time.
pub fn check_mail(dir: &Path, app: &ApplicationRecord) -> Result<(), String> {
    let raw = std::fs::read_to_string(dir.join(format!("{}.eml", app.id)))
        .map_err(|e| format!("unreadable: {e}"))?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or("no blank line between header and body")?;
    let header = |name: &str| {
        head.split("\r\n")
            .find_map(|line| line.strip_prefix(name).and_then(|v| v.strip_prefix(": ")))
            .map(str::trim)
    };
    let email = app.applicant.email.as_ref().ok_or("no address stored")?;
    if header("To") != Some(email.as_str()) {
        return Err(format!("To: is {:?}, not {}", header("To"), email.as_str()));
    }
    let text = match header("Content-Transfer-Encoding") {
        Some("base64") => String::from_utf8(base64_decode(body)?).map_err(|e| e.to_string())?,
        Some("quoted-printable") => {
            String::from_utf8(quoted_printable_decode(body)).map_err(|e| e.to_string())?
        }
        _ => body.to_owned(),
    };
    let completed = app.completed_at.ok_or("not completed")?;
    for expected in [
        format!("お申し込みID：{}", app.id),
        format!("工事完了日時：{}", completed.display_jst()),
    ] {
        if !text.contains(&expected) {
            return Err(format!("the body lacks {expected:?}"));
        }
    }
    Ok(())
}

/// Standard base64 (RFC 4648, `=` padded), whitespace ignored.
fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0_u32, 0_u32);
    for b in text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
    {
        let value = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("not base64: {:?}", b as char)),
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Ok(out)
}

/// Quoted-printable (RFC 2045): `=XX` bytes and `=` soft line breaks.
fn quoted_printable_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if let Some(byte) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}
