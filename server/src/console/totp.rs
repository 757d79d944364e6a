//! TOTP (RFC 6238) for operator logins: SHA-1, 6 digits, 30-second steps,
//! one step of clock skew either way (what every authenticator app does),
//! and each step accepted once. Enrolment shows the secret as a QR code
//! (an `otpauth://` URI, drawn as SVG) and as text.

use maud::{Markup, html};
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// The issuer authenticator apps show beside the account.
const ISSUER: &str = "kaisen";

/// A new random secret (160 bits, RFC 4226's recommendation), base32.
pub fn new_secret() -> String {
    Secret::from(rand::random::<[u8; 20]>().to_vec()).to_base32()
}

fn totp(secret: &str, operator: &str) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret).ok()?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_account_name(operator)
        .with_issuer(Some(ISSUER))
        .build()
        .ok()
}

/// The time step `code` is valid for at `unix` (±1 step), if it is valid
/// and later than `last_step` (a code is accepted once).
pub fn check(
    secret: &str,
    operator: &str,
    code: &str,
    unix: i64,
    last_step: Option<u64>,
) -> Option<u64> {
    let code: String = shared::domain::to_half_width_ascii(code)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = totp(secret, operator)?.check(&code, u64::try_from(unix).ok()?)?;
    last_step.is_none_or(|last| step > last).then_some(step)
}

/// The code for `secret` at `unix`, as an authenticator app shows it (for
/// the tests).
pub fn code_at(secret: &str, operator: &str, unix: i64) -> Option<String> {
    Some(
        totp(secret, operator)?
            .generate(u64::try_from(unix).ok()?)
            .to_string(),
    )
}

/// The secret grouped by four characters, easier to type from the screen.
pub fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The enrolment QR code of `secret` as an SVG image, one square per dark
/// module, with a quiet zone of four modules.
pub fn qr_code(secret: &str, operator: &str) -> Option<Markup> {
    let uri = totp(secret, operator)?.to_url().ok()?;
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let mut path = String::new();
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            path.push_str(&format!("M{} {}h1v1h-1z", i % width + 4, i / width + 4));
        }
    }
    let size = width + 8;
    Some(html! {
        svg xmlns="http://www.w3.org/2000/svg" class="qr" role="img"
            aria-label="確認コード登録用のQRコード"
            viewBox={ "0 0 " (size) " " (size) } width="240" height="240"
            shape-rendering="crispEdges" {
            rect width=(size) height=(size) fill="#fff" {}
            path d=(path) fill="#000" {}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_valid_for_its_step_and_the_neighbouring_ones_once() {
        let secret = new_secret();
        let now = 1_796_000_000;
        let code = code_at(&secret, "sato", now).unwrap();
        let step = check(&secret, "sato", &code, now, None).unwrap();
        assert_eq!(step, 1_796_000_000 / 30);
        assert_eq!(check(&secret, "sato", &code, now + 30, None), Some(step));
        assert_eq!(check(&secret, "sato", &code, now + 90, None), None);
        assert_eq!(
            check(&secret, "sato", &code, now, Some(step)),
            None,
            "replayed"
        );
        let wide: String = code
            .chars()
            .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
            .collect();
        assert_eq!(
            check(&secret, "sato", &wide, now, None),
            Some(step),
            "full-width digits"
        );
        assert_eq!(check(&secret, "sato", "12345", now, None), None);
    }

    #[test]
    fn the_qr_code_is_an_svg_of_the_otpauth_uri() {
        let secret = new_secret();
        let svg = qr_code(&secret, "sato").unwrap().into_string();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("確認コード登録用のQRコード"));
        assert_eq!(grouped("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }
}
