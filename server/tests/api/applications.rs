//! `/api/applications`: submitting (S6 → S7), receipts, history (S8), the
//! work that applies a change after the delay, and its resumption after a
//! restart.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::domain::ApplicationId;

use crate::helpers::{
    code, codes_of, fixture, idempotency_key, provider_name, purpose, rows, service_name,
    spawn_app, spawn_app_on, spawn_app_with, today_jst,
};

/// Long enough to look at an application while it is pending, however
/// loaded the machine running the tests.
const SLOW_WORK: Duration = Duration::from_secs(4);

fn unix_now() -> i64 {
    kaisen::state::now().unix()
}

#[tokio::test]
async fn submitting_answers_201_with_a_receipt_of_the_normalised_application() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let mut draft = client.draft("notify", &["W0010", "W0011"]).await;
    draft["applicant"] = json!({
        "name": "　ﾔﾏﾀﾞ　太郎　",
        "phone": "０３－１２３４－５６７８",
        "email": " ＴＡＲＯ@ｅｘａｍｐｌｅ.ｊｐ ",
        "wants_mail": true,
    });
    let before = unix_now();

    let reply = client.submit_draft(&draft).await;

    let after = unix_now();
    assert_eq!(reply.status, StatusCode::CREATED, "body: {}", reply.body);
    assert_eq!(reply.cache_control(), Some("no-store"));
    let receipt = &reply.body;
    let id = receipt["id"].as_str().expect("an ID");
    assert_eq!(id.len(), 16, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
    assert!(id.starts_with(&today_jst().replace('-', "")), "{id}");
    assert!(
        ApplicationId::parse(id).is_ok(),
        "the check digit holds: {id}"
    );
    assert_eq!(receipt["state"], "received");
    let received_at = receipt["received_at"].as_i64().expect("seconds");
    assert!((before..=after).contains(&received_at), "{received_at}");
    assert_eq!(receipt["expected_done_at"], received_at + 2);
    assert_eq!(receipt["completed_at"], Value::Null);
    assert_eq!(
        receipt["changes"],
        json!([
            {"provider": "W0010", "service_name": service_name(10), "provider_name": provider_name(10), "setting": "notify"},
            {"provider": "W0011", "service_name": service_name(11), "provider_name": provider_name(11), "setting": "notify"},
        ])
    );
    assert_eq!(
        receipt["applicant"],
        json!({
            "name": "ヤマダ 太郎",
            "phone": "03-1234-5678",
            "email": "TARO@example.jp",
            "wants_mail": true,
        })
    );
    assert_eq!(
        receipt["contact"],
        json!(["回線情報通知 受付センター", "電話：0120-000-000"])
    );

    // The receipt can be opened again, as stored, and is in the history.
    let again = client.get(&format!("/api/applications/{id}")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["id"], id);
    assert_eq!(again.body["received_at"], received_at);
    assert_eq!(again.body["changes"], receipt["changes"]);
    assert_eq!(again.body["applicant"], receipt["applicant"]);
    let history = client.get("/api/applications").await;
    assert_eq!(history.status, StatusCode::OK);
    assert_eq!(codes_of(&history.body, "id"), vec![id.to_owned()]);
}

