//! The official SDKs against Connect over a socket: the newest Node SDK (`tests/sdk/connect.mjs`:
//! applications and secrets) and the newest Python SDK with PyJWT (`tests/sdk/connect.py`: the
//! same, plus an M2M token verified against the environment's JWKS).

use std::path::Path;
use std::process::Command;

use crate::support::{TestApp, locks};
use crate::um::org;

#[tokio::test]
async fn the_node_sdk_manages_applications_and_secrets() {
    if crate::support::skip("KEYSTEAD_SKIP_SDK_TESTS", "the Node SDK Connect test") {
        return;
    }
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let base = app.serve().await;
    let mut cmd = Command::new("node");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/connect.mjs"))
        .env("KEYSTEAD_BASE_URL", base)
        .env("KEYSTEAD_API_KEY", &app.tenant.api_key)
        .env(
            "KEYSTEAD_NODE_SDK_DIR",
            locks::node_modules("node-newest").join("@workos-inc/node"),
        )
        .env("KEYSTEAD_ORG_ID", acme["id"].as_str().unwrap());
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run node"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        app.count_rows("connect_applications").await,
        1,
        "the M2M app is left"
    );
}

#[tokio::test]
async fn the_python_sdk_manages_applications_and_pyjwt_verifies_an_m2m_token() {
    if crate::support::skip("KEYSTEAD_SKIP_SDK_TESTS", "the Python SDK Connect test") {
        return;
    }
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let base = app.serve().await;
    let mut cmd = Command::new(locks::python("python-newest"));
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/connect.py"))
        .env("KEYSTEAD_BASE_URL", base)
        .env("KEYSTEAD_API_KEY", &app.tenant.api_key)
        .env("KEYSTEAD_CLIENT_ID", &app.tenant.client_id)
        .env("KEYSTEAD_ORG_ID", acme["id"].as_str().unwrap());
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run python"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        app.count_rows("connect_applications").await,
        1,
        "the OAuth app is left"
    );
}
