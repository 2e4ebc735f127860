//! Exports stored in an S3-compatible bucket (a real moto server from `tests/sdk/locks/moto/`,
//! checked with boto3): the worker streams the CSV file into one object, the signed URL
//! downloads it through Keystead, nothing is stored in Postgres; a bucket that does not exist
//! makes the export end in `error` with the store's reason.

use axum::http::StatusCode;
use keystead::settings::Settings;
use serde_json::{Value, json};

use super::{
    create, download, export_body, markers, org, parse_csv, run_worker, seed_filter_events,
};
use crate::support::TestApp;
use crate::support::moto::Moto;

#[tokio::test]
async fn exports_are_stored_in_the_bucket_and_downloaded_through_the_signed_url() {
    if crate::support::skip("KEYSTEAD_SKIP_SDK_TESTS", "the S3 export test (moto)") {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("exports");
    let config = moto.config("exports");
    let app = TestApp::with(move |s: &mut Settings| {
        s.audit_log_exports.s3 = Some(config);
        s.audit_log_exports.s3_prefix = "keystead/exports/".into();
        // Small chunks: several writes into the object.
        s.audit_log_exports.chunk_bytes = 256;
    })
    .await;
    let org = org(&app).await;
    seed_filter_events(&app, &org).await;
    let id = create(&app, &export_body(&org, json!({}))).await;
    assert_eq!(run_worker(&app).await, 1);

    let res = app.get(&format!("/audit_logs/exports/{id}")).await;
    assert_eq!(res.body["state"], "ready", "{}", res.text);
    let file = download(&app, res.body["url"].as_str().unwrap()).await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.text);
    assert_eq!(file.headers["content-type"], "text/csv; charset=utf-8");
    let (header, rows) = parse_csv(&file.text);
    assert_eq!(header.len(), 9 + 8);
    assert_eq!(markers(&rows), ["e1", "e2", "e3", "e4", "e5"]);

    let env = &app.tenant.environment_id;
    let key = format!("keystead/exports/{env}/{id}/1.csv");
    assert_eq!(moto.list("exports", "keystead/"), vec![key.clone()]);
    assert_eq!(moto.read("exports", &key), file.text.as_bytes());
    assert_eq!(app.count_rows("audit_log_export_chunks").await, 0);
}

#[tokio::test]
async fn a_bucket_that_fails_ends_the_export_in_error_with_a_reason() {
    if crate::support::skip("KEYSTEAD_SKIP_SDK_TESTS", "the S3 export test (moto)") {
        return;
    }
    let moto = Moto::start();
    let config = moto.config("no-such-bucket");
    let app = TestApp::with(move |s: &mut Settings| {
        s.audit_log_exports.s3 = Some(config);
        s.audit_log_exports.max_attempts = 1;
    })
    .await;
    let org = org(&app).await;
    seed_filter_events(&app, &org).await;
    let id = create(&app, &export_body(&org, json!({}))).await;
    assert_eq!(run_worker(&app).await, 1);
    let res = app.get(&format!("/audit_logs/exports/{id}")).await;
    assert_eq!(res.body["state"], "error", "{}", res.text);
    assert_eq!(res.body["url"], Value::Null);
    let reason: Option<String> =
        sqlx::query_scalar("select error from audit_log_exports where id = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let reason = reason.unwrap_or_default();
    assert_eq!(
        res.body["error"],
        reason.as_str(),
        "the reason is in the API"
    );
    assert!(
        reason.contains("bucket") || reason.contains("object"),
        "{reason}"
    );
}
