//! `/api/providers` (S3, paged) and `/api/consent` (S4).

use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::{
    CONSENT_TEXT, code, codes_of, provider_name, purpose, service_name, spawn_app, spawn_app_on,
};

/// Line A has 45 providers, two of them 「通知する」: 43 on three pages.
const TOTAL_A: u64 = 43;

#[tokio::test]
async fn providers_come_twenty_a_page_with_totals() {
    let app = spawn_app().await;
    let client = app.line_a().await;

    let first = client.get("/api/providers?page=1").await;

    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["total"], TOTAL_A);
    assert_eq!(first.body["page"], 1);
    assert_eq!(first.body["pages"], 3);
    let expected: Vec<String> = (3..=22).map(code).collect();
    assert_eq!(codes_of(&first.body["items"], "code"), expected);
    assert_eq!(
        first.body["items"][0],
        json!({
            "code": "W0003",
            "service_name": service_name(3),
            "name": provider_name(3),
            "purpose": purpose(3),
            "pending": false,
        })
    );

    let second = client.get("/api/providers?page=2").await;
    let expected: Vec<String> = (23..=42).map(code).collect();
    assert_eq!(codes_of(&second.body["items"], "code"), expected);
    assert_eq!(second.body["page"], 2);

    let last = client.get("/api/providers?page=3").await;
    let expected: Vec<String> = (43..=45).map(code).collect();
    assert_eq!(codes_of(&last.body["items"], "code"), expected);
    assert_eq!(last.body["total"], TOTAL_A);
    assert_eq!(last.body["pages"], 3);
}

#[tokio::test]
async fn providers_set_to_notify_are_not_offered() {
    let app = spawn_app().await;
    let client = app.line_a().await;

    let all = client.all_provider_rows().await;

    let codes: Vec<String> = all
        .iter()
        .map(|r| r["code"].as_str().expect("a code").to_owned())
        .collect();
    assert_eq!(codes.len() as u64, TOTAL_A);
    assert!(!codes.contains(&"W0001".to_owned()));
    assert!(!codes.contains(&"W0002".to_owned()));
    // Recorded as 「通知しない」 counts as not notified.
    assert!(codes.contains(&"W0003".to_owned()));
}

#[tokio::test]
async fn no_page_parameter_means_the_first_page() {
    let app = spawn_app().await;
    let client = app.line_a().await;

    let reply = client.get("/api/providers").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["page"], 1);
    assert_eq!(reply.body["items"].as_array().map(Vec::len), Some(20));
}

#[tokio::test]
async fn a_page_beyond_the_last_gives_the_last_page() {
    let app = spawn_app().await;
    let client = app.line_a().await;

    let reply = client.get("/api/providers?page=99").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["page"], 3);
    assert_eq!(reply.body["pages"], 3);
    assert_eq!(reply.body["total"], TOTAL_A);
    let expected: Vec<String> = (43..=45).map(code).collect();
    assert_eq!(codes_of(&reply.body["items"], "code"), expected);
}

#[tokio::test]
async fn page_zero_gives_the_first_page() {
    let app = spawn_app().await;
    let client = app.line_a().await;

    let reply = client.get("/api/providers?page=0").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["page"], 1);
}

#[tokio::test]
async fn a_bad_page_parameter_gets_a_json_400() {
    let app = spawn_app().await;
    let client = app.line_a().await;

    for query in ["page=abc", "page=-1", "page=1.5", "page=99999999999"] {
        let reply = client.get(&format!("/api/providers?{query}")).await;
        reply.assert_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "ページの指定が正しくありません",
        );
    }
}

#[tokio::test]
async fn consent_is_the_text_in_force_with_its_sha256() {
    let app = spawn_app().await;
    let client = app.line_a().await;

    let reply = client.get("/api/consent").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        json!({
            "version": "2026-04",
            "text": CONSENT_TEXT,
            "hash": hex::encode(Sha256::digest(CONSENT_TEXT.as_bytes())),
        })
    );
}

#[tokio::test]
async fn a_new_consent_text_gets_a_new_hash() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let old = client.consent_hash().await;

    app.import(json!({"consent": {"version": "2026-10", "text": "改訂した同意書"}}))
        .await
        .expect("imported");

    let reply = client.get("/api/consent").await;
    assert_eq!(reply.body["version"], "2026-10");
    assert_eq!(reply.body["text"], "改訂した同意書");
    assert_ne!(reply.body["hash"], old.as_str());
}

#[tokio::test]
async fn without_a_consent_document_consent_is_not_found() {
    let db = crate::helpers::TestDatabase::new().await;
    let empty = spawn_app_on(&db, |_| {}).await;
    empty
        .import(json!({"lines": [{"customer_id": "CAF0000000009", "access_key": "k9"}]}))
        .await
        .expect("imported");
    let client = empty.log_in("CAF0000000009", "k9").await;

    client.get("/api/consent").await.assert_error(
        StatusCode::NOT_FOUND,
        "not_found",
        "お探しの情報は見つかりませんでした",
    );
}
