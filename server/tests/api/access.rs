//! A line sees and changes only its own data (SPEC §4, Sessions).

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Client, KEY_B, LINE_A, LINE_B, PROVIDERS, Reply, code, codes_of, fixture, provider_name,
    purpose, rows, service_name, spawn_app, spawn_app_on,
};

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
            "purpose": purpose(1),
            "setting": "notify",
            "set_on": "2024-12-01",
            "method": "初期設定",
            "last_disclosed_at": null,
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

/// Every route of `server/src/routes/mod.rs`, as (method, path under
/// `/api`). When a route is added there, add it here:
/// `the_route_list_matches_the_router` fails until then, and
/// `another_line_calling_every_route_with_a_lines_identifiers_sees_only_its_own_data`
/// fails until it calls the new route with the other line's identifiers.
const API_ROUTES: &[(&str, &str)] = &[
    ("POST", "/session"),
    ("GET", "/session"),
    ("DELETE", "/session"),
    ("GET", "/line"),
    ("GET", "/notifications"),
    ("GET", "/disclosures"),
    ("GET", "/providers"),
    ("GET", "/consent"),
    ("POST", "/applications"),
    ("GET", "/applications"),
    ("GET", "/applications/{id}"),
];

/// The (method, path) pairs the router's source declares: each
/// `.route("path", get(..).post(..))` of `routes/mod.rs`.
fn routes_in_source(source: &str) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for declaration in source.split(".route(").skip(1) {
        let declaration = declaration
            .split(".fallback(")
            .next()
            .unwrap_or(declaration);
        let path = declaration
            .split('"')
            .nth(1)
            .expect("a route path in quotes");
        let bytes = declaration.as_bytes();
        for method in [
            "get", "post", "put", "patch", "delete", "head", "options", "any",
        ] {
            let needle = format!("{method}(");
            let mut from = 0;
            while let Some(at) = declaration[from..].find(&needle) {
                let start = from + at;
                let standalone = start == 0
                    || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
                if standalone {
                    found.insert((method.to_uppercase(), path.to_owned()));
                }
                from = start + needle.len();
            }
        }
    }
    found
}

#[test]
fn the_route_reader_finds_every_method_of_every_route() {
    let source = r#"
        Router::new()
            .route("/a", post(auth::login).get(auth::get_a).delete(x))
            .route("/b/{id}", put(b::put_b))
            .fallback(|| async { get(1) })
    "#;
    let pairs = |list: &[(&str, &str)]| -> BTreeSet<(String, String)> {
        list.iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect()
    };

    assert_eq!(
        routes_in_source(source),
        pairs(&[
            ("POST", "/a"),
            ("GET", "/a"),
            ("DELETE", "/a"),
            ("PUT", "/b/{id}")
        ])
    );
}

#[test]
fn the_route_list_matches_the_router() {
    let source = include_str!("../../src/routes/mod.rs");
    let listed: BTreeSet<(String, String)> = API_ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();

    assert_eq!(
        routes_in_source(source),
        listed,
        "routes/mod.rs and API_ROUTES differ: update API_ROUTES and the access-control matrix"
    );
}

/// Everything line A can see, as the exact bytes the server sends.
async fn everything_seen_by(
    client: &Client,
    application_ids: &[&str],
) -> Vec<(String, u16, String)> {
    let mut paths: Vec<String> = [
        "/api/session",
        "/api/line",
        "/api/notifications",
        "/api/disclosures",
        "/api/applications",
        "/api/consent",
        "/api/providers",
        "/api/providers?page=2",
        "/api/providers?page=3",
    ]
    .map(str::to_owned)
    .to_vec();
    paths.extend(
        application_ids
            .iter()
            .map(|id| format!("/api/applications/{id}")),
    );
    let mut seen = Vec::new();
    for path in paths {
        let response = client
            .http
            .get(client.url(&path))
            .send()
            .await
            .expect("the request is sent");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        assert_eq!(status, 200, "{path}: {text}");
        seen.push((path, status, text));
    }
    seen
}

/// Asserts 404 with the one not-found body.
#[track_caller]
fn assert_not_found(reply: &Reply, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "{what}: {}",
        reply.body
    );
    assert_eq!(reply.body["kind"], "not_found", "{what}: {}", reply.body);
}

/// `A`'s application ID written the ways `ApplicationId::parse` accepts.
fn spellings(id: &str) -> Vec<String> {
    let full_width: String = id
        .chars()
        .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c))
        .collect();
    let encoded: String = full_width.bytes().map(|b| format!("%{b:02X}")).collect();
    vec![
        id.to_owned(),
        format!("{}-{}-{}-{}", &id[..4], &id[4..8], &id[8..12], &id[12..]),
        format!("{}%20{}", &id[..8], &id[8..]),
        encoded,
    ]
}