#[tokio::test]
async fn a_provider_added_is_pending_then_notified_from_today_by_the_web() {
    let app = spawn_app_with(|c| c.work_delay = SLOW_WORK).await;
    let client = app.line_a().await;

    let id = client.submit_ok("notify", &["W0010"]).await;

    // While the work is pending.
    let page = client.get("/api/providers?page=1").await;
    let row = rows(&page.body["items"])
        .iter()
        .find(|r| r["code"] == "W0010")
        .cloned()
        .expect("W0010 is still offered while pending");
    assert_eq!(row["pending"], true);
    let others_pending = rows(&page.body["items"])
        .iter()
        .filter(|r| r["pending"] == true)
        .count();
    assert_eq!(others_pending, 1);
    assert_eq!(
        client.get("/api/line").await.body["notification_status"],
        "変更中"
    );
    assert_eq!(client.notified_codes().await, ["W0001", "W0002"]);
    let receipt = client.get(&format!("/api/applications/{id}")).await;
    assert_ne!(receipt.body["state"], "completed");

    // After the work.
    let done = client.wait_until_completed(&id).await;
    let completed_at = done["completed_at"].as_i64().expect("a completion time");
    assert!(completed_at >= done["expected_done_at"].as_i64().expect("seconds"));
    assert_eq!(
        client.notification("W0010").await,
        Some(json!({
            "provider": "W0010",
            "service_name": service_name(10),
            "provider_name": provider_name(10),
            "purpose": purpose(10),
            "setting": "notify",
            "set_on": today_jst(),
            "method": "申込受付ページ",
            "last_disclosed_at": null,
            "pending": false,
        }))
    );
    assert_eq!(client.notified_codes().await, ["W0001", "W0002", "W0010"]);
    let page = client.get("/api/providers?page=1").await;
    assert_eq!(page.body["total"], 42);
    assert!(!codes_of(&page.body["items"], "code").contains(&"W0010".to_owned()));
    assert_eq!(
        client.get("/api/line").await.body["notification_status"],
        "利用中"
    );
}

#[tokio::test]
async fn a_provider_stopped_is_pending_then_offered_again() {
    let app = spawn_app_with(|c| c.work_delay = SLOW_WORK).await;
    let client = app.line_a().await;

    let id = client.submit_ok("do_not_notify", &["W0001"]).await;

    let row = client.notification("W0001").await.expect("still listed");
    assert_eq!(row["pending"], true);
    assert_eq!(row["method"], "初期設定");
    assert_eq!(
        client.notification("W0002").await.expect("listed")["pending"],
        false
    );
    assert_eq!(
        client.get("/api/line").await.body["notification_status"],
        "変更中"
    );

    let done = client.wait_until_completed(&id).await;
    assert_eq!(done["changes"][0]["setting"], "do_not_notify");
    assert_eq!(client.notified_codes().await, ["W0002"]);
    let page = client.get("/api/providers?page=1").await;
    assert_eq!(page.body["total"], 44);
    assert_eq!(
        page.body["items"][0],
        json!({"code": "W0001", "service_name": service_name(1), "name": provider_name(1), "purpose": purpose(1), "pending": false})
    );
}

#[tokio::test]
async fn a_second_application_for_a_pending_provider_is_refused_naming_it() {
    let app = spawn_app_with(|c| c.work_delay = SLOW_WORK).await;
    let client = app.line_a().await;
    client.submit_ok("notify", &["W0010"]).await;
    let busy = format!(
        "「{}」は現在変更の工事中のため、お申し込みいただけません。工事完了後にあらためてお申し込みください",
        provider_name(10)
    );

    client
        .submit("notify", &["W0011", "W0010"])
        .await
        .assert_error(StatusCode::CONFLICT, "conflict", &busy);
    // Another session of the same line fares no better.
    let other = app.line_a().await;
    other
        .submit("notify", &["W0010"])
        .await
        .assert_error(StatusCode::CONFLICT, "conflict", &busy);

    let history = client.get("/api/applications").await;
    assert_eq!(rows(&history.body).len(), 1);
    // W0011 was in the refused application: nothing of it was kept.
    let page = client.get("/api/providers?page=1").await;
    let w0011 = rows(&page.body["items"])
        .iter()
        .find(|r| r["code"] == "W0011")
        .cloned()
        .expect("offered");
    assert_eq!(w0011["pending"], false);
}

