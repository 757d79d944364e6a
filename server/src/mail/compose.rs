//! Writing the completion mail, in Japanese. It names the application and
//! its changes; it never carries the access key, and the customer ID only
//! masked.
//!
//! A mail is the same, byte for byte, each time it is composed: a
//! redelivery (after a crash, or a relay that failed after taking the data)
//! is recognisably the same mail. So its `Message-ID` is made of the
//! application's ID, and its `Date` is the completion of the work (when the
//! mail entered the outbox, ready to go: RFC 5322 §3.6.1), not the time of
//! the attempt, which lettre would set by itself.

use std::time::{Duration, SystemTime};

use lettre::Message;
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, MIME_VERSION_1_0};

use crate::store::ApplicationRecord;

/// The mail from `sender` for a completed application that wished one.
pub fn compose(
    record: &ApplicationRecord,
    sender: &Mailbox,
    contact: &[String],
) -> Result<Message, String> {
    let to = record
        .applicant
        .email
        .as_ref()
        .ok_or("no address to send to")?;
    let completed = record.completed_at.ok_or("the work is not completed")?;
    let mut body = format!(
        "{name} 様\n\n\
         回線情報通知機能の設定変更の工事が完了しましたので、お知らせします。\n\n\
         お申し込みID：{id}\n\
         お客さまID：{customer}\n\
         受付日時：{received}\n\
         工事完了日時：{completed}\n\n\
         ■変更内容\n",
        name = record.applicant.name,
        id = record.id,
        customer = record.customer_id.masked(),
        received = record.received_at.display_jst(),
        completed = completed.display_jst(),
    );
    for change in &record.changes {
        body.push_str(&format!(
            "・{}（{}）：{}\n",
            change.provider_name,
            change.service_name,
            change.setting.label()
        ));
    }
    body.push_str("\nこのメールは送信専用です。お問い合わせは下記までお願いいたします。\n");
    for line in contact {
        body.push_str(line);
        body.push('\n');
    }
    let date = u64::try_from(completed.unix())
        .map(|secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .map_err(|_| "the work completed before 1970")?;
    Message::builder()
        .message_id(Some(message_id(record, sender)))
        .date(date)
        .from(sender.clone())
        .to(to.as_str().parse().map_err(|e| format!("recipient: {e}"))?)
        .subject(format!(
            "【回線情報通知】工事完了のお知らせ（お申し込みID：{}）",
            record.id
        ))
        // lettre adds it only to multipart and single-part bodies.
        .header(MIME_VERSION_1_0)
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| e.to_string())
}

/// `<お申し込みID.completion@sender's domain>`: unique while application IDs
/// are, the same at every attempt; `completion` leaves room for other mails
/// about one application. The domain is in its ASCII (IDNA) form, as a
/// `Message-ID` must be.
fn message_id(record: &ApplicationRecord, sender: &Mailbox) -> String {
    let domain = sender.email.domain();
    let domain = match url::Host::parse(domain) {
        Ok(url::Host::Domain(ascii)) => ascii,
        _ => domain.to_owned(),
    };
    format!("<{}.completion@{domain}>", record.id)
}
