//! The official SDKs drive Radar over real HTTP: the newest Python SDK (`radar.create_attempt`,
//! `update_attempt`, `add_list_entry`, `remove_list_entry`; `tests/sdk/radar.py`) and the newest
//! Node SDK (`radar.createAttempt`, `updateAttempt`, `addListEntry`, `removeListEntry`;
//! `tests/sdk/radar.mjs`).

use std::path::Path;
use std::process::Command;

use crate::support::TestApp;

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sdk")
        .join(name)
}

async fn run(mut cmd: Command) -> String {
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run the SDK script"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn the_newest_python_sdk_drives_attempts_and_lists() {
    if crate::support::skip("KEYSTEAD_SKIP_SDK_TESTS", "the Python SDK Radar test") {
        return;
    }
    let app = TestApp::new().await;
    let base = app.serve().await;
    let python = crate::support::locks::python("python-newest");
    let mut cmd = Command::new(python);
    cmd.arg(script("radar.py"))
        .arg(&base)
        .arg(&app.tenant.api_key)
        .arg(&app.tenant.client_id);
    run(cmd).await;
    assert_eq!(app.count_rows("radar_attempts").await, 3);
    assert_eq!(app.count_rows("radar_list_entries").await, 0);
}

#[tokio::test]
async fn the_newest_node_sdk_drives_attempts_and_lists() {
    if crate::support::skip("KEYSTEAD_SKIP_SDK_TESTS", "the Node SDK Radar test") {
        return;
    }
    let app = TestApp::new().await;
    let base = app.serve().await;
    let sdk = crate::support::locks::node_modules("node-newest").join("@workos-inc/node");
    let mut cmd = Command::new("node");
    cmd.arg(script("radar.mjs"))
        .env("KEYSTEAD_BASE_URL", &base)
        .env("KEYSTEAD_API_KEY", &app.tenant.api_key)
        .env("KEYSTEAD_NODE_SDK_DIR", sdk);
    run(cmd).await;
    assert_eq!(app.count_rows("radar_attempts").await, 3);
    assert_eq!(app.count_rows("radar_list_entries").await, 0);
}
