//! Logins under load (issue 10 point 7): the hashing slots are shared
//! fairly, in order of arrival, so that subscribers logging in again and
//! again cannot keep everyone else out.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

/// The proxy every test request comes through (the test's own address).
const PROXY: &str = "127.0.0.1";
/// How often the subscriber tries to log in during the flood.
const TRIES: usize = 20;

/// Lines `CAF00000009nn` with keys `Load-Key-nn`, imported into `app`.
async fn import_lines(app: &TestApp, count: usize) -> Vec<(String, String)> {
    let lines: Vec<(String, String)> = (1..=count)
        .map(|n| (format!("CAF00000009{n:02}"), format!("Load-Key-{n:02}")))
        .collect();
    let entries: Vec<Value> = lines
        .iter()
        .map(|(id, key)| json!({"customer_id": id, "access_key": key}))
        .collect();
    app.import(json!({"lines": entries}))
        .await
        .expect("the lines import");
    lines
}

/// A login of `line` claiming to come from `from` (via the trusted proxy).
async fn log_in_from(
    http: &reqwest::Client,
    app: &TestApp,
    line: &(String, String),
    from: &str,
) -> reqwest::Result<reqwest::Response> {
    http.post(app.url("/api/session"))
        .header("x-forwarded-for", from)
        .json(&json!({"customer_id": line.0, "access_key": line.1}))
        .send()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_lines_logging_in_again_and_again_do_not_keep_another_subscriber_out() {
    let app = spawn_app_with(|c| {
        c.hash_slots = Some(2);
        c.trusted_proxies = vec![PROXY.parse::<IpAddr>().expect("an address")];
    })
    .await;
    let lines = import_lines(&app, 5).await;
    let (flooders, victim) = lines.split_at(4);
    let app = Arc::new(app);
    let stop = Arc::new(AtomicBool::new(false));
    // Each flooder logs its own line in, from its own address, again and
    // again, as fast as it is answered.
    let flooding: Vec<_> = flooders
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, line)| {
            let (app, stop) = (app.clone(), stop.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let from = format!("198.51.100.{}", i + 1);
                let mut statuses = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(response) = log_in_from(&http, &app, &line, &from).await {
                        statuses.push(response.status());
                    }
                }
                statuses
            })
        })
        .collect();
    // Let the flood take the slots first.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let http = reqwest::Client::new();
    let mut in_time = 0;
    let mut outcomes = Vec::new();
    for _ in 0..TRIES {
        let login = log_in_from(&http, &app, &victim[0], "203.0.113.7");
        let outcome = match tokio::time::timeout(Duration::from_secs(2), login).await {
            Ok(Ok(response)) => response.status().to_string(),
            Ok(Err(e)) => format!("error: {e}"),
            Err(_) => "no answer within 2 s".to_owned(),
        };
        if outcome == StatusCode::OK.to_string() {
            in_time += 1;
        }
        outcomes.push(outcome);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut flooded: BTreeMap<u16, usize> = BTreeMap::new();
    for flooder in flooding {
        for status in flooder.await.expect("a flooder does not panic") {
            *flooded.entry(status.as_u16()).or_default() += 1;
        }
    }
    println!("the subscriber: {in_time}/{TRIES} in time; the flood: {flooded:?}");

    assert!(
        flooded.contains_key(&200),
        "the flood got in too: {flooded:?}"
    );
    assert!(
        in_time * 100 >= TRIES * 95,
        "the subscriber got in within 2 s in {in_time} of {TRIES} tries: {outcomes:?}"
    );
}
