//! Unicode normalisation, pluggable so the browser can use its own.

/// An NFKC normaliser. The server passes [`nfkc`] (Unicode tables compiled
/// in); the browser passes a call to `String.prototype.normalize("NFKC")`, so
/// the tables are not shipped in the wasm bundle. Values deserialised from
/// JSON are checked as already normalised, with the identity.
pub type Nfkc = fn(&str) -> String;

/// NFKC from the `unicode-normalization` tables.
#[cfg(feature = "unicode")]
pub fn nfkc(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfkc().collect()
}

/// The identity, for values that were normalised before they were stored.
pub(crate) fn already_normalized(s: &str) -> String {
    s.to_owned()
}

/// Maps full-width ASCII (U+FF01–U+FF5E) and the ideographic space to their
/// half-width forms: enough for IDs and keys, without Unicode tables.
pub fn to_half_width_ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_letters_digits_and_space_become_half_width() {
        assert_eq!(to_half_width_ascii("ＣＡＦ０１２　ａ"), "CAF012 a");
    }

    #[test]
    fn other_characters_are_kept() {
        assert_eq!(to_half_width_ascii("髙橋ｱ"), "髙橋ｱ");
    }
}
