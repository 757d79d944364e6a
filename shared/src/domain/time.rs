//! Dates and instants, shown in Japan Standard Time (UTC+9, no DST), without
//! a calendar crate: the arithmetic is small and the wasm stays lean.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::FieldError;

const JST_OFFSET_SECS: i64 = 9 * 3600;

/// A calendar date. Serialised as `YYYY-MM-DD`; shown as `YYYY/MM/DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// Parses `YYYY-MM-DD`, checking that the day exists.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let b = s.as_bytes();
        let shaped = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shaped {
            return Err(FieldError::DateFormat);
        }
        let num =
            |r: std::ops::Range<usize>| s[r].parse::<u16>().map_err(|_| FieldError::DateFormat);
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let month = u8::try_from(month).map_err(|_| FieldError::DateFormat)?;
        let day = u8::try_from(day).map_err(|_| FieldError::DateFormat)?;
        if year < 1970 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month)
        {
            return Err(FieldError::DateFormat);
        }
        Ok(Self { year, month, day })
    }

    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, from 1.
    pub fn day(self) -> u8 {
        self.day
    }

    /// `YYYY/MM/DD`, as the screens show dates.
    pub fn display_jp(self) -> String {
        format!("{:04}/{:02}/{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl TryFrom<String> for Date {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Date> for String {
    fn from(date: Date) -> Self {
        date.to_string()
    }
}

/// An instant, as whole seconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `secs` seconds after the epoch.
    pub fn from_unix(secs: i64) -> Self {
        Self(secs)
    }

    /// Seconds since the epoch.
    pub fn unix(self) -> i64 {
        self.0
    }

    /// The instant `secs` seconds later.
    pub fn plus_secs(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// The date in Japan.
    pub fn jst_date(self) -> Date {
        let days = (self.0 + JST_OFFSET_SECS).div_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Date { year, month, day }
    }

    /// `YYYY/MM/DD HH:MM:SS` in Japan, as the receipt shows it.
    pub fn display_jst(self) -> String {
        let local = self.0 + JST_OFFSET_SECS;
        let secs = local.rem_euclid(86_400);
        format!(
            "{} {:02}:{:02}:{:02}",
            self.jst_date().display_jp(),
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        )
    }
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (y, m, d).
fn civil_from_days(days: i64) -> (u16, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        u16::try_from(year).unwrap_or(u16::MAX),
        u8::try_from(month).unwrap_or(1),
        u8::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_time_is_shown_in_jst() {
        // 2026-11-25T12:05:17Z is 21:05:17 in Tokyo.
        assert_eq!(
            Timestamp::from_unix(1_795_608_317).display_jst(),
            "2026/11/25 21:05:17"
        );
    }

    #[test]
    fn jst_date_rolls_over_at_15_utc() {
        assert_eq!(
            Timestamp::from_unix(1_795_618_799).jst_date().to_string(),
            "2026-11-25"
        );
        assert_eq!(
            Timestamp::from_unix(1_795_618_800).jst_date().to_string(),
            "2026-11-26"
        );
    }

    #[test]
    fn leap_day_exists_only_in_leap_years() {
        assert!(Date::parse("2024-02-29").is_ok());
        assert_eq!(Date::parse("2025-02-29"), Err(FieldError::DateFormat));
        assert_eq!(
            Date::parse("2000-02-29").map(Date::display_jp),
            Ok("2000/02/29".into())
        );
    }

    #[test]
    fn malformed_dates_are_refused() {
        for bad in [
            "",
            "2025/04/01",
            "2025-4-1",
            "2025-13-01",
            "2025-00-10",
            "2025-04-31",
            "abcd-ef-gh",
        ] {
            assert_eq!(Date::parse(bad), Err(FieldError::DateFormat), "{bad}");
        }
    }
}
