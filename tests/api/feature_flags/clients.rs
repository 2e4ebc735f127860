//! Real clients against Feature Flags over a socket: the newest official Node SDK (management
//! calls and its runtime client polling `GET /sdk/feature-flags`, `tests/sdk/feature_flags.mjs`),
//! OpenFeature with the OFREP provider (`tests/sdk/openfeature.mjs`, lock
//! `tests/sdk/locks/openfeature`), the newest official Python SDK's `feature_flags`
//! (`tests/sdk/feature_flags.py`), and `keystead feature-flags create|delete`.

use std::path::Path;
use std::process::Command;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::flag;
use crate::support::{TestApp, locks};
use crate::um::{count, member, org, user};

/// The flags the client scripts expect: `beta` (off), `org-wide` (on, no targets) and `rollout`
/// (on, `default_value` true); an organization with a member, and a user without one.
async fn setup(app: &TestApp) -> (Value, Value, Value) {
    flag(app, "beta", false, false).await;
    flag(app, "org-wide", true, false).await;
    flag(app, "rollout", true, true).await;
    let acme = org(app, "Acme").await;
    let ada = user(app, "ada@example.com", false).await;
    member(app, &ada, &acme, "member").await;
    let bob = user(app, "bob@example.com", false).await;
    (acme, ada, bob)
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

#[tokio::test]
async fn the_node_sdk_runtime_client_polls_and_gets_304_for_its_etag() {
    if crate::support::skip("KEYSTEAD_SKIP_SDK_TESTS", "the Node SDK feature-flag test") {
        return;
    }
    let app = TestApp::new().await;
    let (acme, ada, bob) = setup(&app).await;
    let base = app.serve().await;
    let mut cmd = Command::new("node");
    cmd.arg(script("feature_flags.mjs"))
        .env("KEYSTEAD_BASE_URL", base)
        .env("KEYSTEAD_API_KEY", &app.tenant.api_key)
        .env(
            "KEYSTEAD_NODE_SDK_DIR",
            locks::node_modules("node-newest").join("@workos-inc/node"),
        )
        .env("KEYSTEAD_ORG_ID", acme["id"].as_str().unwrap())
        .env("KEYSTEAD_USER_ID", ada["id"].as_str().unwrap())
        .env("KEYSTEAD_OTHER_USER_ID", bob["id"].as_str().unwrap());
    run_ok("node runtime client", cmd).await;
    assert_eq!(
        count(&app, "flag.updated").await,
        2,
        "enabled, then disabled"
    );
    assert_eq!(count(&app, "flag.rule_updated").await, 2);
}

#[tokio::test]
async fn openfeature_evaluates_keystead_flags_through_ofrep() {
    if crate::support::skip("KEYSTEAD_SKIP_SDK_TESTS", "the OpenFeature OFREP test") {
        return;
    }
    let app = TestApp::new().await;
    let (acme, ada, _) = setup(&app).await;
    for (slug, id) in [("beta", &ada["id"]), ("org-wide", &acme["id"])] {
        super::target(&app, slug, id).await;
    }
    let res = app.put("/feature-flags/beta/enable", &json!({})).await;
    assert_eq!(res.status, StatusCode::OK);
    let base = app.serve().await;
    let mut cmd = Command::new("node");
    cmd.arg(script("openfeature.mjs"))
        .env("KEYSTEAD_BASE_URL", base)
        .env("KEYSTEAD_API_KEY", &app.tenant.api_key)
        .env("KEYSTEAD_NODE_MODULES", locks::node_modules("openfeature"))
        .env("KEYSTEAD_ORG_ID", acme["id"].as_str().unwrap())
        .env("KEYSTEAD_USER_ID", ada["id"].as_str().unwrap());
    run_ok("openfeature", cmd).await;
}

#[tokio::test]
async fn the_python_sdk_manages_flags_and_targets() {
    if crate::support::skip(
        "KEYSTEAD_SKIP_SDK_TESTS",
        "the Python SDK feature-flag test",
    ) {
        return;
    }
    let app = TestApp::new().await;
    let (acme, ada, _) = setup(&app).await;
    let base = app.serve().await;
    let mut cmd = Command::new(locks::python("python-newest"));
    cmd.arg(script("feature_flags.py"))
        .env("KEYSTEAD_BASE_URL", base)
        .env("KEYSTEAD_API_KEY", &app.tenant.api_key)
        .env("KEYSTEAD_CLIENT_ID", &app.tenant.client_id)
        .env("KEYSTEAD_ORG_ID", acme["id"].as_str().unwrap())
        .env("KEYSTEAD_USER_ID", ada["id"].as_str().unwrap());
    run_ok("python feature_flags", cmd).await;
    assert_eq!(
        count(&app, "flag.rule_updated").await,
        3,
        "two adds, one removal"
    );
    assert_eq!(app.count_rows("feature_flag_targets").await, 1);
}

#[tokio::test]
async fn the_cli_creates_and_deletes_flags() {
    let app = TestApp::new().await;
    let env = app.tenant.environment_id.to_string();
    let (ok, out) = crate::cli::keystead(
        &app,
        &[
            "feature-flags",
            "create",
            "--environment",
            &env,
            "--slug",
            "from-cli",
            "--name",
            "From the CLI",
            "--enabled",
            "--tag",
            "ops",
            "--json",
        ],
    );
    assert!(ok, "{out}");
    let created: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(created["object"], "feature_flag");
    assert_eq!(
        (created["enabled"].clone(), created["tags"].clone()),
        (json!(true), json!(["ops"]))
    );
    let got = app.get("/feature-flags/from-cli").await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["id"], created["id"]);
    assert_eq!(count(&app, "flag.created").await, 1);

    let (ok, out) = crate::cli::keystead(
        &app,
        &[
            "feature-flags",
            "create",
            "--environment",
            &env,
            "--slug",
            "from-cli",
            "--name",
            "x",
        ],
    );
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = crate::cli::keystead(
        &app,
        &[
            "feature-flags",
            "create",
            "--environment",
            &env,
            "--slug",
            "Bad",
            "--name",
            "x",
        ],
    );
    assert!(!ok && out.contains("slug"), "{out}");

    let (ok, out) = crate::cli::keystead(
        &app,
        &["feature-flags", "delete", "--environment", &env, "from-cli"],
    );
    assert!(ok, "{out}");
    assert_eq!(
        app.get("/feature-flags/from-cli").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(count(&app, "flag.deleted").await, 1);
    let (ok, out) = crate::cli::keystead(
        &app,
        &["feature-flags", "delete", "--environment", &env, "from-cli"],
    );
    assert!(!ok && out.contains("no feature flag"), "{out}");
}
