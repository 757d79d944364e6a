//! RFC 3339 times, as the import file (`prefixes`) and the provider API
//! (`at`, event timestamps) write them; kaisen keeps whole seconds.

use shared::domain::Timestamp;
use time::format_description::well_known::Rfc3339;

/// Japan's offset, +09:00.
const JST: time::UtcOffset = match time::UtcOffset::from_hms(9, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("+09:00 is an offset"),
};

/// Parses an RFC 3339 time with its offset, to the second (a fraction is
/// dropped).
pub fn parse(value: &str) -> Option<Timestamp> {
    time::OffsetDateTime::parse(value, &Rfc3339)
        .ok()
        .map(|t| Timestamp::from_unix(t.unix_timestamp()))
}

/// `at` as RFC 3339 in Japan, e.g. `2026-11-01T00:00:00+09:00`.
pub fn jst(at: Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp(at.unix())
        .ok()
        .and_then(|t| t.to_offset(JST).format(&Rfc3339).ok())
        .unwrap_or_else(|| at.unix().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_in_japan_reads_back_as_the_same_instant() {
        let at = parse("2026-11-01T00:00:00+09:00").expect("a time");
        assert_eq!(at.unix(), 1_793_458_800);
        assert_eq!(parse("2026-10-31T15:00:00.5Z"), Some(at));
        assert_eq!(jst(at), "2026-11-01T00:00:00+09:00");
        assert_eq!(parse("2026-11-01 00:00"), None);
    }
}