#[tokio::test]
async fn a_provider_already_set_that_way_is_refused_naming_it() {
    let app = spawn_app().await;
    let client = app.line_a().await;

    client.submit("notify", &["W0002"]).await.assert_error(
        StatusCode::CONFLICT,
        "conflict",
        &format!(
            "「{}」はすでにその設定になっています。最新の状態をご確認ください",
            provider_name(2)
        ),
    );
    // No setting recorded is 「通知しない」 already.
    client
        .submit("do_not_notify", &["W0020"])
        .await
        .assert_error(
            StatusCode::CONFLICT,
            "conflict",
            &format!(
                "「{}」はすでにその設定になっています。最新の状態をご確認ください",
                provider_name(20)
            ),
        );
    assert_eq!(client.get("/api/applications").await.body, json!([]));
}

#[tokio::test]
async fn two_sessions_racing_for_one_provider_get_one_receipt_and_one_refusal() {
    let app = spawn_app_with(|c| c.work_delay = SLOW_WORK).await;
    let first = app.line_a().await;
    let second = app.line_a().await;
    let mut winners = Vec::new();

    // Several rounds, one provider each, so that either session may win.
    for n in 30..40 {
        let provider = code(n);
        let draft_1 = first.draft("notify", &[&provider]).await;
        let draft_2 = second.draft("notify", &[&provider]).await;
        assert_ne!(draft_1["idempotency_key"], draft_2["idempotency_key"]);

        let (reply_1, reply_2) =
            tokio::join!(first.submit_draft(&draft_1), second.submit_draft(&draft_2));

        let mut statuses = [reply_1.status, reply_2.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::CONFLICT],
            "{provider}: {} / {}",
            reply_1.body,
            reply_2.body
        );
        let (won, refused) = if reply_1.status == StatusCode::CONFLICT {
            (&reply_2, &reply_1)
        } else {
            (&reply_1, &reply_2)
        };
        refused.assert_error(
            StatusCode::CONFLICT,
            "conflict",
            &format!(
                "「{}」は現在変更の工事中のため、お申し込みいただけません。工事完了後にあらためてお申し込みください",
                provider_name(n)
            ),
        );
        assert_eq!(codes_of(&won.body["changes"], "provider"), [provider]);
        winners.push(won.body["id"].as_str().expect("an ID").to_owned());
    }

    // One application per provider, never two changes.
    winners.reverse();
    assert_eq!(
        codes_of(&first.get("/api/applications").await.body, "id"),
        winners
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_submits_with_one_key_store_one_application_and_answer_its_receipt() {
    let app = spawn_app_with(|c| c.work_delay = SLOW_WORK).await;
    let client = app.line_a().await;
    let draft = client.draft("notify", &["W0010"]).await;

    let mut submits = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (client, draft) = (client.clone(), draft.clone());
        submits.spawn(async move { client.submit_draft(&draft).await });
    }
    let replies = submits.join_all().await;

    let created: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert_eq!(created.len(), 1, "exactly one 201");
    let first = &created[0].body;
    for reply in &replies {
        assert!(
            [StatusCode::OK, StatusCode::CREATED].contains(&reply.status),
            "{}: {}",
            reply.status,
            reply.body
        );
        assert_same_application(&reply.body, first);
    }
    let id = first["id"].as_str().expect("an ID").to_owned();
    assert_eq!(
        codes_of(&client.get("/api/applications").await.body, "id"),
        [id.as_str()]
    );
    // The replays used up no ID: the next application takes the next one.
    let next = client.submit_ok("notify", &["W0011"]).await;
    if next[..8] == id[..8] {
        let seq = |id: &str| id[8..15].parse::<u32>().expect("digits");
        assert_eq!(seq(&next), seq(&id) + 1, "{next} after {id}");
    }
}

/// Asserts that two receipts are of one application: everything but the
/// state of its work is equal.
#[track_caller]
fn assert_same_application(replay: &Value, first: &Value) {
    let strip = |receipt: &Value| {
        let mut receipt = receipt.clone();
        let state = receipt["state"].take();
        assert!(
            ["received", "in_progress"].contains(&state.as_str().unwrap_or("")),
            "{state}"
        );
        receipt
    };
    assert_eq!(strip(replay), strip(first));
}

