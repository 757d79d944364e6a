//! The built client: files as they are, `index.html` for every other path
//! (deep links and reloads), and never for `/api`.

use reqwest::StatusCode;

use crate::helpers::{APP_JS, APP_JS_BR, INDEX_HTML, TestApp, spawn_app};

/// Status, `Content-Type` and body of `GET path`.
async fn fetch(app: &TestApp, path: &str) -> (StatusCode, Option<String>, String) {
    let (status, content_type, _, body) = fetch_with_cache_control(app, path).await;
    (status, content_type, body)
}

/// Status, `Content-Type`, `Cache-Control` and body of `GET path`.
async fn fetch_with_cache_control(
    app: &TestApp,
    path: &str,
) -> (StatusCode, Option<String>, Option<String>, String) {
    let response = reqwest::get(app.url(path)).await.expect("sent");
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (content_type, cache_control) = (header("content-type"), header("cache-control"));
    (
        status,
        content_type,
        cache_control,
        response.text().await.expect("a body"),
    )
}

#[tokio::test]
async fn the_root_serves_the_client() {
    let app = spawn_app().await;

    let (status, content_type, body) = fetch(&app, "/").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, INDEX_HTML);
    assert!(
        content_type.is_some_and(|t| t.starts_with("text/html")),
        "text/html"
    );
}

#[tokio::test]
async fn a_deep_link_serves_the_client_with_200() {
    let app = spawn_app().await;

    for path in [
        "/notification/add",
        "/notification",
        "/apply/consent",
        "/applications/2026112500000421",
        "/no/such/page?x=1",
    ] {
        let (status, content_type, body) = fetch(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, INDEX_HTML, "{path}");
        assert!(
            content_type.is_some_and(|t| t.starts_with("text/html")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_static_file_is_served_as_it_is() {
    let app = spawn_app().await;

    let (status, content_type, body) = fetch(&app, "/assets/app.js").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, APP_JS);
    assert!(
        content_type.is_some_and(|t| t.contains("javascript")),
        "a script"
    );
}

#[tokio::test]
async fn an_unknown_api_path_is_a_json_404_not_the_client() {
    let app = spawn_app().await;

    for path in [
        "/api/anything",
        "/api/notification/add",
        "/api/line/",
        "/api",
        "/api/",
        "/api//line",
        "/api?x=1",
    ] {
        let (status, content_type, cache_control, body) =
            fetch_with_cache_control(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(content_type.as_deref(), Some("application/json"), "{path}");
        assert_eq!(cache_control.as_deref(), Some("no-store"), "{path}");
        let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(
            body,
            serde_json::json!({"kind": "not_found", "message": "お探しの情報は見つかりませんでした"}),
            "{path}"
        );
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/notification/add",
        "/assets/app.js",
        "/assets/missing.js",
        "/api/line",
        "/api/nothing",
    ] {
        let response = reqwest::get(app.url(path)).await.expect("sent");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header("content-security-policy").as_deref(),
            Some(kaisen::startup::CONTENT_SECURITY_POLICY),
            "{path}"
        );
        assert!(
            kaisen::startup::CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'")
                && !kaisen::startup::CONTENT_SECURITY_POLICY.contains("unsafe-inline"),
        );
        assert_eq!(
            header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            header("referrer-policy").as_deref(),
            Some("no-referrer"),
            "{path}"
        );
        assert_eq!(
            header("cross-origin-opener-policy").as_deref(),
            Some("same-origin"),
            "{path}"
        );
    }
}

/// The headers of `GET path` sent with `Accept-Encoding: accept_encoding`,
/// and the body as it came (not decoded).
async fn fetch_encoded(
    app: &TestApp,
    path: &str,
    accept_encoding: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let response = reqwest::Client::new()
        .get(app.url(path))
        .header("accept-encoding", accept_encoding)
        .send()
        .await
        .expect("sent");
    let (status, headers) = (response.status(), response.headers().clone());
    (
        status,
        headers,
        response.bytes().await.expect("a body").to_vec(),
    )
}

#[tokio::test]
async fn an_asset_is_cached_for_good_and_the_page_is_revalidated() {
    let app = spawn_app().await;

    let (_, _, asset_cache, _) = fetch_with_cache_control(&app, "/assets/app.js").await;
    assert_eq!(
        asset_cache.as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    for path in ["/", "/index.html", "/notification/add?page=2"] {
        let (status, _, cache_control, body) = fetch_with_cache_control(&app, path).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, INDEX_HTML),
            "{path}"
        );
        assert_eq!(cache_control.as_deref(), Some("no-cache"), "{path}");
    }
}

#[tokio::test]
async fn a_missing_asset_is_a_404_that_is_not_cached_and_not_the_page() {
    let app = spawn_app().await;

    for path in ["/assets/kaisen-0000000000000000.js", "/assets/", "/assets"] {
        let (status, _, cache_control, body) = fetch_with_cache_control(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_ne!(body, INDEX_HTML, "{path}");
        assert_eq!(cache_control, None, "{path}");
    }
}

#[tokio::test]
async fn the_brotli_copy_goes_to_a_browser_that_accepts_it() {
    let app = spawn_app().await;

    let (status, headers, body) = fetch_encoded(&app, "/assets/app.js", "gzip, br").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, APP_JS_BR);
    assert_eq!(headers["content-encoding"], "br");
    assert!(
        headers["content-type"]
            .to_str()
            .is_ok_and(|t| t.contains("javascript"))
    );
    assert_eq!(headers["vary"], "accept-encoding");

    // No copy in an accepted encoding: the file as it is.
    let (status, headers, body) = fetch_encoded(&app, "/assets/app.js", "gzip").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, APP_JS.as_bytes());
    assert_eq!(headers.get("content-encoding"), None);
    assert_eq!(headers["vary"], "accept-encoding");
}
