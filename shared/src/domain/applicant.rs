//! The applicant's details (申込者情報) and the rules of SPEC §4.
//!
//! Each field is first checked for refused characters on the raw input
//! (NFKC would turn ① into 1 and ～ into ~, hiding them), then NFKC-normalised
//! and trimmed, then checked again and measured.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::normalize::already_normalized;
use super::{FieldError, Nfkc};

/// What the rules need besides the input.
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    /// The NFKC normaliser to use (see [`Nfkc`]).
    pub nfkc: Nfkc,
    /// Mail domains refused beyond [`MOBILE_CARRIER_DOMAINS`], as the
    /// operator configures them.
    pub extra_refused_domains: &'a [String],
}

impl<'a> Rules<'a> {
    /// The rules with the built-in carrier domains only.
    pub fn new(nfkc: Nfkc) -> Self {
        Self {
            nfkc,
            extra_refused_domains: &[],
        }
    }
}

/// Mobile carriers' mail domains: their filters often drop mail from
/// outside senders, so a completion mail would not arrive.
pub const MOBILE_CARRIER_DOMAINS: &[&str] = &[
    "docomo.ne.jp",
    "ezweb.ne.jp",
    "au.com",
    "softbank.ne.jp",
    "i.softbank.jp",
    "disney.ne.jp",
    "ymobile.ne.jp",
    "y-mobile.ne.jp",
    "emobile.ne.jp",
    "pdx.ne.jp",
    "willcom.com",
    "rakuten.jp",
];

/// Characters refused in names wherever they appear: they are mangled by
/// other systems or look like markup.
const REFUSED_CHARS: &[char] = &[
    '～', '∥', '－', '―', '¢', '£', '¬', '|', '&', '<', '>', '"', '\'', '\\',
];

/// Machine-dependent characters (機種依存文字): circled and parenthesised
/// numbers and letters, Roman numerals, ㈱, unit symbols, era ligatures.
fn is_machine_dependent(c: char) -> bool {
    matches!(c,
        '\u{2160}'..='\u{2188}'     // Roman numerals Ⅰ ⅰ
        | '\u{2460}'..='\u{24FF}'   // enclosed alphanumerics ① ⑴ ⒜ Ⓐ
        | '\u{2776}'..='\u{2793}'   // dingbat circled digits ❶
        | '\u{3200}'..='\u{33FF}'   // enclosed CJK ㈱ ㊤, CJK compatibility ㎝ ㍻
        | '\u{1F100}'..='\u{1F1FF}' // enclosed alphanumeric supplement 🄀
        | '\u{2116}' | '\u{2121}' | '\u{2122}' // № ℡ ™
    )
}

/// Invisible formatting characters (Unicode category Cf): zero-width
/// spaces and joiners, bidi overrides and isolates, the BOM, soft hyphen.
/// They make a name look other than it is.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0001}' | '\u{E0020}'..='\u{E007F}'
    )
}

fn check_chars(label: &'static str, s: &str) -> Result<(), FieldError> {
    for ch in s.chars() {
        if ch.is_control() || is_invisible(ch) {
            return Err(FieldError::ControlChar(label));
        }
        if REFUSED_CHARS.contains(&ch) || is_machine_dependent(ch) {
            return Err(FieldError::RefusedChar { label, ch });
        }
    }
    Ok(())
}

/// Raw check, then NFKC and trim, then the check again on what NFKC made
/// (a full-width ｜ becomes |).
fn normalize_checked(label: &'static str, raw: &str, nfkc: Nfkc) -> Result<String, FieldError> {
    check_chars(label, raw)?;
    let value = nfkc(raw).trim().to_owned();
    check_chars(label, &value)?;
    Ok(value)
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;
            /// A stored or sent value must already be normalised and valid.
            fn try_from(value: String) -> Result<Self, Self::Error> {
                let parsed = Self::parse(&value, already_normalized)?;
                if parsed.0 == value {
                    Ok(parsed)
                } else {
                    Err(FieldError::Missing(Self::LABEL))
                }
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> Self {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// お名前: 1 to 30 characters, none refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    /// The field's label.
    pub const LABEL: &'static str = "お名前";
    /// The most characters, counted after normalisation.
    pub const MAX_CHARS: usize = 30;

    /// Parses a typed name.
    pub fn parse(raw: &str, nfkc: Nfkc) -> Result<Self, FieldError> {
        let value = normalize_checked(Self::LABEL, raw, nfkc)?;
        if value.is_empty() {
            return Err(FieldError::Missing(Self::LABEL));
        }
        if value.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::TooLong {
                label: Self::LABEL,
                max: Self::MAX_CHARS,
            });
        }
        Ok(Self(value))
    }
}
string_newtype!(PersonName);