#[tokio::test]
async fn replaying_the_idempotency_key_returns_the_same_receipt_and_stores_one() {
    let app = spawn_app_with(|c| c.work_delay = SLOW_WORK).await;
    let client = app.line_a().await;
    let draft = client.draft("notify", &["W0010"]).await;

    let first = client.submit_draft(&draft).await;
    let replay = client.submit_draft(&draft).await;

    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(replay.status, StatusCode::OK);
    // The same application, as it stands now (the work may have started).
    assert_same_application(&replay.body, &first.body);
    // A reload after 「変更」 from another tab of the same line: same key,
    // same receipt, even though the draft it carries differs.
    let other_tab = app.line_a().await;
    let mut changed = draft.clone();
    changed["providers"] = json!(["W0012"]);
    let replay = other_tab.submit_draft(&changed).await;
    assert_eq!(replay.status, StatusCode::OK);
    assert_same_application(&replay.body, &first.body);

    let history = client.get("/api/applications").await;
    assert_eq!(
        codes_of(&history.body, "id"),
        [first.body["id"].as_str().expect("an ID")]
    );
}

#[tokio::test]
async fn the_same_idempotency_key_on_another_line_is_another_application() {
    let app = spawn_app().await;
    let a = app.line_a().await;
    let b = app.line_b().await;
    let key = idempotency_key();
    let mut draft_a = a.draft("notify", &["W0010"]).await;
    draft_a["idempotency_key"] = json!(key);
    let mut draft_b = b.draft("notify", &["W0010"]).await;
    draft_b["idempotency_key"] = json!(key);

    let reply_a = a.submit_draft(&draft_a).await;
    let reply_b = b.submit_draft(&draft_b).await;

    assert_eq!(reply_a.status, StatusCode::CREATED);
    assert_eq!(reply_b.status, StatusCode::CREATED);
    assert_ne!(reply_a.body["id"], reply_b.body["id"]);
}

#[tokio::test]
async fn an_invalid_applicant_gets_422_with_a_message_for_each_field() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let mut draft = client.draft("notify", &["W0010"]).await;
    draft["applicant"] = json!({
        "name": "山田①",
        "phone": "123",
        "email": "taro@docomo.ne.jp",
        "wants_mail": null,
    });

    let reply = client.submit_draft(&draft).await;

    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.body,
        json!({
            "kind": "validation",
            "message": "入力内容に誤りがあります。各項目のメッセージをご確認ください",
            "fields": [
                {"field": "name", "message": "お名前に使えない文字「①」が含まれています。別の文字に置き換えてください"},
                {"field": "phone", "message": "ご連絡先電話番号は0から始まる10桁または11桁の数字で入力してください"},
                {"field": "email", "message": "携帯電話会社のメールアドレス（@docomo.ne.jp）には工事完了通知メールが届かないことがあるため、使えません。パソコン用のメールアドレスを入力してください"},
                {"field": "wants_mail", "message": "工事完了通知メールの「希望する」か「希望しない」を選んでください"},
            ],
        })
    );
    assert_eq!(client.get("/api/applications").await.body, json!([]));
    assert_eq!(client.notification("W0010").await, None);
    let page = client.get("/api/providers?page=1").await;
    assert!(
        rows(&page.body["items"])
            .iter()
            .all(|r| r["pending"] == false)
    );
}

#[tokio::test]
async fn empty_fields_ask_for_input_and_an_email_is_needed_when_mail_is_wished() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let mut draft = client.draft("notify", &["W0010"]).await;
    draft["applicant"] = json!({"name": " 　", "phone": "", "email": "", "wants_mail": true});

    let reply = client.submit_draft(&draft).await;

    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.body["fields"],
        json!([
            {"field": "name", "message": "お名前を入力してください"},
            {"field": "phone", "message": "ご連絡先電話番号を入力してください"},
            {"field": "email", "message": "ご連絡先メールアドレスを入力してください"},
        ])
    );
}

