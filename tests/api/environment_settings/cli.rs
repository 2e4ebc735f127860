//! `keystead environments update`: settings set from the CLI (the real binary) show in
//! `GET /environment`; bad keys, values and environments are refused with a reason.

use serde_json::{Value, json};

use crate::cli::TEST_ENCRYPTION_KEY;
use crate::support::TestApp;

fn keystead(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keystead"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("KEYSTEAD_ENCRYPTION_KEY", TEST_ENCRYPTION_KEY)
        .output()
        .expect("run keystead");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn the_cli_updates_an_environments_settings() {
    let app = TestApp::new().await;
    let env = app.tenant.environment_id.to_string();
    let (ok, out) = keystead(
        &app,
        &[
            "environments",
            "update",
            "--environment",
            &env,
            "--set",
            "access_token_ttl_seconds=900",
            "--set",
            "sign_in_methods.password=false",
            "--set",
            "sign_in_methods.oauth_providers=GoogleOAuth,GitHubOAuth",
            "--set",
            "app_homepage_url=https://app.example.com",
            "--json",
        ],
    );
    assert!(ok, "{out}");
    let printed: Value = serde_json::from_str(&out).expect("json output");
    assert_eq!(printed["access_token_ttl_seconds"], 900);
    assert_eq!(
        printed["session_ttl_seconds"],
        Value::Null,
        "not set explicitly"
    );
    let res = app.get("/environment").await;
    let s = &res.body["settings"];
    assert_eq!(s["access_token_ttl_seconds"], 900);
    assert_eq!(s["sign_in_methods"]["password"], false);
    assert_eq!(
        s["sign_in_methods"]["oauth_providers"],
        json!(["GoogleOAuth", "GitHubOAuth"])
    );
    assert_eq!(s["app_homepage_url"], "https://app.example.com");

    for (args, says) in [
        (vec!["--set", "bogus=1"], "settings.bogus"),
        (
            vec!["--set", "access_token_ttl_seconds=5"],
            "access_token_ttl_seconds",
        ),
        (vec!["--set", "no-equals-sign"], "KEY=VALUE"),
    ] {
        let mut all = vec!["environments", "update", "--environment", &env];
        all.extend(args);
        let (ok, out) = keystead(&app, &all);
        assert!(!ok && out.contains(says), "{all:?}: {out}");
    }
    let (ok, out) = keystead(
        &app,
        &[
            "environments",
            "update",
            "--environment",
            "environment_01NOPE",
            "--set",
            "mfa_enrollment=required",
        ],
    );
    assert!(!ok && out.contains("no environment"), "{out}");
    // Back to the default.
    let (ok, out) = keystead(
        &app,
        &[
            "environments",
            "update",
            "--environment",
            &env,
            "--set",
            "access_token_ttl_seconds=null",
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(
        app.get("/environment").await.body["settings"]["access_token_ttl_seconds"],
        300
    );
}
