//! Logins under load (issue 10 point 7): the hashing slots are shared
//! fairly, in order of arrival, and logins of any outcome are limited per
//! line and per client address, so that subscribers logging in again and
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
    // The login limits out of the way: this is about the slots' queue.
    let app = spawn_app_with(|c| {
        c.hash_slots = Some(2);
        c.trusted_proxies = vec![PROXY.parse::<IpAddr>().expect("an address")];
        c.logins_per_line = 100_000;
        c.logins_per_address = 100_000;
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

#[tokio::test]
async fn the_eleventh_login_of_a_line_within_a_minute_waits_however_right_its_key() {
    let app = spawn_app_with(|c| {
        c.trusted_proxies = vec![PROXY.parse::<IpAddr>().expect("an address")];
    })
    .await;
    let lines = import_lines(&app, 2).await;
    let http = reqwest::Client::new();
    for n in 0..10 {
        // From ten addresses: it is the line that is limited.
        let response = log_in_from(&http, &app, &lines[0], &format!("198.51.100.{n}")).await;
        assert_eq!(
            response.expect("sent").status(),
            StatusCode::OK,
            "login {n}"
        );
    }

    let eleventh = log_in_from(&http, &app, &lines[0], "198.51.100.99")
        .await
        .expect("sent");

    assert_too_many_logins(eleventh, 1..=60).await;
    let other = log_in_from(&http, &app, &lines[1], "198.51.100.99").await;
    assert_eq!(
        other.expect("sent").status(),
        StatusCode::OK,
        "another line"
    );
}

#[tokio::test]
async fn an_address_is_limited_in_logins_of_any_outcome_and_others_are_not() {
    let app = spawn_app_with(|c| {
        c.trusted_proxies = vec![PROXY.parse::<IpAddr>().expect("an address")];
        c.logins_per_address = 6;
        c.login_window = Duration::from_secs(120);
    })
    .await;
    let lines = import_lines(&app, 4).await;
    let http = reqwest::Client::new();
    let wrong = (lines[3].0.clone(), "Wrong-Key-99".to_owned());
    for line in [&lines[0], &lines[1], &wrong, &lines[2], &wrong, &lines[0]] {
        let response = log_in_from(&http, &app, line, "198.51.100.1").await;
        assert_ne!(
            response.expect("sent").status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    let seventh = log_in_from(&http, &app, &lines[1], "198.51.100.1")
        .await
        .expect("sent");

    assert_too_many_logins(seventh, 61..=120).await;
    let elsewhere = log_in_from(&http, &app, &lines[1], "198.51.100.2").await;
    assert_eq!(elsewhere.expect("sent").status(), StatusCode::OK);
}

/// Asserts 429 with a `Retry-After` within `seconds` and a message saying
/// how long to wait.
async fn assert_too_many_logins(
    response: reqwest::Response,
    seconds: std::ops::RangeInclusive<u64>,
) {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!(seconds.contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["kind"], "too_many_requests");
    let message = body["message"].as_str().expect("a message");
    assert!(
        message.starts_with("短時間にログインが繰り返されたため")
            && message.contains(&format!("{}分ほど", retry_after.div_ceil(60))),
        "{message}"
    );
}
