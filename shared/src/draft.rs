//! The application flow's draft (S4 → S7) and which step may be entered:
//! plain Rust, so the rules are tested without a browser. Nothing is stored
//! on the server until 「変更」 sends the whole draft once.

use serde::{Deserialize, Serialize};

use crate::api::SubmitApplication;
use crate::domain::{Applicant, ApplicantForm, ApplicationId, ProviderCode, Setting};

/// A provider chosen on S2 or S3, with what later steps show of it (S4 and
/// S6 list each one's 利用目的).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderChoice {
    /// The provider's code.
    pub code: ProviderCode,
    /// サービス名
    pub service_name: String,
    /// サービス提供者名
    pub provider_name: String,
    /// 利用目的, if the provider stated one. A draft saved in the tab by a
    /// client from before the field has none: it loads, the purpose unknown.
    #[serde(default)]
    pub purpose: Option<String>,
}

/// The consent document agreed to on S4.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentChoice {
    /// Its version label.
    pub version: String,
    /// SHA-256 of its text, hex.
    pub hash: String,
}

/// A step of the flow that needs what earlier steps gathered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// S4 同意書: needs providers.
    Consent,
    /// S5 申込者情報入力: needs consent.
    Applicant,
    /// S6 変更内容確認: needs a valid applicant.
    Confirm,
}

/// Everything gathered so far in one flow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationDraft {
    /// The setting every chosen provider is to get: 「通知しない」 in flow A
    /// (from S2), 「通知する」 in flow B (from S3).
    pub setting: Setting,
    /// The chosen providers.
    pub providers: Vec<ProviderChoice>,
    /// The consent agreed to.
    pub consent: Option<ConsentChoice>,
    /// The applicant form as typed (kept when going back).
    pub form: ApplicantForm,
    /// The applicant as validated by 「次へ」; cleared by any later edit.
    pub applicant: Option<Applicant>,
    /// The idempotency key, made when S6 is first reached.
    pub idempotency_key: Option<String>,
    /// The application stored by 「変更」, once it is.
    pub submitted: Option<ApplicationId>,
}

impl ApplicationDraft {
    /// A new flow for these providers.
    pub fn start(setting: Setting, providers: Vec<ProviderChoice>) -> Self {
        Self {
            setting,
            providers,
            ..Self::default()
        }
    }

    /// Whether `step` has what it needs.
    pub fn can_enter(&self, step: Step) -> bool {
        match step {
            Step::Consent => !self.providers.is_empty(),
            Step::Applicant => self.can_enter(Step::Consent) && self.consent.is_some(),
            Step::Confirm => {
                self.can_enter(Step::Applicant)
                    && self.applicant.is_some()
                    && self.idempotency_key.is_some()
            }
        }
    }

    /// The furthest step that may be entered, if any: where a subscriber is
    /// sent who opens a step they cannot enter yet.
    pub fn furthest_step(&self) -> Option<Step> {
        [Step::Confirm, Step::Applicant, Step::Consent]
            .into_iter()
            .find(|s| self.can_enter(*s))
    }

    /// Records the consent agreed to on S4.
    pub fn agree(&mut self, consent: ConsentChoice) {
        self.consent = Some(consent);
    }

    /// Records a change to the form: the validated applicant no longer
    /// matches it until 「次へ」 validates again.
    pub fn edit_form(&mut self, edit: impl FnOnce(&mut ApplicantForm)) {
        edit(&mut self.form);
        self.applicant = None;
    }

    /// Records the applicant validated by 「次へ」 and makes the idempotency
    /// key with `new_key` if there is none yet.
    pub fn accept_applicant(&mut self, applicant: Applicant, new_key: impl FnOnce() -> String) {
        self.applicant = Some(applicant);
        if self.idempotency_key.is_none() {
            self.idempotency_key = Some(new_key());
        }
    }

    /// What 「変更」 sends, if the draft is complete.
    pub fn submission(&self) -> Option<SubmitApplication> {
        if !self.can_enter(Step::Confirm) {
            return None;
        }
        Some(SubmitApplication {
            idempotency_key: self.idempotency_key.clone()?,
            consent_hash: self.consent.as_ref()?.hash.clone(),
            setting: self.setting,
            providers: self.providers.iter().map(|p| p.code.clone()).collect(),
            applicant: self.form.clone(),
        })
    }
}

