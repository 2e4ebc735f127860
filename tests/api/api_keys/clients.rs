//! The official SDKs against API Keys over a socket: the newest and oldest locked Node SDKs
//! (`tests/sdk/api_keys.mjs`: organization and user keys, validations, deletion) and the newest
//! Python SDK (`tests/sdk/api_keys.py`: expiry scheduling and `create_api_key_expire` too).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{TestApp, locks};
use crate::um::{count, member, org, user};

/// An organization with an active member.
async fn setup(app: &TestApp) -> (Value, Value) {
    let acme = org(app, "Acme").await;
    let ada = user(app, "ada@example.com", false).await;
    member(app, &ada, &acme, "member").await;
    (acme, ada)
}

/// Runs `cmd` off the runtime and asserts it printed `ok`.
async fn run_ok(what: &'static str, mut cmd: Command) {
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run the client"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok"),
        "{what}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sdk")
        .join(name)
}

async fn node(lock: &'static str) {
    if crate::support::skip("KEYSTEAD_SKIP_SDK_TESTS", "the Node SDK API Keys test") {
        return;
    }
    let app = TestApp::new().await;
    let (acme, ada) = setup(&app).await;
    let base = app.serve().await;
    let mut cmd = Command::new("node");
    cmd.arg(script("api_keys.mjs"))
        .env("KEYSTEAD_BASE_URL", base)
        .env("KEYSTEAD_API_KEY", &app.tenant.api_key)
        .env(
            "KEYSTEAD_NODE_SDK_DIR",
            locks::node_modules(lock).join("@workos-inc/node"),
        )
        .env("KEYSTEAD_ORG_ID", acme["id"].as_str().unwrap())
        .env("KEYSTEAD_USER_ID", ada["id"].as_str().unwrap());
    run_ok(lock, cmd).await;
    assert_eq!(count(&app, "api_key.created").await, 2);
    assert_eq!(count(&app, "api_key.revoked").await, 1);
}

#[tokio::test]
async fn the_newest_node_sdk_creates_lists_validates_and_deletes_keys() {
    node("node-newest").await;
}

#[tokio::test]
async fn the_oldest_node_sdk_creates_lists_validates_and_deletes_keys() {
    node("node-oldest").await;
}

#[tokio::test]
async fn the_python_sdk_creates_validates_expires_and_deletes_keys() {
    if crate::support::skip("KEYSTEAD_SKIP_SDK_TESTS", "the Python SDK API Keys test") {
        return;
    }
    let app = TestApp::new().await;
    let (acme, ada) = setup(&app).await;
    let base = app.serve().await;
    let mut cmd = Command::new(locks::python("python-newest"));
    cmd.arg(script("api_keys.py"))
        .env("KEYSTEAD_BASE_URL", base)
        .env("KEYSTEAD_API_KEY", &app.tenant.api_key)
        .env("KEYSTEAD_CLIENT_ID", &app.tenant.client_id)
        .env("KEYSTEAD_ORG_ID", acme["id"].as_str().unwrap())
        .env("KEYSTEAD_USER_ID", ada["id"].as_str().unwrap());
    run_ok("python api_keys", cmd).await;
    assert_eq!(count(&app, "api_key.updated").await, 2);
    assert_eq!(count(&app, "api_key.revoked").await, 1);
}