#[tokio::test]
async fn no_email_is_needed_when_no_mail_is_wished() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let mut draft = client.draft("notify", &["W0010"]).await;
    draft["applicant"] =
        json!({"name": "髙﨑 花子", "phone": "09012345678", "email": "", "wants_mail": false});

    let reply = client.submit_draft(&draft).await;

    assert_eq!(reply.status, StatusCode::CREATED, "body: {}", reply.body);
    // 髙 and 﨑 are real names: kept as typed.
    assert_eq!(
        reply.body["applicant"],
        json!({"name": "髙﨑 花子", "phone": "09012345678", "email": null, "wants_mail": false})
    );
}

#[tokio::test]
async fn a_mail_domain_the_operator_refuses_is_refused_saying_why() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let mut draft = client.draft("notify", &["W0010"]).await;
    draft["applicant"]["email"] = json!("taro@mail.example-isp.jp");

    let reply = client.submit_draft(&draft).await;

    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.body["fields"],
        json!([{"field": "email", "message": "携帯電話会社のメールアドレス（@example-isp.jp）には工事完了通知メールが届かないことがあるため、使えません。パソコン用のメールアドレスを入力してください"}])
    );
}

#[tokio::test]
async fn an_empty_provider_list_is_refused_asking_to_choose() {
    let app = spawn_app().await;
    let client = app.line_a().await;

    client.submit("do_not_notify", &[]).await.assert_error(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "通知先を選択してください",
    );
    assert_eq!(client.get("/api/applications").await.body, json!([]));
}

#[tokio::test]
async fn more_than_two_hundred_providers_at_once_are_refused() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let codes: Vec<String> = (1..=201).map(code).collect();
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();

    client.submit("notify", &codes).await.assert_error(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "一度に変更できる通知先は200件までです",
    );
}

#[tokio::test]
async fn a_provider_listed_twice_is_changed_once() {
    let app = spawn_app().await;
    let client = app.line_a().await;

    let reply = client.submit("notify", &["W0010", "W0010"]).await;

    assert_eq!(reply.status, StatusCode::CREATED, "body: {}", reply.body);
    assert_eq!(codes_of(&reply.body["changes"], "provider"), ["W0010"]);
}

#[tokio::test]
async fn a_wrong_consent_hash_is_refused_as_a_changed_consent() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let mut draft = client.draft("notify", &["W0010"]).await;
    draft["consent_hash"] = json!("0".repeat(64));

    client.submit_draft(&draft).await.assert_error(
        StatusCode::CONFLICT,
        "conflict",
        "同意書の内容が更新されました。お手数ですが、最初からお手続きをやり直してください",
    );
    assert_eq!(client.get("/api/applications").await.body, json!([]));
}

#[tokio::test]
async fn a_consent_text_changed_after_reading_refuses_the_draft_agreed_to_before() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let draft = client.draft("notify", &["W0010"]).await;

    app.import(json!({"consent": {"version": "2026-10", "text": "改訂した同意書"}}))
        .await
        .expect("imported");

    client.submit_draft(&draft).await.assert_error(
        StatusCode::CONFLICT,
        "conflict",
        "同意書の内容が更新されました。お手数ですが、最初からお手続きをやり直してください",
    );
    // Agreeing to the new text goes through.
    assert_eq!(
        client.submit("notify", &["W0010"]).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn an_unknown_provider_is_refused() {
    let app = spawn_app().await;
    let client = app.line_a().await;

    client
        .submit("notify", &["W0010", "Z9999"])
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "選択された通知先が見つかりません",
        );
    assert_eq!(client.get("/api/applications").await.body, json!([]));
}

