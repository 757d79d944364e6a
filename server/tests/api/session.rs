//! `/api/session`: logging in and out, and how sessions end.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    BAD_CREDENTIALS, KEY_A, KEY_B, LINE_A, LINE_B, TestApp, spawn_app, spawn_app_with,
};

#[tokio::test]
async fn right_credentials_start_a_session_with_a_strict_http_only_cookie() {
    let app = spawn_app().await;
    let client = app.client();

    let response = client.log_in_response(LINE_A, KEY_A).await;

    assert_eq!(response.status(), StatusCode::OK);
    let cookies: Vec<&str> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("an ASCII cookie"))
        .collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = cookies[0];
    assert!(cookie.starts_with("kaisen_session="), "{cookie}");
    let value = cookie["kaisen_session=".len()..]
        .split(';')
        .next()
        .expect("a value");
    assert_eq!(value.len(), 32, "a 128-bit random ID in hex: {cookie}");
    assert!(value.bytes().all(|b| b.is_ascii_hexdigit()), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({"customer_id": LINE_A, "idle_timeout_secs": 1200})
    );

    let line = client.get("/api/line").await;
    assert_eq!(line.status, StatusCode::OK);
    assert_eq!(line.body["customer_id"], LINE_A);
}

#[tokio::test]
async fn each_login_gets_a_new_session_id() {
    let app = spawn_app().await;
    let cookie = |r: &reqwest::Response| {
        r.headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };

    let first = app.client().log_in_response(LINE_A, KEY_A).await;
    let second = app.client().log_in_response(LINE_A, KEY_A).await;

    assert_ne!(cookie(&first), cookie(&second));
}

#[tokio::test]
async fn wrong_access_key_gets_the_one_message_that_names_neither() {
    let app = spawn_app().await;
    let client = app.client();

    let reply = client.log_in(LINE_A, KEY_B).await;

    reply.assert_error(StatusCode::UNAUTHORIZED, "bad_credentials", BAD_CREDENTIALS);
    client.get("/api/line").await.assert_unauthenticated();
}

#[tokio::test]
async fn unknown_customer_id_gets_the_same_message_as_a_wrong_key() {
    let app = spawn_app().await;

    let reply = app.client().log_in("CAF9999999999", KEY_A).await;

    reply.assert_error(StatusCode::UNAUTHORIZED, "bad_credentials", BAD_CREDENTIALS);
}

#[tokio::test]
async fn malformed_customer_id_or_key_gets_the_same_message_as_a_wrong_key() {
    let app = spawn_app().await;

    for (customer_id, key) in [
        ("CAF123", KEY_A),
        ("XYZ0000000001", KEY_A),
        ("", KEY_A),
        (LINE_A, ""),
        (LINE_A, "鍵"),
    ] {
        let reply = app.client().log_in(customer_id, key).await;
        reply.assert_error(StatusCode::UNAUTHORIZED, "bad_credentials", BAD_CREDENTIALS);
    }
}

#[tokio::test]
async fn full_width_and_lower_case_customer_id_is_accepted() {
    let app = spawn_app().await;

    for typed in [
        "ＣＡＦ０００００００００１",
        "caf0000000001",
        "ｃａｆ０００００００００１",
        " CAF0000000001 ",
    ] {
        let client = app.client();
        let reply = client.log_in(typed, KEY_A).await;
        assert_eq!(reply.status, StatusCode::OK, "{typed}: {}", reply.body);
        assert_eq!(reply.body["customer_id"], LINE_A, "{typed}");
        assert_eq!(client.get("/api/line").await.body["customer_id"], LINE_A);
    }
}

#[tokio::test]
async fn current_session_says_which_line_is_logged_in() {
    let app = spawn_app().await;
    let client = app.line_b().await;

    let reply = client.get("/api/session").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        json!({"customer_id": LINE_B, "idle_timeout_secs": 1200})
    );
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server_too() {
    let app = spawn_app().await;
    let client = app.client();
    let response = client.log_in_response(LINE_A, KEY_A).await;
    let stolen_cookie = session_cookie(&response);

    let reply = client.delete("/api/session").await;

    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let removal = reply
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("the cookie is removed");
    assert!(removal.starts_with("kaisen_session=;"), "{removal}");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    // Not "cookies": a browser honouring it ignores the removal above.
    assert_eq!(
        reply
            .headers
            .get("clear-site-data")
            .and_then(|v| v.to_str().ok()),
        Some("\"storage\"")
    );
    client.get("/api/line").await.assert_unauthenticated();
    // The old cookie, replayed, opens nothing: the session is gone.
    assert_gone(&app, stolen_cookie).await;
}

