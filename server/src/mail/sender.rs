//! The sender of the completion mails (`--mail-from`): read strictly, since
//! lettre's own parser ignores whatever follows the first mailbox, and an
//! example default for mails that stay in files.

use lettre::Address;
use lettre::message::Mailbox;

/// The sender of `.eml` files when no `--mail-from` is given: `.example` is
/// reserved (RFC 2606), so it can never be delivered by mistake.
pub const EXAMPLE_SENDER: &str = "回線情報通知 受付センター <noreply@kaisen.example>";

/// What `--mail-from` looks like.
const EXPECTED: &str = "expected noreply@example.jp or a display name and the address: 回線情報通知 受付センター <noreply@example.jp>";

/// Reads `--mail-from`: `user@domain`, or `Display Name <user@domain>` (the
/// name may be quoted, and is sent encoded as RFC 2047 asks).
pub fn parse_sender(text: &str) -> Result<Mailbox, String> {
    let text = text.trim();
    let (name, address) = match text.split_once('<') {
        Some((name, rest)) => {
            let address = rest
                .strip_suffix('>')
                .ok_or_else(|| format!("nothing may follow the closing > ({EXPECTED})"))?;
            let name = name.trim();
            let name = name
                .strip_prefix('"')
                .and_then(|n| n.strip_suffix('"'))
                .unwrap_or(name)
                .trim();
            (Some(name).filter(|n| !n.is_empty()), address.trim())
        }
        None => (None, text),
    };
    if let Some(name) = name
        && let Some(c) = name
            .chars()
            .find(|c| c.is_control() || matches!(c, '"' | '<' | '>' | '\\'))
    {
        return Err(format!("the display name may not hold {c:?} ({EXPECTED})"));
    }
    if address.is_empty() {
        return Err(format!("no address ({EXPECTED})"));
    }
    let address: Address = address
        .parse()
        .map_err(|e| format!("{address} is not a mail address: {e} ({EXPECTED})"))?;
    Ok(Mailbox::new(name.map(str::to_owned), address))
}

#[cfg(test)]
mod tests {
    use super::{EXAMPLE_SENDER, parse_sender};

    #[test]
    fn an_address_alone_or_with_a_display_name_quoted_or_not_is_a_sender() {
        for (text, name, address) in [
            ("noreply@example.jp", None, "noreply@example.jp"),
            (" noreply@example.jp ", None, "noreply@example.jp"),
            (
                "回線情報通知 受付センター <noreply@example.jp>",
                Some("回線情報通知 受付センター"),
                "noreply@example.jp",
            ),
            (
                "\"Kaisen, Support\" <support@mail.example.jp>",
                Some("Kaisen, Support"),
                "support@mail.example.jp",
            ),
            ("<noreply@example.jp>", None, "noreply@example.jp"),
            (
                EXAMPLE_SENDER,
                Some("回線情報通知 受付センター"),
                "noreply@kaisen.example",
            ),
        ] {
            let sender = parse_sender(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(sender.name.as_deref(), name, "{text}");
            assert_eq!(sender.email.to_string(), address, "{text}");
        }
    }

    #[test]
    fn anything_else_is_refused_saying_what_is_expected() {
        for (text, says) in [
            ("", "no address"),
            ("noreply", "not a mail address"),
            ("noreply@", "not a mail address"),
            ("@example.jp", "not a mail address"),
            ("受付 <noreply@example.jp", "closing >"),
            ("受付 <noreply@example.jp> extra", "closing >"),
            ("a@example.jp, b@example.jp", "not a mail address"),
            ("a@example.jp b@example.jp", "not a mail address"),
            (
                "受付\r\nBcc: x@example.jp <noreply@example.jp>",
                "display name",
            ),
        ] {
            let error = parse_sender(text).expect_err(text);
            assert!(error.contains(says), "{text}: {error}");
            assert!(error.contains("noreply@example.jp"), "{text}: {error}");
        }
    }
}