#[tokio::test]
async fn a_malformed_application_body_gets_a_json_400() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let good = client.draft("notify", &["W0010"]).await;
    let with = |key: &str, value: Value| {
        let mut draft = good.clone();
        draft[key] = value;
        draft.to_string()
    };

    for body in [
        "{".to_owned(),
        "null".to_owned(),
        with("setting", json!("maybe")),
        with("providers", json!(["W-0010"])),
        with("providers", json!("W0010")),
        with("applicant", json!(null)),
        with("idempotency_key", json!("short")),
        with("idempotency_key", json!("has spaces in it, not allowed")),
    ] {
        let reply = client.post_raw("/api/applications", body.clone()).await;
        reply.assert_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "リクエストの形式が正しくありません",
        );
        assert_eq!(reply.cache_control(), Some("no-store"), "{body}");
    }
    assert_eq!(client.get("/api/applications").await.body, json!([]));
}

#[tokio::test]
async fn a_post_a_foreign_page_could_send_without_a_preflight_is_refused_as_415() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let draft = client.draft("notify", &["W0010"]).await.to_string();

    // The content types an HTML form (or a "simple" fetch) may send across
    // sites: none is taken as JSON, even when the body is a valid draft.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let response = client
            .http
            .post(client.url("/api/applications"))
            .header("content-type", content_type)
            .body(draft.clone())
            .send()
            .await
            .expect("sent");
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["kind"], "bad_request", "{content_type}");
    }
    assert_eq!(client.get("/api/applications").await.body, json!([]));
}

#[tokio::test]
async fn a_post_from_another_origin_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let draft = client.draft("notify", &["W0010"]).await;

    for (name, value) in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let response = client
            .http
            .post(client.url("/api/applications"))
            .header(name, value)
            .json(&draft)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["kind"], "forbidden");
    }
    let same_origin = client
        .http
        .post(client.url("/api/applications"))
        .header("origin", app.address.clone())
        .header("sec-fetch-site", "same-origin")
        .json(&draft)
        .send()
        .await
        .expect("sent");
    assert_eq!(same_origin.status(), StatusCode::CREATED);
    assert_eq!(
        client
            .get("/api/applications")
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn a_body_that_never_arrives_times_out_with_a_json_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|c| c.request_timeout = Duration::from_secs(1)).await;
    let mut stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connected");
    // Promises 100 bytes, sends 2, then waits.
    stream
        .write_all(b"POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"")
        .await
        .expect("sent");
    let mut response = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response);
    assert!(read.is_ok(), "the server answered within the timeout");
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("\"kind\":\"bad_request\""), "{response}");
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_a_json_413() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let mut draft = client.draft("notify", &["W0010"]).await;
    draft["applicant"]["name"] = json!("あ".repeat(40_000));

    let reply = client.submit_draft(&draft).await;

    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.body["kind"], "payload_too_large");
    assert_eq!(client.get("/api/applications").await.body, json!([]));
}

#[tokio::test]
async fn an_unknown_or_mistyped_application_id_is_not_found() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let id = client.submit_ok("notify", &["W0010"]).await;
    // One wrong digit fails the check digit.
    let mut typo = id.clone().into_bytes();
    typo[15] = if typo[15] == b'0' { b'1' } else { b'0' };
    let typo = String::from_utf8(typo).expect("digits");
    // A well-formed ID that was never issued.
    let unissued = ApplicationId::new(
        shared::domain::Date::parse("2020-01-01").expect("a date"),
        1,
    );

    for path in [
        format!("/api/applications/{typo}"),
        format!("/api/applications/{unissued}"),
        "/api/applications/abc".to_owned(),
    ] {
        client.get(&path).await.assert_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "お探しの情報は見つかりませんでした",
        );
    }
    // Spaces and hyphens, as read out on the telephone, are accepted.
    let spaced = format!("{}-{}-{}", &id[..4], &id[4..8], &id[8..]);
    let reply = client.get(&format!("/api/applications/{spaced}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["id"], id.as_str());
}

#[tokio::test]
async fn history_lists_the_lines_applications_newest_first() {
    let app = spawn_app_with(|c| c.work_delay = SLOW_WORK).await;
    let client = app.line_a().await;
    let first = client.submit_ok("notify", &["W0010"]).await;
    let second = client.submit_ok("do_not_notify", &["W0002"]).await;
    let third = client.submit_ok("notify", &["W0011", "W0012"]).await;

    let reply = client.get("/api/applications").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(codes_of(&reply.body, "id"), [third, second, first]);
    assert!(
        ["received", "in_progress"].contains(&reply.body[0]["state"].as_str().unwrap_or("")),
        "{}",
        reply.body[0]
    );
    assert_eq!(
        codes_of(&reply.body[0]["changes"], "provider"),
        ["W0011", "W0012"]
    );
    assert_eq!(reply.body[1]["changes"][0]["setting"], "do_not_notify");
}

#[tokio::test]
async fn a_receipt_keeps_the_provider_names_as_they_were() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let id = client.submit_ok("notify", &["W0010"]).await;

    app.import(json!({"providers": [{"code": "W0010", "service_name": "新サービス", "name": "新社名株式会社"}]}))
        .await
        .expect("imported");

    let receipt = client.get(&format!("/api/applications/{id}")).await;
    assert_eq!(
        receipt.body["changes"][0]["provider_name"],
        provider_name(10)
    );
    assert_eq!(receipt.body["changes"][0]["service_name"], service_name(10));
    let page = client.get("/api/providers?page=1").await;
    let row = rows(&page.body["items"])
        .iter()
        .find(|r| r["code"] == "W0010")
        .cloned()
        .expect("offered");
    assert_eq!(row["name"], "新社名株式会社");
}