#[tokio::test]
async fn logging_in_again_in_the_same_browser_revokes_the_session_it_held() {
    let app = spawn_app().await;
    let client = app.client();
    let first = client.log_in_response(LINE_A, KEY_A).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first_cookie = session_cookie(&first);

    // The same browser logs in again (as line B): its old cookie goes along.
    let second = client.log_in(LINE_B, KEY_B).await;

    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(client.get("/api/line").await.body["customer_id"], LINE_B);
    // The first session was revoked.
    assert_gone(&app, first_cookie).await;
}

#[tokio::test]
async fn a_failed_login_leaves_the_session_the_browser_held() {
    let app = spawn_app().await;
    let client = app.line_a().await;

    let reply = client.log_in(LINE_A, KEY_B).await;

    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(client.get("/api/line").await.status, StatusCode::OK);
}

/// Asserts that `cookie` (`name=value`), sent by another client, opens
/// no session.
async fn assert_gone(app: &TestApp, cookie: String) {
    let replayed = app
        .client()
        .http
        .get(app.url("/api/line"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("sent");
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = replayed.json().await.expect("JSON");
    assert_eq!(body["kind"], "session_expired");
}

/// The `name=value` of a login's session cookie.
fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

#[tokio::test]
async fn logout_without_a_session_is_harmless() {
    let app = spawn_app().await;

    let reply = app.client().delete("/api/session").await;

    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.body, serde_json::Value::Null);
}

#[tokio::test]
async fn every_line_route_without_a_session_asks_to_log_in() {
    let app = spawn_app().await;
    let client = app.client();

    for path in [
        "/api/session",
        "/api/line",
        "/api/notifications",
        "/api/providers?page=1",
        "/api/consent",
        "/api/applications",
        "/api/applications/2026112500000421",
    ] {
        let reply = client.get(path).await;
        reply.assert_unauthenticated();
        assert_eq!(reply.cache_control(), Some("no-store"), "{path}");
    }
    client
        .post("/api/applications", &json!({}))
        .await
        .assert_unauthenticated();
}

#[tokio::test]
async fn an_unknown_session_cookie_is_told_its_session_has_expired() {
    let app = spawn_app().await;

    let response = app
        .client()
        .http
        .get(app.url("/api/line"))
        .header("cookie", "kaisen_session=00000000000000000000000000000000")
        .send()
        .await
        .expect("sent");

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["kind"], "session_expired");
}

#[tokio::test]
async fn an_idle_session_expires_and_says_so() {
    let app = spawn_app_with(|c| c.idle_timeout = Duration::from_secs(1)).await;
    let client = app.line_a().await;
    assert_eq!(client.get("/api/line").await.status, StatusCode::OK);

    // Timestamps are whole seconds: 2.2 s idle is surely more than 1 s.
    tokio::time::sleep(Duration::from_millis(2200)).await;

    client.get("/api/line").await.assert_session_expired();
    // Expired is gone: logging in again is the way back.
    client.get("/api/line").await.assert_session_expired();
    assert_eq!(client.log_in(LINE_A, KEY_A).await.status, StatusCode::OK);
    assert_eq!(client.get("/api/line").await.status, StatusCode::OK);
}

#[tokio::test]
async fn activity_keeps_a_session_alive_past_the_idle_limit() {
    let app = spawn_app_with(|c| c.idle_timeout = Duration::from_secs(2)).await;
    let client = app.line_a().await;

    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let reply = client.get("/api/session").await;
        assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.body);
    }
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_limit_however_active() {
    let app = spawn_app_with(|c| c.session_limit = Duration::from_secs(1)).await;
    let client = app.line_a().await;

    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = client.get("/api/session").await;
    }

    client.get("/api/line").await.assert_session_expired();
}

#[tokio::test]
async fn malformed_login_body_gets_a_json_400() {
    let app = spawn_app().await;
    let client = app.client();

    for body in ["{not json", "[]", r#"{"customer_id": "CAF0000000001"}"#, ""] {
        let reply = client.post_raw("/api/session", body).await;
        reply.assert_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "リクエストの形式が正しくありません",
        );
        assert_eq!(reply.cache_control(), Some("no-store"));
    }
    let no_content_type = client
        .http
        .post(app.url("/api/session"))
        .body(r#"{"customer_id": "CAF0000000001", "access_key": "Alpha-Key-0001"}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(no_content_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}