/// An idempotency key in the format of a random UUID (version 4, RFC 9562:
/// 122 random bits) made from 16 random bytes, so that the browser client
/// can draw them from `crypto.getRandomValues`, which, unlike
/// `crypto.randomUUID`, browsers offer outside secure contexts too (plain
/// HTTP on a staging host).
pub fn idempotency_key(mut random: [u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    random[6] = (random[6] & 0x0f) | 0x40;
    random[8] = (random[8] & 0x3f) | 0x80;
    let mut key = String::with_capacity(36);
    for (i, byte) in random.into_iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            key.push('-');
        }
        key.push(char::from(HEX[usize::from(byte >> 4)]));
        key.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Rules, to_half_width_ascii};

    fn provider() -> ProviderChoice {
        ProviderChoice {
            code: ProviderCode::parse("W0001").unwrap(),
            service_name: "IP電話".into(),
            provider_name: "西日本テレコム株式会社".into(),
            purpose: Some("IP電話サービスのご契約者さまの確認のため".into()),
        }
    }

    fn consent() -> ConsentChoice {
        ConsentChoice {
            version: "2026-04".into(),
            hash: "ab".repeat(32),
        }
    }

    fn applicant(form: &ApplicantForm) -> Applicant {
        form.validate(&Rules::new(to_half_width_ascii)).unwrap()
    }

    fn filled() -> ApplicationDraft {
        let mut d = ApplicationDraft::start(Setting::DoNotNotify, vec![provider()]);
        d.agree(consent());
        d.edit_form(|f| {
            *f = ApplicantForm {
                name: "山田 太郎".into(),
                phone: "0312345678".into(),
                email: String::new(),
                wants_mail: Some(false),
            }
        });
        let a = applicant(&d.form);
        d.accept_applicant(a, || "k".repeat(32));
        d
    }

    #[test]
    fn empty_draft_enters_no_step() {
        let d = ApplicationDraft::default();
        assert_eq!(d.furthest_step(), None);
        assert!(!d.can_enter(Step::Consent));
    }

    #[test]
    fn steps_open_one_after_another() {
        let mut d = ApplicationDraft::start(Setting::Notify, vec![provider()]);
        assert_eq!(d.furthest_step(), Some(Step::Consent));
        d.agree(consent());
        assert_eq!(d.furthest_step(), Some(Step::Applicant));
        assert!(!d.can_enter(Step::Confirm));
        assert_eq!(filled().furthest_step(), Some(Step::Confirm));
    }

    #[test]
    fn editing_the_form_closes_confirm_until_validated_again() {
        let mut d = filled();
        d.edit_form(|f| f.name.push('様'));
        assert!(!d.can_enter(Step::Confirm));
        assert_eq!(d.furthest_step(), Some(Step::Applicant));
        assert_eq!(d.form.name, "山田 太郎様", "entries are kept");
    }

    #[test]
    fn idempotency_key_is_made_once_and_kept_on_revalidation() {
        let mut d = filled();
        let key = d.idempotency_key.clone();
        let a = applicant(&d.form);
        d.accept_applicant(a, || "other".into());
        assert_eq!(d.idempotency_key, key);
    }

    #[test]
    fn idempotency_key_is_a_version_4_uuid_of_the_random_bytes() {
        assert_eq!(
            idempotency_key([0; 16]),
            "00000000-0000-4000-8000-000000000000"
        );
        assert_eq!(
            idempotency_key([0xff; 16]),
            "ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
        assert_eq!(
            idempotency_key(std::array::from_fn(|i| i as u8 * 17)),
            "00112233-4455-4677-8899-aabbccddeeff"
        );
    }

    #[test]
    fn a_draft_saved_before_choices_carried_their_purpose_still_loads() {
        let saved = r#"{"setting":"do_not_notify","providers":[{"code":"W0001","service_name":"IP電話","provider_name":"西日本テレコム株式会社"}],"consent":null,"form":{"name":"","phone":"","email":"","wants_mail":null},"applicant":null,"idempotency_key":null,"submitted":null}"#;
        let d: ApplicationDraft = serde_json::from_str(saved).unwrap();
        assert_eq!(
            d.providers,
            [ProviderChoice {
                purpose: None,
                ..provider()
            }]
        );
        assert_eq!(d.furthest_step(), Some(Step::Consent));
    }

    #[test]
    fn a_choice_keeps_its_purpose_through_the_saved_draft() {
        let d = ApplicationDraft::start(Setting::Notify, vec![provider()]);
        let restored: ApplicationDraft =
            serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(restored, d);
    }

    #[test]
    fn submission_carries_the_whole_draft() {
        let s = filled().submission().unwrap();
        assert_eq!(s.setting, Setting::DoNotNotify);
        assert_eq!(s.providers, [ProviderCode::parse("W0001").unwrap()]);
        assert_eq!(s.consent_hash, consent().hash);
        assert_eq!(s.idempotency_key, "k".repeat(32));
        assert!(
            ApplicationDraft::start(Setting::Notify, vec![provider()])
                .submission()
                .is_none()
        );
    }
}
