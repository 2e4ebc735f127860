//! The official SDKs drive the export flow against a served app with the worker running: the
//! newest Node SDK (`tests/sdk/audit_log_exports.mjs`) and the newest Python SDK
//! (`tests/sdk/audit_log_exports.py`), each downloading the export's `url` without an API key.

use std::path::Path;
use std::time::Duration;

use keystead::settings::Settings;

use super::org;
use crate::support::TestApp;

/// Serves a TestApp whose public URL is the address it listens on (so download URLs work from
/// outside), with the export worker running; returns the app and its base URL.
async fn served_with_worker() -> (TestApp, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let public = base.clone();
    let app = TestApp::with(move |s: &mut Settings| {
        s.public_url = public;
        s.audit_log_exports.worker_enabled = true;
        s.audit_log_exports.poll_interval = Duration::from_millis(200);
    })
    .await;
    let router = app.router.clone();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    (app, base)
}

/// Runs `cmd` on a blocking thread; panics with its output unless it exits 0 printing `ok`.
async fn run_script(mut cmd: std::process::Command, what: &str) {
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run the script"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok"),
        "{what}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The newest official Node SDK: `auditLogs.createExport` with filters, `getExport` until ready,
/// the URL downloaded with `fetch`, and the error paths (`tests/sdk/audit_log_exports.mjs`).
#[tokio::test]
async fn the_official_node_sdk_creates_gets_and_downloads_an_export() {
    if crate::support::skip(
        "KEYSTEAD_SKIP_SDK_TESTS",
        "the Node SDK audit-log export test",
    ) {
        return;
    }
    let (app, base) = served_with_worker().await;
    let org = org(&app).await;
    let sdk = crate::support::locks::node_modules("node-newest").join("@workos-inc/node");
    let mut cmd = std::process::Command::new("node");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/audit_log_exports.mjs"))
        .env("KEYSTEAD_BASE_URL", &base)
        .env("KEYSTEAD_API_KEY", &app.tenant.api_key)
        .env("KEYSTEAD_NODE_SDK_DIR", sdk)
        .env("KEYSTEAD_ORG_ID", &org);
    run_script(cmd, "node").await;
    assert_eq!(
        app.count_rows("audit_log_exports").await,
        1,
        "the 400 wrote nothing"
    );
}

/// The newest official Python SDK: `audit_logs.create_schema`, `create_event`, `create_export`
/// and `get_export`, and the URL downloaded (`tests/sdk/audit_log_exports.py`).
#[tokio::test]
async fn the_official_python_sdk_creates_gets_and_downloads_an_export() {
    if crate::support::skip(
        "KEYSTEAD_SKIP_SDK_TESTS",
        "the Python SDK audit-log export test",
    ) {
        return;
    }
    let (app, base) = served_with_worker().await;
    let org = org(&app).await;
    let python = crate::support::locks::python("python-newest");
    let mut cmd = std::process::Command::new(python);
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/audit_log_exports.py"))
        .env("KEYSTEAD_BASE_URL", &base)
        .env("KEYSTEAD_API_KEY", &app.tenant.api_key)
        .env("KEYSTEAD_CLIENT_ID", &app.tenant.client_id)
        .env("KEYSTEAD_ORG_ID", &org);
    run_script(cmd, "python").await;
    assert_eq!(
        app.count_rows("audit_log_exports").await,
        1,
        "the 400 wrote nothing"
    );
}