#[tokio::test]
async fn another_line_calling_every_route_with_a_lines_identifiers_sees_only_its_own_data() {
    // Line A: one application completed (so a setting changed), then one
    // left pending (the second server's work takes an hour).
    let db = crate::helpers::TestDatabase::new().await;
    let first = spawn_app_on(&db, |c| c.work_delay = Duration::from_secs(1)).await;
    first.import(fixture()).await.expect("the fixture imports");
    let a = first.line_a().await;
    let done_draft = a.draft("notify", &["W0010"]).await;
    let done = a.submit_draft(&done_draft).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
    let done_id = done.body["id"].as_str().expect("an ID").to_owned();
    a.wait_until_completed(&done_id).await;
    first.stop();
    let app = spawn_app_on(&db, |c| c.work_delay = Duration::from_secs(3600)).await;
    let a = app.line_a().await;
    let pending_draft = a.draft("do_not_notify", &["W0002"]).await;
    let pending = a.submit_draft(&pending_draft).await;
    assert_eq!(pending.status, StatusCode::CREATED, "{}", pending.body);
    let pending_id = pending.body["id"].as_str().expect("an ID").to_owned();
    let a_ids = [done_id.as_str(), pending_id.as_str()];
    // A's customer ID given to W0010 once.
    app.store
        .record_disclosure(&kaisen::store::DisclosureRecord {
            id: "a-disclosure".into(),
            at: shared::domain::Timestamp::from_unix(1_800_000_000),
            customer_id: shared::domain::CustomerId::parse(LINE_A).expect("an ID"),
            provider: shared::domain::ProviderCode::parse("W0010").expect("a code"),
            reason: shared::api::DisclosureReason::Granted,
            lookup: None,
            application_id: None,
        })
        .await
        .expect("recorded");
    assert_eq!(a.get("/api/disclosures").await.body["total"], 1);
    let before = everything_seen_by(&a, &a_ids).await;
    let b = app.line_b().await;
    let mut covered: BTreeSet<(&str, &str)> = BTreeSet::new();

    // GET /applications/{id}: A's IDs, however written, are not found.
    for id in a_ids {
        for spelling in spellings(id) {
            assert_not_found(
                &b.get(&format!("/api/applications/{spelling}")).await,
                &spelling,
            );
        }
        let head = b
            .http
            .head(b.url(&format!("/api/applications/{id}")))
            .send()
            .await
            .expect("sent");
        assert_eq!(head.status(), StatusCode::NOT_FOUND);
    }
    covered.insert(("GET", "/applications/{id}"));

    // POST /applications with A's idempotency keys: B's own application,
    // or a refusal; never A's receipt.
    let with_as_key = b.submit_draft(&done_draft).await;
    assert_eq!(
        with_as_key.status,
        StatusCode::CREATED,
        "{}",
        with_as_key.body
    );
    let b_id = with_as_key.body["id"].as_str().expect("an ID").to_owned();
    assert!(!a_ids.contains(&b_id.as_str()), "B got A's receipt {b_id}");
    assert_eq!(with_as_key.body["changes"][0]["provider"], "W0010");
    let replayed = b.submit_draft(&done_draft).await;
    assert_eq!(replayed.status, StatusCode::OK, "{}", replayed.body);
    assert_eq!(
        replayed.body["id"],
        b_id.as_str(),
        "B's replay is B's receipt"
    );
    // A's pending change, key and all: W0002 is already 「通知しない」 for B.
    let refused = b.submit_draft(&pending_draft).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.body["kind"], "conflict");
    let mut b_pending_draft = pending_draft.clone();
    b_pending_draft["setting"] = json!("notify");
    let own = b.submit_draft(&b_pending_draft).await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
    assert!(!a_ids.contains(&own.body["id"].as_str().expect("an ID")));
    covered.insert(("POST", "/applications"));

    // GET /applications: B's two, none of A's, whatever the query says.
    for path in [
        "/api/applications",
        &format!("/api/applications?customer_id={LINE_A}"),
    ] {
        let history = b.get(path).await;
        assert_eq!(history.status, StatusCode::OK, "{}", history.body);
        let mut ids = codes_of(&history.body, "id");
        ids.sort();
        let mut expected = vec![
            b_id.clone(),
            own.body["id"].as_str().unwrap_or("").to_owned(),
        ];
        expected.sort();
        assert_eq!(ids, expected, "{path}");
    }
    covered.insert(("GET", "/applications"));

    // GET /providers, every page and beyond: B's list (W0001 is B's one
    // 「通知する」; W0010 is offered, pending for B, though A notifies it).
    let mut offered = Vec::new();
    for page in 1..=3 {
        let reply = b
            .get(&format!("/api/providers?page={page}&customer_id={LINE_A}"))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["total"], 44, "{}", reply.body);
        offered.extend(rows(&reply.body["items"]).iter().cloned());
    }
    let codes: Vec<&str> = offered.iter().filter_map(|r| r["code"].as_str()).collect();
    let expected: Vec<String> = (2..=PROVIDERS).map(code).collect();
    assert_eq!(codes, expected);
    let w0010 = offered
        .iter()
        .find(|r| r["code"] == "W0010")
        .expect("offered to B");
    assert_eq!(w0010["pending"], true, "B's own pending change");
    for query in ["page=0", "page=4", "page=99999999"] {
        let reply = b.get(&format!("/api/providers?{query}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
        assert_eq!(reply.body["total"], 44, "{query}");
    }
    for query in ["page=-1", "page=abc", "page=99999999999"] {
        let reply = b.get(&format!("/api/providers?{query}")).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            reply.body
        );
    }
    covered.insert(("GET", "/providers"));

    // GET /notifications, /line, /session: B's, whatever is asked for.
    let b_row = json!([{
        "provider": "W0001",
        "service_name": service_name(1),
        "provider_name": provider_name(1),
        "purpose": purpose(1),
        "setting": "notify",
        "set_on": "2024-12-01",
        "method": "初期設定",
        "last_disclosed_at": null,
        "pending": false,
    }]);
    for query in ["", "?customer_id=CAF0000000001", "?provider=W0002"] {
        let reply = b.get(&format!("/api/notifications{query}")).await;
        assert_eq!(reply.body, b_row, "notifications{query}");
        let line = b.get(&format!("/api/line{query}")).await;
        assert_eq!(line.body["customer_id"], LINE_B, "line{query}");
        let session = b.get(&format!("/api/session{query}")).await;
        assert_eq!(session.body["customer_id"], LINE_B, "session{query}");
    }
    let spoofed = b
        .http
        .get(b.url("/api/line"))
        .header("X-Customer-Id", LINE_A)
        .header("X-Forwarded-User", LINE_A)
        .send()
        .await
        .expect("sent");
    let spoofed: Value = spoofed.json().await.expect("JSON");
    assert_eq!(spoofed["customer_id"], LINE_B);
    covered.insert(("GET", "/notifications"));
    for query in [
        "",
        "?customer_id=CAF0000000001",
        "?page=1&customer_id=CAF0000000001",
    ] {
        let reply = b.get(&format!("/api/disclosures{query}")).await;
        assert_eq!(
            reply.body,
            json!({"total": 0, "page": 1, "pages": 1, "items": []}),
            "disclosures{query}"
        );
    }
    covered.insert(("GET", "/disclosures"));
    covered.insert(("GET", "/line"));
    covered.insert(("GET", "/session"));

    // GET /consent: the one document, not line data.
    assert_eq!(b.get("/api/consent").await.status, StatusCode::OK);
    covered.insert(("GET", "/consent"));

    // POST /session with A's customer ID and B's key: refused (423/429 if
    // a lockout answers first), and B stays B.
    let login = b.log_in(LINE_A, KEY_B).await;
    assert!(
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::LOCKED,
            StatusCode::TOO_MANY_REQUESTS
        ]
        .contains(&login.status),
        "{}: {}",
        login.status,
        login.body
    );
    assert_eq!(b.get("/api/line").await.body["customer_id"], LINE_B);
    covered.insert(("POST", "/session"));

    // No route takes a customer ID, a provider code or an application ID
    // other than those above: guesses are 404, other methods 405.
    let done_path = format!("/api/applications/{done_id}");
    for path in [
        format!("/api/lines/{LINE_A}"),
        format!("/api/line/{LINE_A}"),
        format!("/api/customers/{LINE_A}/notifications"),
        format!("/api/notifications/{LINE_A}"),
        "/api/notifications/W0002".to_owned(),
        "/api/providers/W0010".to_owned(),
        format!("{done_path}/cancel"),
        format!("{done_path}/receipt"),
        "/api/settings".to_owned(),
        "/api/admin".to_owned(),
    ] {
        assert_not_found(&b.get(&path).await, &path);
    }
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
    ] {
        let reply = b
            .http
            .request(method.clone(), b.url(&done_path))
            .json(&json!({"setting": "do_not_notify"}))
            .send()
            .await
            .expect("sent");
        assert_eq!(reply.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    let reply = b
        .post(
            "/api/notifications",
            &json!({"customer_id": LINE_A, "provider": "W0002"}),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "{}",
        reply.body
    );

    // A cookie is the only key: A's customer ID or application ID in its
    // place is no session.
    for forged in [LINE_A, done_id.as_str(), "CAF0000000001; kaisen_session=x"] {
        let reply = reqwest::Client::new()
            .get(app.url("/api/line"))
            .header("Cookie", format!("kaisen_session={forged}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(reply.status(), StatusCode::UNAUTHORIZED, "{forged}");
    }

    // DELETE /session ends B's session only.
    assert_eq!(
        b.delete("/api/session").await.status,
        StatusCode::NO_CONTENT
    );
    b.get("/api/line").await.assert_unauthenticated();
    covered.insert(("DELETE", "/session"));

    let every_route: BTreeSet<(&str, &str)> = API_ROUTES.iter().copied().collect();
    assert_eq!(covered, every_route, "a route is missing from the matrix");
    assert_eq!(
        everything_seen_by(&a, &a_ids).await,
        before,
        "line A's data changed"
    );
}