/// ご連絡先電話番号: digits and hyphens, 10 or 11 digits starting with 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// The field's label.
    pub const LABEL: &'static str = "ご連絡先電話番号";

    /// Parses a typed number; full-width digits and hyphen-like dashes
    /// (ー, －, ‐) are accepted as the hyphen a subscriber meant.
    pub fn parse(raw: &str, nfkc: Nfkc) -> Result<Self, FieldError> {
        let dashes_unified: String = raw
            .chars()
            .map(|c| {
                if matches!(c, 'ー' | '－' | '‐' | '−' | '–' | '—' | 'ｰ') {
                    '-'
                } else {
                    c
                }
            })
            .collect();
        let value = nfkc(&dashes_unified).trim().to_owned();
        if value.is_empty() {
            return Err(FieldError::Missing(Self::LABEL));
        }
        if !value.chars().all(|c| c.is_ascii_digit() || c == '-') {
            return Err(FieldError::PhoneCharacters);
        }
        let digits: String = value.chars().filter(char::is_ascii_digit).collect();
        if !(10..=11).contains(&digits.len()) || !digits.starts_with('0') {
            return Err(FieldError::PhoneDigits);
        }
        Ok(Self(value))
    }
}
string_newtype!(Phone);

/// ご連絡先メールアドレス: at most 255 characters, `local@domain`, not a
/// mobile carrier's domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// The field's label.
    pub const LABEL: &'static str = "ご連絡先メールアドレス";
    /// The most characters.
    pub const MAX_CHARS: usize = 255;

    /// Parses a typed address against the built-in carrier domains.
    pub fn parse(raw: &str, nfkc: Nfkc) -> Result<Self, FieldError> {
        Self::parse_with(raw, &Rules::new(nfkc))
    }

    /// Parses a typed address against the given rules.
    pub fn parse_with(raw: &str, rules: &Rules<'_>) -> Result<Self, FieldError> {
        let value = (rules.nfkc)(raw).trim().to_owned();
        if value.is_empty() {
            return Err(FieldError::Missing(Self::LABEL));
        }
        if value.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::TooLong {
                label: Self::LABEL,
                max: Self::MAX_CHARS,
            });
        }
        let (local, domain) = value.rsplit_once('@').ok_or(FieldError::EmailFormat)?;
        if !valid_local(local) || !valid_domain(domain) {
            return Err(FieldError::EmailFormat);
        }
        let domain = domain.to_ascii_lowercase();
        let refused = MOBILE_CARRIER_DOMAINS
            .iter()
            .copied()
            .chain(rules.extra_refused_domains.iter().map(String::as_str))
            .find(|d| domain == *d || domain.ends_with(&format!(".{d}")));
        if let Some(d) = refused {
            return Err(FieldError::CarrierDomain(d.to_owned()));
        }
        Ok(Self(value))
    }
}
string_newtype!(Email);

fn valid_local(local: &str) -> bool {
    const SPECIALS: &str = "!#$%&'*+/=?^_`{|}~.-";
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || SPECIALS.contains(c))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()))
}

/// The applicant's details, all valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applicant {
    /// お名前
    pub name: PersonName,
    /// ご連絡先電話番号
    pub phone: Phone,
    /// ご連絡先メールアドレス; present whenever `wants_mail`.
    pub email: Option<Email>,
    /// 工事完了通知メール: 「希望する」 (true) or 「希望しない」.
    pub wants_mail: bool,
}

