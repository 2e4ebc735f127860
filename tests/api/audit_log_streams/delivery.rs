//! Delivery to local HTTP receivers: the GenericHttps signature, the Datadog logs intake and
//! Splunk HEC shapes, batches, retries with back-off after a 500, `invalid` after a 401, two
//! workers at once, and a restart of the real binary.

use std::time::Duration;

use axum::http::StatusCode;
use keystead::workers::audit_log_streams;
use serde_json::{Value, json};

use super::{Receiver, configure, ingest, org, queued, schema, stream};
use crate::binary::Server;
use crate::support::TestApp;
use crate::webhooks::verify;

/// A test app whose stream retries come quickly.
async fn app() -> TestApp {
    TestApp::with(|s| {
        s.audit_log_streams.retry_base = Duration::from_millis(50);
        s.audit_log_streams.timeout = Duration::from_secs(2);
    })
    .await
}

async fn drain(app: &TestApp) -> usize {
    audit_log_streams::run_once(&app.state).await.unwrap()
}

fn names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["actor"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn generic_https_batches_are_signed_like_webhooks() {
    let app = app().await;
    schema(&app).await;
    let org = org(&app).await;
    let quiet = super::org(&app).await;
    ingest(&app, &org, "before the stream").await;
    let rx = Receiver::start(&[]).await;
    let created = configure(
        &app,
        &org,
        json!({"type": "GenericHttps", "url": format!("{}/audit", rx.base)}),
        StatusCode::CREATED,
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_string();
    for name in ["a", "b", "c"] {
        ingest(&app, &org, name).await;
    }
    ingest(&app, &quiet, "no stream here").await;
    assert_eq!(queued(&app, &org).await, 3);
    assert_eq!(
        app.count_rows("audit_log_stream_queue").await,
        3,
        "no queue row for an organization without a stream"
    );

    assert_eq!(drain(&app).await, 3);
    let hits = rx.hits();
    assert_eq!(hits.len(), 1, "one batch");
    let hit = &hits[0];
    assert_eq!(hit.path, "/audit");
    assert_eq!(hit.headers["content-type"], "application/json");
    let signature = hit.headers["workos-signature"].to_str().unwrap();
    assert!(verify(&secret, signature, &hit.body), "{signature}");
    assert!(!verify("whsec_wrong", signature, &hit.body));
    let events: Vec<Value> = serde_json::from_str(&hit.body).unwrap();
    assert_eq!(names(&events), ["a", "b", "c"], "queue order");
    let e = &events[0];
    assert_eq!(e["object"], "audit_log_event");
    assert!(e["id"].as_str().unwrap().starts_with("audit_log_event_"));
    assert_eq!(e["organization_id"], org.as_str());
    assert_eq!(e["action"], "user.signed_in");
    assert_eq!(e["version"], 1);
    assert_eq!(e["targets"][0]["type"], "team");
    assert_eq!(e["context"]["location"], "203.0.113.7");
    assert_eq!(e["metadata"]["n"], "a");
    assert!(e["occurred_at"].as_str().unwrap().ends_with('Z'));

    assert_eq!(queued(&app, &org).await, 0);
    let s = stream(&app, &org).await;
    assert_eq!(s["state"], "active");
    let synced = s["last_synced_at"].as_str().unwrap();
    let config = app
        .get(&format!("/organizations/{org}/audit_log_configuration"))
        .await;
    assert_eq!(config.body["log_stream"]["last_synced_at"], synced);
    assert_eq!(drain(&app).await, 0, "nothing left");
    assert_eq!(rx.hits().len(), 1);
}

#[tokio::test]
async fn datadog_and_splunk_receive_their_own_formats_in_batches() {
    let app = TestApp::with(|s| s.audit_log_streams.batch_size = 2).await;
    schema(&app).await;
    let (dd_org, splunk_org) = (org(&app).await, org(&app).await);
    let dd = Receiver::start(&[]).await;
    let splunk = Receiver::start(&[]).await;
    configure(
        &app,
        &dd_org,
        json!({"type": "Datadog", "api_key": "dd-key-123", "url": dd.base, "service": "acme"}),
        StatusCode::CREATED,
    )
    .await;
    let splunk_stream = configure(
        &app,
        &splunk_org,
        json!({"type": "Splunk", "url": splunk.base, "token": "hec-token-9", "index": "audit"}),
        StatusCode::CREATED,
    )
    .await;
    assert!(splunk_stream.get("secret").is_none());
    for name in ["one", "two", "three"] {
        ingest(&app, &dd_org, name).await;
        ingest(&app, &splunk_org, name).await;
    }
    assert_eq!(drain(&app).await, 6);

    let hits = dd.hits();
    assert_eq!(hits.len(), 2, "batches of 2");
    let mut seen = Vec::new();
    for hit in &hits {
        assert_eq!(hit.path, "/api/v2/logs");
        assert_eq!(hit.headers["dd-api-key"], "dd-key-123");
        assert_eq!(hit.headers["content-type"], "application/json");
        let logs: Vec<Value> = serde_json::from_str(&hit.body).unwrap();
        for log in logs {
            assert_eq!(log["ddsource"], "keystead");
            assert_eq!(log["service"], "acme");
            let tags = log["ddtags"].as_str().unwrap();
            assert!(
                tags.contains(&format!("organization_id:{dd_org}")),
                "{tags}"
            );
            assert!(tags.contains("action:user.signed_in"), "{tags}");
            assert!(log["date"].is_string());
            let event: Value = serde_json::from_str(log["message"].as_str().unwrap()).unwrap();
            assert_eq!(event["organization_id"], dd_org.as_str());
            seen.push(event);
        }
    }
    assert_eq!(names(&seen), ["one", "two", "three"]);

    let hits = splunk.hits();
    assert_eq!(hits.len(), 2);
    let mut seen = Vec::new();
    for hit in &hits {
        assert_eq!(hit.path, "/services/collector/event");
        assert_eq!(hit.headers["authorization"], "Splunk hec-token-9");
        // HEC takes concatenated event objects, one per line here.
        for line in hit.body.lines() {
            let hec: Value = serde_json::from_str(line).unwrap();
            assert!(hec["time"].as_f64().unwrap() > 1.7e9);
            assert_eq!(hec["sourcetype"], "keystead:audit_log");
            assert_eq!(hec["index"], "audit");
            assert_eq!(hec["event"]["organization_id"], splunk_org.as_str());
            seen.push(hec["event"].clone());
        }
    }
    assert_eq!(names(&seen), ["one", "two", "three"]);
}

#[tokio::test]
async fn a_failing_sink_is_retried_with_backoff_until_it_answers() {
    let app = TestApp::with(|s| s.audit_log_streams.retry_base = Duration::from_millis(200)).await;
    schema(&app).await;
    let org = org(&app).await;
    let rx = Receiver::start(&[500, 503]).await;
    configure(
        &app,
        &org,
        json!({"type": "GenericHttps", "url": rx.base}),
        StatusCode::CREATED,
    )
    .await;
    ingest(&app, &org, "x").await;
    assert_eq!(drain(&app).await, 0);
    let s = stream(&app, &org).await;
    assert_eq!(s["state"], "error");
    assert!(s["last_error"].as_str().unwrap().contains("500"), "{s}");
    assert_eq!(s["last_synced_at"], Value::Null);
    assert_eq!(drain(&app).await, 0, "not due before its back-off");
    assert_eq!(rx.hits().len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(drain(&app).await, 0);
    assert!(
        stream(&app, &org).await["last_error"]
            .as_str()
            .unwrap()
            .contains("503")
    );
    // The second retry waits twice as long (400 ms).
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(drain(&app).await, 0, "still backing off");
    assert_eq!(rx.hits().len(), 2);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(drain(&app).await, 1);
    let hits = rx.hits();
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[0].body, hits[2].body, "the same batch again");
    let s = stream(&app, &org).await;
    assert_eq!(s["state"], "active");
    assert_eq!(s["last_error"], Value::Null);
    assert!(s["last_synced_at"].is_string());
    assert_eq!(queued(&app, &org).await, 0);
}

#[tokio::test]
async fn a_sink_refusing_the_credentials_makes_the_stream_invalid_until_reconfigured() {
    let app = app().await;
    schema(&app).await;
    let org = org(&app).await;
    let refusing = Receiver::start(&[401]).await;
    configure(
        &app,
        &org,
        json!({"type": "Splunk", "url": refusing.base, "token": "wrong"}),
        StatusCode::CREATED,
    )
    .await;
    ingest(&app, &org, "kept").await;
    assert_eq!(drain(&app).await, 0);
    let s = stream(&app, &org).await;
    assert_eq!(s["state"], "invalid");
    assert!(s["last_error"].as_str().unwrap().contains("401"), "{s}");
    let config = app
        .get(&format!("/organizations/{org}/audit_log_configuration"))
        .await;
    assert_eq!(config.body["log_stream"]["state"], "invalid");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(drain(&app).await, 0, "an invalid stream is not retried");
    assert_eq!(refusing.hits().len(), 1);
    ingest(&app, &org, "queued meanwhile").await;
    assert_eq!(queued(&app, &org).await, 2, "events keep queuing");

    let fixed = Receiver::start(&[]).await;
    configure(
        &app,
        &org,
        json!({"type": "Splunk", "url": fixed.base, "token": "right"}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(stream(&app, &org).await["state"], "active");
    assert_eq!(drain(&app).await, 2);
    assert_eq!(fixed.hits()[0].headers["authorization"], "Splunk right");
    assert_eq!(fixed.hits()[0].body.lines().count(), 2);
    assert_eq!(refusing.hits().len(), 1);
}

#[tokio::test]
async fn plain_http_sinks_are_refused_while_the_environment_forbids_them() {
    let app = TestApp::with(|s| s.webhooks.allow_http = Some(false)).await;
    schema(&app).await;
    let org = org(&app).await;
    let rx = Receiver::start(&[]).await;
    // Configured while allowed, then forbidden: the worker checks again before each batch.
    sqlx::query(
        "insert into audit_log_streams (environment_id, id, organization_id, type, config, secret_enc)
         values ($1, 'als_01TESTHTTPSTREAM000000000', $2, 'GenericHttps', $3, $4)",
    )
    .bind(&app.tenant.environment_id)
    .bind(&org)
    .bind(json!({"url": rx.base}))
    .bind(app.state.vault.seal(b"whsec_x").unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    ingest(&app, &org, "x").await;
    assert_eq!(drain(&app).await, 0);
    assert!(rx.hits().is_empty());
    let s = stream(&app, &org).await;
    assert_eq!(s["state"], "invalid");
    assert!(s["last_error"].as_str().unwrap().contains("http://"), "{s}");
}

#[tokio::test]
async fn two_workers_send_each_event_once() {
    let app = app().await;
    schema(&app).await;
    let mut receivers = Vec::new();
    for _ in 0..4 {
        let org = org(&app).await;
        let rx = Receiver::start(&[]).await;
        configure(
            &app,
            &org,
            json!({"type": "GenericHttps", "url": rx.base}),
            StatusCode::CREATED,
        )
        .await;
        for i in 0..5 {
            ingest(&app, &org, &format!("e{i}")).await;
        }
        receivers.push(rx);
    }
    let (a, b) = tokio::join!(drain(&app), drain(&app));
    assert_eq!(a + b, 20);
    for rx in receivers {
        assert_eq!(names(&rx.events()), ["e0", "e1", "e2", "e3", "e4"]);
    }
}

#[tokio::test]
async fn delivery_resumes_after_a_restart_of_the_real_binary() {
    let app = app().await;
    schema(&app).await;
    let org = org(&app).await;
    let rx = Receiver::start(&[]).await;
    configure(
        &app,
        &org,
        json!({"type": "GenericHttps", "url": rx.base}),
        StatusCode::CREATED,
    )
    .await;
    ingest(&app, &org, "queued while down").await;
    // A worker leased the stream and died before sending (zero lease: due again at once).
    let claimed = keystead::store::audit_log_streams::claim(&app.pool, 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(rx.hits().is_empty());

    let server = Server::start(
        &app,
        "sk_test_restart",
        "client_restart",
        &[
            ("KEYSTEAD_WEBHOOK_ALLOW_HTTP", "true"),
            ("KEYSTEAD_AUDIT_LOG_STREAM_POLL_INTERVAL_MS", "50"),
            ("KEYSTEAD_AUDIT_LOG_PURGE_DISABLED", "true"),
        ],
    )
    .await;
    let started = std::time::Instant::now();
    while rx.events().is_empty() && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Events ingested while it runs are delivered too.
    ingest(&app, &org, "while running").await;
    while rx.events().len() < 2 && started.elapsed() < Duration::from_secs(25) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop_cleanly();
    assert_eq!(names(&rx.events()), ["queued while down", "while running"]);
    assert_eq!(queued(&app, &org).await, 0);
    assert_eq!(stream(&app, &org).await["state"], "active");
}
