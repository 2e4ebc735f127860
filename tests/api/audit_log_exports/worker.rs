//! The export worker: a crashed attempt taken over after its lease, attempts running out into
//! `error`, and the running worker woken by `NOTIFY` exporting 10 k events within seconds.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use keystead::settings::Settings;
use serde_json::{Value, json};

use super::{
    create, download, export_body, markers, org, parse_csv, run_worker, seed_filter_events, store,
};
use crate::support::TestApp;

#[tokio::test]
async fn a_crashed_attempt_is_taken_over_after_its_lease() {
    let app = TestApp::new().await;
    let org = org(&app).await;
    seed_filter_events(&app, &org).await;
    let id = create(&app, &export_body(&org, json!({}))).await;

    // A replica claims the export, writes a chunk, and dies.
    let lease = Duration::from_millis(300);
    let crashed = store::claim(&app.pool, lease).await.unwrap().unwrap();
    assert_eq!(crashed.attempt, 1);
    assert!(
        store::write_chunk(&app.pool, &crashed, 0, b"half a file", lease)
            .await
            .unwrap()
    );
    assert_eq!(run_worker(&app).await, 0, "the lease still holds");
    tokio::time::sleep(lease + Duration::from_millis(100)).await;

    assert_eq!(run_worker(&app).await, 1, "taken over");
    let res = app.get(&format!("/audit_logs/exports/{id}")).await;
    assert_eq!(res.body["state"], "ready");
    let file = download(&app, res.body["url"].as_str().unwrap()).await;
    let (_, rows) = parse_csv(&file.text);
    assert_eq!(markers(&rows), ["e1", "e2", "e3", "e4", "e5"]);
    assert!(!file.text.contains("half a file"));
    // The dead attempt can neither write nor finish any more, and its chunk is gone.
    assert!(
        !store::write_chunk(&app.pool, &crashed, 1, b"late", lease)
            .await
            .unwrap()
    );
    let written = store::Written {
        storage: "postgres",
        object_key: None,
        chunk_count: 1,
        size_bytes: 4,
        row_count: 0,
    };
    assert!(
        !store::mark_ready(&app.pool, &crashed, &written)
            .await
            .unwrap()
    );
    let stale: i64 = sqlx::query_scalar(
        "select count(*) from audit_log_export_chunks where export_id = $1 and attempt = 1",
    )
    .bind(&id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stale, 0);
}

#[tokio::test]
async fn an_export_whose_attempts_run_out_ends_in_error() {
    let app = TestApp::with(|s: &mut Settings| s.audit_log_exports.max_attempts = 1).await;
    let org = org(&app).await;
    let id = create(&app, &export_body(&org, json!({}))).await;
    let lease = Duration::from_millis(100);
    store::claim(&app.pool, lease).await.unwrap().unwrap();
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    assert_eq!(run_worker(&app).await, 1);
    let res = app.get(&format!("/audit_logs/exports/{id}")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["state"], "error", "{}", res.text);
    assert_eq!(res.body["url"], Value::Null);
    let reason: Option<String> =
        sqlx::query_scalar("select error from audit_log_exports where id = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        reason.as_deref(),
        Some("the export did not finish in 1 attempts")
    );
    assert_eq!(res.body["error"], "the export did not finish in 1 attempts");
    assert_eq!(
        run_worker(&app).await,
        0,
        "an export in error is not retried"
    );
}

/// The running worker is woken by the creating request's `NOTIFY` (its poll interval is a
/// minute), and 10 k events (seeded by SQL) are ready within a few seconds, stored in several
/// chunks that the download streams back in order.
#[tokio::test]
async fn the_worker_is_woken_by_notify_and_exports_10k_events_in_seconds() {
    let app = TestApp::with(|s: &mut Settings| {
        s.audit_log_exports.worker_enabled = true;
        s.audit_log_exports.poll_interval = Duration::from_secs(60);
        s.audit_log_exports.chunk_bytes = 256 * 1024;
    })
    .await;
    let org = org(&app).await;
    sqlx::query(
        "insert into audit_log_events (environment_id, id, organization_id, action, version,
           occurred_at, actor, targets, context, metadata)
         select $1, 'audit_log_event_' || lpad(i::text, 26, '0'), $2, 'user.signed_in', 1,
                timestamptz '2026-01-01' + i * interval '1 second',
                jsonb_build_object('id', 'user_' || i, 'type', 'user', 'name', 'User ' || i),
                jsonb_build_array(jsonb_build_object('id', 'team_' || (i % 7), 'type', 'team')),
                '{\"location\": \"203.0.113.9\"}', jsonb_build_object('n', i)
         from generate_series(1, 10000) i",
    )
    .bind(&app.tenant.environment_id)
    .bind(&org)
    .execute(&app.pool)
    .await
    .unwrap();
    // Let the worker finish its first (empty) round and wait on its listener.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = Instant::now();
    let id = create(&app, &export_body(&org, json!({}))).await;
    let ready = loop {
        let res = app.get(&format!("/audit_logs/exports/{id}")).await;
        if res.body["state"] != "pending" {
            break res;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not ready after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = started.elapsed();
    assert_eq!(ready.body["state"], "ready", "{}", ready.text);
    assert!(took < Duration::from_secs(5), "10 k events took {took:?}");
    let chunks = app.count_rows("audit_log_export_chunks").await;
    assert!(chunks > 2, "{chunks} chunks");

    let file = download(&app, ready.body["url"].as_str().unwrap()).await;
    assert_eq!(file.status, StatusCode::OK);
    let (header, rows) = parse_csv(&file.text);
    assert_eq!(header.len(), 9 + 4);
    assert_eq!(rows.len(), 10_000);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(
            r[8],
            format!("{{\"n\":{}}}", i + 1),
            "row {i} in order, none lost"
        );
    }
    println!("10 k events ready in {took:?} ({chunks} chunks)");
}