/// The fields of the applicant form, in the order the page shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicantField {
    /// お名前
    Name,
    /// ご連絡先電話番号
    Phone,
    /// ご連絡先メールアドレス
    Email,
    /// 工事完了通知メール
    WantsMail,
}

impl ApplicantField {
    /// The key used in `ErrorBody.fields` and as the input's `id`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Phone => "phone",
            Self::Email => "email",
            Self::WantsMail => "wants_mail",
        }
    }
}

/// Every field's error, in form order. Empty means valid.
pub type FieldErrors = Vec<(ApplicantField, FieldError)>;

/// The applicant form as typed: raw strings, nothing checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicantForm {
    /// お名前, raw.
    pub name: String,
    /// ご連絡先電話番号, raw.
    pub phone: String,
    /// ご連絡先メールアドレス, raw.
    pub email: String,
    /// 工事完了通知メール: `None` until one is chosen.
    pub wants_mail: Option<bool>,
}

impl ApplicantForm {
    /// Checks every field and returns the applicant, or every field's error.
    /// The e-mail address is required when a completion mail is wished and
    /// checked whenever it is given.
    pub fn validate(&self, rules: &Rules<'_>) -> Result<Applicant, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = PersonName::parse(&self.name, rules.nfkc)
            .map_err(|e| errors.push((ApplicantField::Name, e)))
            .ok();
        let phone = Phone::parse(&self.phone, rules.nfkc)
            .map_err(|e| errors.push((ApplicantField::Phone, e)))
            .ok();
        let email_given = !(rules.nfkc)(&self.email).trim().is_empty();
        let email = if email_given || self.wants_mail == Some(true) {
            Email::parse_with(&self.email, rules)
                .map(Some)
                .map_err(|e| errors.push((ApplicantField::Email, e)))
                .ok()
        } else {
            Some(None)
        };
        if self.wants_mail.is_none() {
            errors.push((ApplicantField::WantsMail, FieldError::MailWishMissing));
        }
        match (name, phone, email, self.wants_mail) {
            (Some(name), Some(phone), Some(email), Some(wants_mail)) if errors.is_empty() => {
                Ok(Applicant {
                    name,
                    phone,
                    email,
                    wants_mail,
                })
            }
            _ => Err(errors),
        }
    }
}

