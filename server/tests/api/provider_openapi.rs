//! The provider API's contract (SPEC §8): `GET /provider/v1/openapi.json`
//! is an OpenAPI 3.1 document naming every route, and it is the committed
//! snapshot, so that a change of the contract is a reviewed change.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

/// The committed copy of the document.
const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/api/snapshots/provider-openapi.json"
);

/// The variable that makes the snapshot test rewrite the copy.
const UPDATE: &str = "KAISEN_UPDATE_SNAPSHOTS";

/// The document as served, after checking how it is served.
async fn served_document(app: &TestApp) -> String {
    let response = reqwest::get(app.url("/provider/v1/openapi.json"))
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| response.headers()[name].to_str().expect("ASCII").to_owned();
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(header("cache-control"), "no-store");
    response.text().await.expect("a body")
}

#[tokio::test]
async fn the_provider_api_contract_is_the_committed_snapshot() {
    let app = spawn_app().await;
    let served = served_document(&app).await;
    assert_eq!(
        served,
        served_document(&app).await,
        "the same for every request"
    );
    let committed = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    if served == committed {
        return;
    }
    if std::env::var_os(UPDATE).is_some_and(|v| v == "1") {
        std::fs::write(SNAPSHOT, &served).expect("the snapshot written");
        eprintln!("{SNAPSHOT} rewritten: review and commit it");
        return;
    }
    let line = served
        .lines()
        .zip(committed.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| served.lines().count().min(committed.lines().count()));
    panic!(
        "The provider API's OpenAPI document is not the committed snapshot \
         (first difference at line {}):\n  served:    {}\n  committed: {}\n\
         If the contract changed on purpose, rewrite the snapshot and commit it:\n  \
         {UPDATE}=1 cargo test -p kaisen-server --test api provider_openapi\n",
        line + 1,
        served.lines().nth(line).unwrap_or("(end of document)"),
        committed.lines().nth(line).unwrap_or("(end of file)"),
    );
}

#[tokio::test]
async fn the_provider_api_contract_is_openapi_3_1_and_every_path_in_it_is_routed() {
    let app = spawn_app().await;
    let document: Value = serde_json::from_str(&served_document(&app).await).expect("JSON");
    let version = document["openapi"].as_str().expect("a version");
    assert!(version.starts_with("3.1."), "{version}");
    assert_eq!(document["servers"][0]["url"], "/provider/v1");

    let paths = document["paths"].as_object().expect("paths");
    let operations: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().expect("a path item");
            methods.keys().map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    for expected in [
        ("post", "/token"),
        ("post", "/line-info/retrieve"),
        ("get", "/events"),
        ("get", "/openapi.json"),
    ] {
        assert!(
            operations
                .iter()
                .any(|(m, p)| (m.as_str(), p.as_str()) == expected),
            "{expected:?} in {operations:?}"
        );
    }
    let lookup = &paths["/line-info/retrieve"]["post"];
    assert_eq!(lookup["security"], serde_json::json!([{"bearer": []}]));
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for status in ["200", "400", "401", "429"] {
        assert!(lookup["responses"][status].is_object(), "lookup {status}");
    }

    // Every documented operation is a route: without credentials it is
    // refused, never the fallback's 404 or a 405.
    let http = reqwest::Client::new();
    for (method, path) in &operations {
        let method =
            reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
        let status = http
            .request(method.clone(), app.url(&format!("/provider/v1{path}")))
            .send()
            .await
            .expect("answered")
            .status();
        assert!(
            ![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&status),
            "{method} {path}: {status}"
        );
    }
    let beside = reqwest::get(app.url("/provider/v1/openapi.json/x"))
        .await
        .expect("answered");
    assert_eq!(beside.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        beside.json::<Value>().await.expect("JSON"),
        serde_json::json!({"error": "not_found"})
    );
}