#[tokio::test]
async fn pending_work_is_done_after_a_restart() {
    let db = crate::helpers::TestDatabase::new().await;
    let first = spawn_app_on(&db, |c| c.work_delay = SLOW_WORK).await;
    first.import(fixture()).await.expect("the fixture imports");
    let client = first.line_a().await;
    let id = client.submit_ok("notify", &["W0010"]).await;
    let first_address = first.address.clone();

    first.stop();

    assert!(
        reqwest::get(format!("{first_address}/api/line"))
            .await
            .is_err(),
        "the first server is gone"
    );
    let second = spawn_app_on(&db, |c| c.work_delay = Duration::from_secs(3600)).await;
    let client = second.line_a().await;
    // Not done by the first server: still pending when the second starts.
    let receipt = client.get(&format!("/api/applications/{id}")).await;
    assert_eq!(receipt.status, StatusCode::OK);
    assert_ne!(receipt.body["state"], "completed", "{}", receipt.body);
    assert_eq!(
        client.get("/api/line").await.body["notification_status"],
        "変更中"
    );

    // Done by the second, when it was due (the delay is stored with the
    // application, not taken from the new configuration).
    let done = client.wait_until_completed(&id).await;
    assert_eq!(done["id"], id.as_str());
    let row = client.notification("W0010").await.expect("notified now");
    assert_eq!(row["method"], "申込受付ページ");
    assert_eq!(row["set_on"], today_jst());
    assert_eq!(row["pending"], false);
    assert_eq!(
        client.get("/api/line").await.body["notification_status"],
        "利用中"
    );
    assert_eq!(rows(&client.get("/api/applications").await.body).len(), 1);
}

#[tokio::test]
async fn completed_work_is_not_applied_again_after_a_restart() {
    let db = crate::helpers::TestDatabase::new().await;
    let first = spawn_app_on(&db, |_| {}).await;
    first.import(fixture()).await.expect("the fixture imports");
    let client = first.line_a().await;
    let id = client.submit_ok("notify", &["W0010"]).await;
    let done = client.wait_until_completed(&id).await;
    let before = client.notification("W0010").await;
    first.stop();

    let second = spawn_app_on(&db, |_| {}).await;
    let client = second.line_a().await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let receipt = client.get(&format!("/api/applications/{id}")).await;
    assert_eq!(receipt.body, done);
    assert_eq!(client.notification("W0010").await, before);
    // The next ID of the day follows on: IDs are never reused.
    let next = client.submit_ok("notify", &["W0011"]).await;
    assert!(next > id, "{next} after {id}");
}