impl From<&Applicant> for ApplicantForm {
    fn from(a: &Applicant) -> Self {
        Self {
            name: a.name.to_string(),
            phone: a.phone.to_string(),
            email: a.email.as_ref().map(Email::to_string).unwrap_or_default(),
            wants_mail: Some(a.wants_mail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nfkc(s: &str) -> String {
        use unicode_normalization::UnicodeNormalization;
        s.nfkc().collect()
    }

    fn name(s: &str) -> Result<String, FieldError> {
        PersonName::parse(s, nfkc).map(|n| n.to_string())
    }

    fn phone(s: &str) -> Result<String, FieldError> {
        Phone::parse(s, nfkc).map(|n| n.to_string())
    }

    fn email(s: &str) -> Result<String, FieldError> {
        Email::parse(s, nfkc).map(|n| n.to_string())
    }

    fn refused(ch: char) -> FieldError {
        FieldError::RefusedChar {
            label: "お名前",
            ch,
        }
    }

    #[test]
    fn plain_name_is_trimmed() {
        assert_eq!(name("  山田 太郎　"), Ok("山田 太郎".into()));
    }

    #[test]
    fn empty_name_asks_for_a_name() {
        assert_eq!(name(" 　"), Err(FieldError::Missing("お名前")));
        assert_eq!(
            FieldError::Missing("お名前").to_string(),
            "お名前を入力してください"
        );
    }

    #[test]
    fn name_of_thirty_characters_is_accepted_and_thirty_one_refused() {
        assert!(name(&"あ".repeat(30)).is_ok());
        assert_eq!(
            name(&"あ".repeat(31)),
            Err(FieldError::TooLong {
                label: "お名前",
                max: 30
            })
        );
    }

    #[test]
    fn name_length_is_counted_after_half_width_kana_become_full_width() {
        // ｶﾞ is two half-width characters but one full-width ガ.
        assert_eq!(name("ﾔﾏﾀﾞ ﾀﾛｳ"), Ok("ヤマダ タロウ".into()));
        assert!(name(&"ｶﾞ".repeat(30)).is_ok());
    }

    #[test]
    fn full_width_letters_become_half_width() {
        assert_eq!(name("ＹＡＭＡＤＡ　Ｔａｒｏ"), Ok("YAMADA Taro".into()));
    }

    #[test]
    fn name_with_circled_digit_is_refused_naming_it() {
        assert_eq!(name("山田①"), Err(refused('①')));
        assert!(refused('①').to_string().contains("「①」"));
    }

    #[test]
    fn every_listed_refused_character_is_refused_in_a_name() {
        for ch in [
            '～', '∥', '－', '―', '¢', '£', '¬', '|', '&', '<', '>', '"', '\'',
        ] {
            assert_eq!(name(&format!("山田{ch}太郎")), Err(refused(ch)), "{ch}");
        }
    }

    #[test]
    fn machine_dependent_characters_are_refused_before_nfkc_hides_them() {
        for ch in ['①', '⑴', '⒜', 'Ⅳ', 'ⅳ', '㈱', '㎝', '㍻', '❶', '№', '℡'] {
            assert_eq!(name(&format!("株式会社{ch}")), Err(refused(ch)), "{ch}");
        }
    }

    #[test]
    fn full_width_pipe_is_refused_as_the_pipe_nfkc_makes_of_it() {
        assert_eq!(name("山田｜太郎"), Err(refused('|')));
    }

    #[test]
    fn invisible_and_bidi_characters_are_refused() {
        for s in [
            "山田\u{202E}郎太",
            "\u{2066}山田\u{2069}",
            "山田\u{200B}太郎",
            "\u{FEFF}",
            "\u{200D}\u{200D}",
        ] {
            assert_eq!(name(s), Err(FieldError::ControlChar("お名前")), "{s:?}");
        }
    }

    #[test]
    fn control_characters_are_refused() {
        assert_eq!(name("山田\n太郎"), Err(FieldError::ControlChar("お名前")));
        assert_eq!(name("山田\u{7}"), Err(FieldError::ControlChar("お名前")));
    }

    #[test]
    fn variant_kanji_of_real_names_are_accepted() {
        assert_eq!(name("髙橋 﨑子"), Ok("髙橋 﨑子".into()));
    }

    #[test]
    fn phone_with_hyphens_or_full_width_digits_is_accepted() {
        assert_eq!(phone("03-1234-5678"), Ok("03-1234-5678".into()));
        assert_eq!(
            phone("０９０ー１２３４ー５６７８"),
            Ok("090-1234-5678".into())
        );
        assert_eq!(phone("0312345678"), Ok("0312345678".into()));
    }

    #[test]
    fn phone_needs_ten_or_eleven_digits_from_zero() {
        assert_eq!(phone(""), Err(FieldError::Missing("ご連絡先電話番号")));
        assert_eq!(phone("031234567"), Err(FieldError::PhoneDigits));
        assert_eq!(phone("090123456789"), Err(FieldError::PhoneDigits));
        assert_eq!(phone("3123456789"), Err(FieldError::PhoneDigits));
    }

    #[test]
    fn phone_with_letters_or_brackets_is_refused() {
        assert_eq!(phone("03(1234)5678"), Err(FieldError::PhoneCharacters));
        assert_eq!(phone("03-1234-567a"), Err(FieldError::PhoneCharacters));
    }

    #[test]
    fn ordinary_email_is_accepted_and_full_width_made_half_width() {
        assert_eq!(
            email("taro.yamada@example.co.jp"),
            Ok("taro.yamada@example.co.jp".into())
        );
        assert_eq!(
            email("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ"),
            Ok("taro@example.jp".into())
        );
    }

    #[test]
    fn malformed_email_is_refused() {
        for bad in [
            "taro",
            "taro@",
            "@example.jp",
            "taro@example",
            "ta ro@example.jp",
            "taro..y@example.jp",
            "taro@-x.jp",
            "山田@example.jp",
        ] {
            assert_eq!(email(bad), Err(FieldError::EmailFormat), "{bad}");
        }
    }

    #[test]
    fn email_over_255_characters_is_refused() {
        let long = format!(
            "{}@{}.jp",
            "a".repeat(60),
            vec!["b".repeat(60); 4].join(".")
        );
        assert!(long.len() > 255);
        assert_eq!(
            email(&long),
            Err(FieldError::TooLong {
                label: "ご連絡先メールアドレス",
                max: 255
            })
        );
    }

    #[test]
    fn mobile_carrier_domains_are_refused_saying_why() {
        for d in [
            "docomo.ne.jp",
            "ezweb.ne.jp",
            "au.com",
            "softbank.ne.jp",
            "i.softbank.jp",
        ] {
            assert_eq!(
                email(&format!("taro@{d}")),
                Err(FieldError::CarrierDomain(d.into())),
                "{d}"
            );
        }
        assert_eq!(
            email("taro@DoCoMo.ne.jp"),
            Err(FieldError::CarrierDomain("docomo.ne.jp".into()))
        );
        assert!(
            FieldError::CarrierDomain("au.com".into())
                .to_string()
                .contains("携帯電話会社")
        );
    }

    #[test]
    fn operator_configured_domains_are_refused_too() {
        let extra = vec!["example.net".to_owned()];
        let rules = Rules {
            nfkc,
            extra_refused_domains: &extra,
        };
        assert_eq!(
            Email::parse_with("a@example.net", &rules),
            Err(FieldError::CarrierDomain("example.net".into()))
        );
        assert!(Email::parse_with("a@example.org", &rules).is_ok());
    }

    fn form(name: &str, phone: &str, email: &str, wants_mail: Option<bool>) -> ApplicantForm {
        ApplicantForm {
            name: name.into(),
            phone: phone.into(),
            email: email.into(),
            wants_mail,
        }
    }

    #[test]
    fn complete_form_gives_the_normalised_applicant() {
        let a = form(
            "山田　太郎",
            "０３-1234-5678",
            "taro@example.jp",
            Some(true),
        )
        .validate(&Rules::new(nfkc))
        .unwrap();
        assert_eq!(a.name.as_str(), "山田 太郎");
        assert_eq!(a.phone.as_str(), "03-1234-5678");
        assert_eq!(a.email.unwrap().as_str(), "taro@example.jp");
        assert!(a.wants_mail);
    }

    #[test]
    fn empty_form_reports_every_field_in_order() {
        let errors = form("", "", "", None)
            .validate(&Rules::new(nfkc))
            .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            [
                ApplicantField::Name,
                ApplicantField::Phone,
                ApplicantField::WantsMail
            ]
        );
    }

    #[test]
    fn email_is_required_only_when_mail_is_wished() {
        let rules = Rules::new(nfkc);
        let errors = form("山田", "0312345678", "", Some(true))
            .validate(&rules)
            .unwrap_err();
        assert_eq!(
            errors,
            [(
                ApplicantField::Email,
                FieldError::Missing("ご連絡先メールアドレス")
            )]
        );
        let a = form("山田", "0312345678", " ", Some(false))
            .validate(&rules)
            .unwrap();
        assert_eq!(a.email, None);
    }

    #[test]
    fn a_given_email_is_checked_even_without_mail() {
        let errors = form("山田", "0312345678", "bad", Some(false))
            .validate(&Rules::new(nfkc))
            .unwrap_err();
        assert_eq!(errors, [(ApplicantField::Email, FieldError::EmailFormat)]);
    }

    #[test]
    fn stored_applicant_round_trips_but_unnormalised_json_is_refused() {
        let a = form("ﾔﾏﾀﾞ", "0312345678", "", Some(false))
            .validate(&Rules::new(nfkc))
            .unwrap();
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Applicant>(&json).unwrap(), a);
        assert!(serde_json::from_str::<PersonName>("\"山田①\"").is_err());
        assert!(serde_json::from_str::<PersonName>("\" 山田\"").is_err());
    }
}
