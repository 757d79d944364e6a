//! `/api/line` and `/api/notifications`: the top page (S1) and the detail
//! page's list (S2); and what every `/api` answer has in common.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{LINE_A, LINE_B, NOTICES, provider_name, purpose, service_name, spawn_app};

#[tokio::test]
async fn line_overview_shows_the_customer_id_notices_and_services() {
    let app = spawn_app().await;
    let client = app.line_a().await;

    let reply = client.get("/api/line").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        json!({
            "customer_id": LINE_A,
            "notices": NOTICES,
            "notification_status": "利用中",
            "services": [
                {"name": "フレッツ光ネクスト", "status": "利用中"},
                {"name": "フレッツ・v6オプション", "status": "未契約"},
            ],
        })
    );
    assert_eq!(reply.cache_control(), Some("no-store"));
    assert_eq!(
        reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
}

#[tokio::test]
async fn notifications_list_only_the_providers_set_to_notify_in_code_order() {
    let app = spawn_app().await;
    let client = app.line_a().await;

    let reply = client.get("/api/notifications").await;

    assert_eq!(reply.status, StatusCode::OK);
    // W0003 is recorded as 「通知しない」: not listed.
    assert_eq!(
        reply.body,
        json!([
            {
                "provider": "W0001",
                "service_name": service_name(1),
                "provider_name": provider_name(1),
                "purpose": purpose(1),
                "setting": "notify",
                "set_on": "2025-04-01",
                "method": "初期設定",
                "last_disclosed_at": null,
                "pending": false,
            },
            {
                "provider": "W0002",
                "service_name": service_name(2),
                "provider_name": provider_name(2),
                "purpose": purpose(2),
                "setting": "notify",
                "set_on": "2025-05-10",
                "method": "お電話",
                "last_disclosed_at": null,
                "pending": false,
            },
        ])
    );
    assert_eq!(reply.cache_control(), Some("no-store"));
}

#[tokio::test]
async fn a_line_without_notifications_gets_an_empty_list() {
    let app = spawn_app().await;
    app.import(json!({"lines": [{"customer_id": "CAF0000000003", "access_key": "Charlie-3"}]}))
        .await
        .expect("imported");
    let client = app.log_in("CAF0000000003", "Charlie-3").await;

    let reply = client.get("/api/notifications").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!([]));
    let line = client.get("/api/line").await;
    assert_eq!(line.body["customer_id"], "CAF0000000003");
    assert_eq!(line.body["services"], json!([]));
    assert_eq!(line.body["notification_status"], "利用中");
    let providers = client.get("/api/providers").await;
    assert_eq!(providers.body["total"], 45);
}

#[tokio::test]
async fn unknown_api_path_gets_a_json_404_not_the_client() {
    let app = spawn_app().await;
    let client = app.line_b().await;

    for path in ["/api/nothing", "/api/line/extra", "/api/applications/1/2"] {
        let reply = client.get(path).await;
        reply.assert_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "お探しの情報は見つかりませんでした",
        );
        assert_eq!(reply.cache_control(), Some("no-store"), "{path}");
    }
    // Without a session as well: a 404 says nothing about any line.
    app.client().get("/api/nothing").await.assert_error(
        StatusCode::NOT_FOUND,
        "not_found",
        "お探しの情報は見つかりませんでした",
    );
}

#[tokio::test]
async fn every_api_answer_is_marked_no_store() {
    let app = spawn_app().await;
    let client = app.line_b().await;

    for path in [
        "/api/session",
        "/api/line",
        "/api/notifications",
        "/api/providers?page=2",
        "/api/consent",
        "/api/applications",
        "/api/applications/0000000000000000",
        "/api/providers?page=x",
    ] {
        let reply = client.get(path).await;
        assert_eq!(reply.cache_control(), Some("no-store"), "{path}");
    }
    let login = app.client().log_in(LINE_B, "wrong-key").await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login.cache_control(), Some("no-store"));
}

#[tokio::test]
async fn a_wrong_method_on_an_api_route_is_a_json_405_naming_the_allowed_ones() {
    let app = spawn_app().await;
    let client = app.line_a().await;

    for (method, path, allowed) in [
        (reqwest::Method::PUT, "/api/line", "GET,HEAD"),
        (reqwest::Method::POST, "/api/notifications", "GET,HEAD"),
        (
            reqwest::Method::DELETE,
            "/api/applications",
            "POST,GET,HEAD",
        ),
    ] {
        let response = client
            .http
            .request(method.clone(), client.url(path))
            // JSON, as the client sends it: a POST of anything else is
            // refused before routing (415, see `csrf`).
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("sent");
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(header("allow").as_deref(), Some(allowed), "{method} {path}");
        assert_eq!(header("cache-control").as_deref(), Some("no-store"));
        let body: Value = response.json().await.expect("a JSON error body");
        assert_eq!(body["kind"], "bad_request", "{method} {path}");
    }
    // Nothing was changed by them.
    assert_eq!(client.get("/api/applications").await.body, json!([]));
}

#[tokio::test]
async fn disclosures_come_newest_first_twenty_a_page_with_the_last_time_on_s2() {
    let app = spawn_app().await;
    let client = app.line_a().await;
    let empty = client.get("/api/disclosures").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(
        empty.body,
        json!({"total": 0, "page": 1, "pages": 1, "items": []})
    );

    let line = shared::domain::CustomerId::parse(LINE_A).expect("an ID");
    let prefix: ipnet::Ipv6Net = "2001:db8:1234:5600::/56".parse().expect("a prefix");
    for n in 0..21_i64 {
        let disclosure = kaisen::store::DisclosureRecord {
            id: format!("d-{n:02}"),
            at: shared::domain::Timestamp::from_unix(1_800_000_000 + n),
            customer_id: line.clone(),
            provider: shared::domain::ProviderCode::parse(if n == 20 { "W0002" } else { "W0001" })
                .expect("a code"),
            reason: if n == 20 {
                shared::api::DisclosureReason::Granted
            } else {
                shared::api::DisclosureReason::Lookup
            },
            lookup: (n != 20).then_some(kaisen::store::LookupRecord {
                prefix,
                connected_at: shared::domain::Timestamp::from_unix(1_800_000_000 + n - 1),
            }),
            application_id: None,
        };
        app.store
            .record_disclosure(&disclosure)
            .await
            .expect("recorded");
    }

    let first = client.get("/api/disclosures?page=1").await;
    assert_eq!(
        (first.body["total"].as_u64(), first.body["pages"].as_u64()),
        (Some(21), Some(2))
    );
    assert_eq!(
        first.body["items"][0],
        json!({
            "at": 1_800_000_020,
            "service_name": service_name(2),
            "provider_name": provider_name(2),
            "prefix": null,
            "reason": "granted",
        })
    );
    assert_eq!(first.body["items"][1]["prefix"], "2001:db8:1234:5600::/56");
    assert_eq!(first.body["items"][1]["reason"], "lookup");
    let last = client.get("/api/disclosures?page=9").await;
    assert_eq!(last.body["page"], 2, "a page past the last gives the last");
    assert_eq!(last.body["items"][0]["at"], 1_800_000_000);
    let bad = client.get("/api/disclosures?page=x").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // Line B sees none of A's.
    let b = app.line_b().await;
    assert_eq!(b.get("/api/disclosures").await.body["total"], 0);

    let rows = client.get("/api/notifications").await.body;
    assert_eq!(rows[0]["last_disclosed_at"], 1_800_000_019);
    assert_eq!(rows[1]["last_disclosed_at"], 1_800_000_020);
}
