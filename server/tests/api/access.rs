//! A line sees and changes only its own data (SPEC §4, Sessions).

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{LINE_B, provider_name, rows, service_name, spawn_app};

#[tokio::test]
async fn another_lines_application_is_not_found_like_one_that_does_not_exist() {
    let app = spawn_app().await;
    let a = app.line_a().await;
    let b = app.line_b().await;
    let id = a.submit_ok("notify", &["W0010"]).await;

    let reply = b.get(&format!("/api/applications/{id}")).await;

    reply.assert_error(
        StatusCode::NOT_FOUND,
        "not_found",
        "お探しの情報は見つかりませんでした",
    );
    assert_eq!(b.get("/api/applications").await.body, json!([]));
    assert_eq!(
        a.get(&format!("/api/applications/{id}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn each_line_sees_only_its_own_settings() {
    let app = spawn_app().await;
    let a = app.line_a().await;
    let b = app.line_b().await;

    let reply = b.get("/api/notifications").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        json!([{
            "provider": "W0001",
            "service_name": service_name(1),
            "provider_name": provider_name(1),
            "setting": "notify",
            "set_on": "2024-12-01",
            "method": "初期設定",
            "pending": false,
        }])
    );
    assert_eq!(b.get("/api/providers").await.body["total"], 44);
    assert_eq!(b.get("/api/line").await.body["customer_id"], LINE_B);
    assert_eq!(a.notified_codes().await, ["W0001", "W0002"]);
}

#[tokio::test]
async fn one_lines_change_leaves_another_lines_setting_for_the_same_provider_alone() {
    let app = spawn_app().await;
    let a = app.line_a().await;
    let b = app.line_b().await;
    let a_before = a.notification("W0001").await.expect("A notifies W0001");

    let id = b.submit_ok("do_not_notify", &["W0001"]).await;

    // Pending for B only: A may still apply for the same provider.
    assert_eq!(a.notification("W0001").await, Some(a_before.clone()));
    assert_eq!(
        a.get("/api/line").await.body["notification_status"],
        "利用中"
    );
    assert_eq!(
        b.get("/api/line").await.body["notification_status"],
        "変更中"
    );
    let a_id = a.submit_ok("notify", &["W0020"]).await;

    b.wait_until_completed(&id).await;
    a.wait_until_completed(&a_id).await;
    assert_eq!(b.get("/api/notifications").await.body, json!([]));
    assert_eq!(a.notification("W0001").await, Some(a_before));
    assert_eq!(a.notified_codes().await, ["W0001", "W0002", "W0020"]);
    let b_history = b.get("/api/applications").await;
    assert_eq!(rows(&b_history.body).len(), 1);
    assert_eq!(b_history.body[0]["id"], id.as_str());
}

#[tokio::test]
async fn the_same_provider_can_be_pending_for_two_lines_at_once() {
    let app = spawn_app().await;
    let a = app.line_a().await;
    let b = app.line_b().await;

    let a_reply = a.submit("notify", &["W0040"]).await;
    let b_reply = b.submit("notify", &["W0040"]).await;

    assert_eq!(a_reply.status, StatusCode::CREATED, "{}", a_reply.body);
    assert_eq!(b_reply.status, StatusCode::CREATED, "{}", b_reply.body);
    assert_ne!(a_reply.body["id"], b_reply.body["id"]);
}

#[tokio::test]
async fn logging_out_one_line_leaves_the_other_logged_in() {
    let app = spawn_app().await;
    let a = app.line_a().await;
    let b = app.line_b().await;

    assert_eq!(
        a.delete("/api/session").await.status,
        StatusCode::NO_CONTENT
    );

    a.get("/api/line").await.assert_unauthenticated();
    assert_eq!(b.get("/api/line").await.status, StatusCode::OK);
}
