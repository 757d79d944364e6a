//! The one error type of field validation, worded for the subscriber.

/// Why one input field was refused. `Display` is the Japanese message shown
/// under the field and in the error summary: it says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// A required field is empty.
    #[error("{0}を入力してください")]
    Missing(&'static str),
    /// The value has more characters than allowed.
    #[error("{label}は{max}文字以内で入力してください")]
    TooLong {
        /// The field's label.
        label: &'static str,
        /// The most characters allowed.
        max: usize,
    },
    /// The value holds a character that cannot be used (named in the message).
    #[error("{label}に使えない文字「{ch}」が含まれています。別の文字に置き換えてください")]
    RefusedChar {
        /// The field's label.
        label: &'static str,
        /// The refused character, as entered.
        ch: char,
    },
    /// The value holds a line break, tab or other control character, or an
    /// invisible formatting character.
    #[error("{0}に改行やタブ、見えない書式文字などの制御文字は使えません")]
    ControlChar(&'static str),
    /// The phone number holds something other than digits and hyphens.
    #[error("ご連絡先電話番号は数字とハイフンで入力してください（例：03-1234-5678）")]
    PhoneCharacters,
    /// The phone number does not have 10 or 11 digits starting with 0.
    #[error("ご連絡先電話番号は0から始まる10桁または11桁の数字で入力してください")]
    PhoneDigits,
    /// The e-mail address is not of the form `name@example.jp`.
    #[error("ご連絡先メールアドレスは「name@example.jp」の形式で入力してください")]
    EmailFormat,
    /// The e-mail address belongs to a mobile carrier, whose filters often
    /// drop mail from outside senders.
    #[error(
        "携帯電話会社のメールアドレス（@{0}）には工事完了通知メールが届かないことがあるため、使えません。パソコン用のメールアドレスを入力してください"
    )]
    CarrierDomain(String),
    /// Neither 「希望する」 nor 「希望しない」 was chosen.
    #[error("工事完了通知メールの「希望する」か「希望しない」を選んでください")]
    MailWishMissing,
    /// A customer ID that is not `CAF` followed by 10 digits.
    #[error("フレッツナンバーは「CAF」に続けて10桁の数字で入力してください（例：CAF0123456789）")]
    CustomerIdFormat,
    /// An access key that is empty, too long or holds other than ASCII.
    #[error("アクセスキーは半角の英数字記号で入力してください")]
    AccessKeyFormat,
    /// An application ID that is not 16 digits.
    #[error("お申し込みIDは16桁の数字で入力してください")]
    ApplicationIdFormat,
    /// An application ID whose check digit does not match: a typo.
    #[error("お申し込みIDの確認用の数字が一致しません。お申し込みIDをもう一度ご確認ください")]
    ApplicationIdCheckDigit,
    /// A provider code that is not 1 to 16 ASCII letters and digits.
    #[error("サービス提供者コードは半角英数字16文字以内です")]
    ProviderCodeFormat,
    /// A date that is not `YYYY-MM-DD`.
    #[error("日付は「2025-04-01」の形式で指定してください")]
    DateFormat,
}
