//! `/livez`, `/readyz`, `/robots.txt` and the headers every response
//! carries for crawlers and the browser's feature policy.

use reqwest::StatusCode;

use crate::helpers::{INDEX_HTML, spawn_app};

#[tokio::test]
async fn livez_and_readyz_answer_plainly_and_never_with_the_client() {
    let app = spawn_app().await;
    for (path, body) in [("/livez", "ok\n"), ("/readyz", "ready\n")] {
        let response = reqwest::get(app.url(path)).await.expect("an answer");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let text = response.text().await.expect("a body");
        assert_eq!(text, body, "{path}");
        assert_ne!(text, INDEX_HTML);
    }
}

#[tokio::test]
async fn robots_txt_disallows_everything_and_pages_say_noindex() {
    let app = spawn_app().await;
    let robots = reqwest::get(app.url("/robots.txt"))
        .await
        .expect("an answer");
    assert_eq!(robots.status(), StatusCode::OK);
    assert!(
        robots.headers()["content-type"]
            .to_str()
            .expect("text")
            .starts_with("text/plain"),
    );
    assert_eq!(
        robots.text().await.expect("a body"),
        "User-agent: *\nDisallow: /\n"
    );

    for path in ["/", "/top", "/api/line", "/assets/app.js"] {
        let response = reqwest::get(app.url(path)).await.expect("an answer");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("x-robots-tag"), "noindex, nofollow", "{path}");
        assert_eq!(
            header("cross-origin-resource-policy"),
            "same-origin",
            "{path}"
        );
        let policy = header("permissions-policy");
        for denied in ["camera=()", "microphone=()", "geolocation=()", "payment=()"] {
            assert!(policy.contains(denied), "{path}: {policy}");
        }
    }
}

#[tokio::test]
async fn html_and_javascript_name_their_charset() {
    let app = spawn_app().await;
    for (path, expected) in [
        ("/", "text/html; charset=utf-8"),
        ("/top", "text/html; charset=utf-8"),
        ("/assets/app.js", "text/javascript; charset=utf-8"),
    ] {
        let response = reqwest::get(app.url(path)).await.expect("an answer");
        assert_eq!(response.headers()["content-type"], expected, "{path}");
    }
}
