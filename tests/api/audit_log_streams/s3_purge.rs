//! The S3 sink against a real S3-compatible server (moto), read back with boto3; and the
//! retention purge over events seeded by SQL.

use std::io::Read;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{configure, ingest, org, queued, schema, stream};
use crate::support::TestApp;
use crate::support::moto::{ACCESS_KEY_ID, Moto, SECRET_ACCESS_KEY};
use crate::support::skip;

#[tokio::test]
async fn s3_streams_write_gzipped_ndjson_objects_with_time_sorted_keys() {
    if skip("KEYSTEAD_SKIP_SDK_TESTS", "the S3 stream test (moto)") {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("siem-audit");
    let app = TestApp::with(|s| s.audit_log_streams.batch_size = 2).await;
    schema(&app).await;
    let org = org(&app).await;
    let created = configure(
        &app,
        &org,
        json!({"type": "S3", "bucket": "siem-audit", "endpoint": moto.endpoint,
               "access_key_id": ACCESS_KEY_ID, "secret_access_key": SECRET_ACCESS_KEY,
               "prefix": "/keystead/audit/"}),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["config"]["path_style"], true);
    assert_eq!(created["config"]["prefix"], "keystead/audit/");
    assert_eq!(created["config"]["region"], "us-east-1");
    assert!(!created.to_string().contains(SECRET_ACCESS_KEY));
    for name in ["one", "two", "three"] {
        ingest(&app, &org, name).await;
    }
    assert_eq!(
        keystead::workers::audit_log_streams::run_once(&app.state)
            .await
            .unwrap(),
        3
    );
    let keys = moto.list("siem-audit", "keystead/audit/");
    assert_eq!(keys.len(), 2, "one object per batch: {keys:?}");
    let mut names = Vec::new();
    for key in &keys {
        assert!(
            key.starts_with(&format!("keystead/audit/{org}/")) && key.ends_with(".ndjson.gz"),
            "{key}"
        );
        let mut text = String::new();
        flate2::read::GzDecoder::new(moto.read("siem-audit", key).as_slice())
            .read_to_string(&mut text)
            .unwrap();
        for line in text.lines() {
            let event: Value = serde_json::from_str(line).unwrap();
            assert_eq!(event["object"], "audit_log_event");
            assert_eq!(event["organization_id"], org.as_str());
            names.push(event["actor"]["name"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        names,
        ["one", "two", "three"],
        "keys sort in delivery order"
    );
    let s = stream(&app, &org).await;
    assert_eq!(s["state"], "active");
    assert!(s["last_synced_at"].is_string());

    // A missing bucket is a passing failure: retried, the events stay queued.
    let other = super::org(&app).await;
    configure(
        &app,
        &other,
        json!({"type": "S3", "bucket": "no-such-bucket", "endpoint": moto.endpoint,
               "access_key_id": ACCESS_KEY_ID, "secret_access_key": SECRET_ACCESS_KEY}),
        StatusCode::CREATED,
    )
    .await;
    ingest(&app, &other, "waits").await;
    keystead::workers::audit_log_streams::run_once(&app.state)
        .await
        .unwrap();
    assert_eq!(stream(&app, &other).await["state"], "error");
    assert_eq!(queued(&app, &other).await, 1);
    app.allow_pending_jobs();
}

/// Inserts `n` events of `org` that occurred `days_ago` days ago.
async fn seed(app: &TestApp, env: &keystead::ids::EnvironmentId, org: &str, n: i64, days_ago: i32) {
    sqlx::query(
        "insert into audit_log_events (environment_id, id, organization_id, action, version,
           occurred_at, actor, targets, context)
         select $1, 'audit_log_event_seed' || $4 || '_' || $3 || '_' || i, $2, 'user.signed_in', 1,
                now() - make_interval(days => $4) - make_interval(secs => i),
                '{\"id\": \"u\", \"type\": \"user\"}', '[]', '{\"location\": \"x\"}'
         from generate_series(1, $3::bigint) i",
    )
    .bind(env)
    .bind(org)
    .bind(n)
    .bind(days_ago)
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn ages(app: &TestApp, org: &str) -> Vec<(i32, i64)> {
    sqlx::query_as(
        "select extract(day from now() - occurred_at)::int as d, count(*)
         from audit_log_events where organization_id = $1 group by 1 order by 1",
    )
    .bind(org)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_purge_deletes_events_past_each_organizations_retention_in_batches() {
    let app = TestApp::with(|s| s.audit_log_streams.purge_batch = 1000).await;
    let env = app.tenant.environment_id.clone();
    let short = org(&app).await;
    let long = org(&app).await;
    let res = app
        .put(
            &format!("/organizations/{short}/audit_logs_retention"),
            &json!({"retention_period_in_days": 30}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    seed(&app, &env, &short, 2500, 40).await;
    seed(&app, &env, &short, 10, 10).await;
    seed(&app, &env, &long, 30, 400).await;
    seed(&app, &env, &long, 20, 40).await;
    // Another environment's organization with the default retention.
    let other = app.new_tenant("Other").await;
    let res = app
        .send(
            axum::http::Method::POST,
            "/organizations",
            Some(&other.api_key),
            Some(&json!({"name": "Other"})),
        )
        .await;
    let foreign = res.body["id"].as_str().unwrap().to_string();
    seed(&app, &other.environment_id, &foreign, 5, 40).await;
    seed(&app, &other.environment_id, &foreign, 5, 366).await;

    let deleted = keystead::workers::audit_log_streams::purge::purge_once(&app.state)
        .await
        .unwrap();
    assert_eq!(deleted, 2500 + 30 + 5);
    assert_eq!(ages(&app, &short).await, [(10, 10)]);
    assert_eq!(ages(&app, &long).await, [(40, 20)]);
    assert_eq!(ages(&app, &foreign).await, [(40, 5)]);
    assert_eq!(
        keystead::workers::audit_log_streams::purge::purge_once(&app.state)
            .await
            .unwrap(),
        0,
        "nothing left to purge"
    );
}

#[tokio::test]
async fn a_purged_event_still_queued_for_a_stream_is_dropped_from_the_queue() {
    let app = TestApp::new().await;
    schema(&app).await;
    let org = org(&app).await;
    let res = app
        .put(
            &format!("/organizations/{org}/audit_logs_retention"),
            &json!({"retention_period_in_days": 30}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    configure(
        &app,
        &org,
        json!({"type": "GenericHttps", "url": "http://127.0.0.1:9/unreachable"}),
        StatusCode::CREATED,
    )
    .await;
    seed(&app, &app.tenant.environment_id, &org, 3, 45).await;
    assert_eq!(
        queued(&app, &org).await,
        3,
        "the trigger queues seeded events too"
    );
    assert_eq!(
        keystead::workers::audit_log_streams::purge::purge_once(&app.state)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        keystead::workers::audit_log_streams::run_once(&app.state)
            .await
            .unwrap(),
        0
    );
    assert_eq!(queued(&app, &org).await, 0);
    let s = stream(&app, &org).await;
    assert_eq!(s["state"], "active", "nothing was sent, nothing failed");
    assert_eq!(s["last_synced_at"], Value::Null);
}
