//! お申し込みID: 16 digits, `YYYYMMDD` + a 7-digit daily sequence + a check
//! digit, so that an ID read out over the telephone can be verified.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Date, FieldError, to_half_width_ascii};

/// An application's ID. The last digit is a Damm check digit, which catches
/// every single wrong digit and every swap of two neighbouring digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApplicationId(u64);

/// The Damm algorithm's quasigroup of order 10.
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

fn damm(digits: impl IntoIterator<Item = u8>) -> u8 {
    digits
        .into_iter()
        .fold(0, |interim, d| DAMM[usize::from(interim)][usize::from(d)])
}

impl ApplicationId {
    /// The most applications one day can number.
    pub const MAX_SEQUENCE: u32 = 9_999_999;

    /// The ID of the `sequence`th application received on `date` (JST).
    /// `sequence` must be at most [`Self::MAX_SEQUENCE`].
    pub fn new(date: Date, sequence: u32) -> Self {
        let yyyymmdd =
            u64::from(date.year()) * 10_000 + u64::from(date.month()) * 100 + u64::from(date.day());
        // The body is 15 digits: YYYYMMDD (8) + sequence (7).
        let body = yyyymmdd * 10_000_000 + u64::from(sequence.min(Self::MAX_SEQUENCE));
        let check = damm(format!("{body:015}").bytes().map(|b| b - b'0'));
        Self(body * 10 + u64::from(check))
    }

    /// Parses an ID as typed or read out: full-width digits, spaces and
    /// hyphens are accepted; the check digit must match.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let digits: String = to_half_width_ascii(raw)
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        if digits.len() != 16 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::ApplicationIdFormat);
        }
        if damm(digits.bytes().map(|b| b - b'0')) != 0 {
            return Err(FieldError::ApplicationIdCheckDigit);
        }
        digits
            .parse()
            .map(Self)
            .map_err(|_| FieldError::ApplicationIdFormat)
    }

    /// The valid IDs that differ from `raw` (16 digits, as [`Self::parse`]
    /// reads them) in exactly one digit: what an ID read out with one
    /// mis-heard digit may have been. The Damm check makes exactly one
    /// digit right at each position, so there are at most 16, in order;
    /// none when `raw` is itself valid or not 16 digits.
    pub fn one_digit_away(raw: &str) -> Vec<Self> {
        if !matches!(Self::parse(raw), Err(FieldError::ApplicationIdCheckDigit)) {
            return Vec::new();
        }
        let digits: Vec<u8> = to_half_width_ascii(raw)
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        let mut near: Vec<Self> = (0..digits.len())
            .flat_map(|pos| {
                let digits = &digits;
                (0..10u8).filter_map(move |d| {
                    let mut candidate = digits.clone();
                    candidate[pos] = d;
                    (d != digits[pos] && damm(candidate.iter().copied()) == 0)
                        .then(|| Self(candidate.iter().fold(0, |n, &d| n * 10 + u64::from(d))))
                })
            })
            .collect();
        near.sort();
        near
    }

    /// The ID as a number, for big-endian storage keys (which keep order).
    pub fn to_u64(self) -> u64 {
        self.0
    }

    /// Rebuilds an ID from [`Self::to_u64`], checking it again.
    pub fn from_u64(value: u64) -> Result<Self, FieldError> {
        Self::parse(&format!("{value:016}"))
    }
}

impl fmt::Display for ApplicationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016}", self.0)
    }
}

impl TryFrom<String> for ApplicationId {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ApplicationId> for String {
    fn from(id: ApplicationId) -> Self {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date() -> Date {
        Date::parse("2026-11-25").unwrap()
    }

    #[test]
    fn id_is_date_sequence_and_check_digit() {
        let id = ApplicationId::new(date(), 42).to_string();
        assert_eq!(id.len(), 16);
        assert_eq!(&id[..15], "202611250000042");
        assert_eq!(
            ApplicationId::parse(&id),
            Ok(ApplicationId::new(date(), 42))
        );
    }

    #[test]
    fn every_single_wrong_digit_is_caught() {
        let id = ApplicationId::new(date(), 1234567).to_string();
        for pos in 0..16 {
            for d in b'0'..=b'9' {
                let mut bytes = id.clone().into_bytes();
                if bytes[pos] == d {
                    continue;
                }
                bytes[pos] = d;
                let typo = String::from_utf8(bytes).unwrap();
                assert_eq!(
                    ApplicationId::parse(&typo),
                    Err(FieldError::ApplicationIdCheckDigit),
                    "{typo}"
                );
            }
        }
    }

    #[test]
    fn an_id_with_one_wrong_digit_is_one_digit_away_from_the_right_one() {
        let id = ApplicationId::new(date(), 1234567);
        let text = id.to_string();
        for pos in [0, 7, 9, 15] {
            let mut bytes = text.clone().into_bytes();
            bytes[pos] = if bytes[pos] == b'9' {
                b'0'
            } else {
                bytes[pos] + 1
            };
            let typo = String::from_utf8(bytes).unwrap();
            let near = ApplicationId::one_digit_away(&typo);
            assert!(near.contains(&id), "{typo}: {near:?}");
            assert!(near.len() <= 16, "{near:?}");
            for candidate in &near {
                let differing = candidate
                    .to_string()
                    .bytes()
                    .zip(typo.bytes())
                    .filter(|(a, b)| a != b)
                    .count();
                assert_eq!(differing, 1, "{candidate} vs {typo}");
            }
        }
        // Read out with full-width digits and hyphens, too.
        let typo =
            format!("２０２６-{}", &text[4..15]) + if text.ends_with('9') { "0" } else { "9" };
        assert!(ApplicationId::one_digit_away(&typo).contains(&id), "{typo}");
        assert!(
            ApplicationId::one_digit_away(&text).is_empty(),
            "a valid ID"
        );
        assert!(ApplicationId::one_digit_away("12345").is_empty());
    }

    #[test]
    fn every_swap_of_neighbouring_digits_is_caught() {
        let id = ApplicationId::new(date(), 9081726).to_string();
        for pos in 0..15 {
            let mut bytes = id.clone().into_bytes();
            if bytes[pos] == bytes[pos + 1] {
                continue;
            }
            bytes.swap(pos, pos + 1);
            let typo = String::from_utf8(bytes).unwrap();
            assert!(ApplicationId::parse(&typo).is_err(), "{typo}");
        }
    }

    #[test]
    fn spaces_hyphens_and_full_width_digits_are_accepted() {
        let id = ApplicationId::new(date(), 7);
        let s = id.to_string();
        let spaced = format!("{}-{} {}", &s[..4], &s[4..8], &s[8..]);
        assert_eq!(ApplicationId::parse(&spaced), Ok(id));
        let wide: String = s
            .chars()
            .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
            .collect();
        assert_eq!(ApplicationId::parse(&wide), Ok(id));
    }

    #[test]
    fn wrong_length_or_letters_are_a_format_error() {
        for bad in ["", "123", "20261125000004X1", "20261125000000421"] {
            assert_eq!(
                ApplicationId::parse(bad),
                Err(FieldError::ApplicationIdFormat),
                "{bad}"
            );
        }
    }

    #[test]
    fn ids_order_by_date_then_sequence() {
        let a = ApplicationId::new(date(), 9);
        let b = ApplicationId::new(date(), 10);
        let c = ApplicationId::new(Date::parse("2026-11-26").unwrap(), 1);
        assert!(a.to_u64() < b.to_u64() && b.to_u64() < c.to_u64());
        assert_eq!(ApplicationId::from_u64(b.to_u64()), Ok(b));
    }
}
