//! Writing the completion mail, in Japanese. It names the application and
//! its changes; it never carries the access key, and the customer ID only
//! masked.

use lettre::Message;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;

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
    Message::builder()
        .from(sender.clone())
        .to(to.as_str().parse().map_err(|e| format!("recipient: {e}"))?)
        .subject(format!(
            "【回線情報通知】工事完了のお知らせ（お申し込みID：{}）",
            record.id
        ))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| e.to_string())
}
