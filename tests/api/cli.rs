//! `keystead environments …` and `keystead api-keys …` against the same database the API uses,
//! run as the real binary; and the idempotent bootstrap environment.

use std::process::Command;

use axum::http::{Method, StatusCode};
use keystead::store::environments::{self, Bootstrap};
use serde_json::Value;

use crate::support::TestApp;

/// Base64 of the 32 bytes `[7; 32]`, the vault key the test app uses.
pub const TEST_ENCRYPTION_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

pub fn keystead(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_keystead"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("KEYSTEAD_ENCRYPTION_KEY", TEST_ENCRYPTION_KEY)
        .output()
        .expect("run keystead");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || !stderr.is_empty(),
        "a failure says why"
    );
    (
        out.status.success(),
        format!("{}{stderr}", String::from_utf8_lossy(&out.stdout)),
    )
}

#[tokio::test]
async fn the_cli_creates_environments_and_manages_their_api_keys() {
    let app = TestApp::new().await;
    let (ok, out) = keystead(
        &app,
        &[
            "environments",
            "create",
            "--name",
            "Prod",
            "--production",
            "--json",
        ],
    );
    assert!(ok, "{out}");
    let created: Value = serde_json::from_str(&out).expect("json output");
    let key = created["api_key"].as_str().unwrap().to_string();
    assert!(key.starts_with("sk_live_"), "production keys are live keys");
    assert!(
        created["client_id"]
            .as_str()
            .unwrap()
            .starts_with("client_")
    );
    let env_id = created["id"].as_str().unwrap().to_string();

    // The key works against the API, and the environment has a usable signing key.
    let res = app
        .send(Method::GET, "/organizations", Some(&key), None)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let jwks = app
        .send(
            Method::GET,
            &format!("/sso/jwks/{}", created["client_id"].as_str().unwrap()),
            None,
            None,
        )
        .await;
    assert_eq!(jwks.status, StatusCode::OK, "{}", jwks.text);

    let (ok, out) = keystead(
        &app,
        &[
            "api-keys",
            "create",
            "--environment",
            &env_id,
            "--name",
            "CI",
            "--json",
        ],
    );
    assert!(ok, "{out}");
    let second: Value = serde_json::from_str(&out).unwrap();
    let second_key = second["api_key"].as_str().unwrap();
    assert_eq!(
        app.send(Method::GET, "/organizations", Some(second_key), None)
            .await
            .status,
        StatusCode::OK
    );

    let (ok, out) = keystead(
        &app,
        &["api-keys", "list", "--environment", &env_id, "--json"],
    );
    assert!(ok, "{out}");
    let list: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(list.len(), 2);
    assert!(!out.contains(second_key), "values are never listed");

    let (ok, out) = keystead(
        &app,
        &["api-keys", "revoke", second["id"].as_str().unwrap()],
    );
    assert!(ok, "{out}");
    // The revocation reaches the server's API-key cache through NOTIFY, within moments.
    let mut status = StatusCode::OK;
    for _ in 0..100 {
        status = app
            .send(Method::GET, "/organizations", Some(second_key), None)
            .await
            .status;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.send(Method::GET, "/organizations", Some(&key), None)
            .await
            .status,
        StatusCode::OK
    );

    let (ok, out) = keystead(&app, &["environments", "list"]);
    assert!(ok && out.contains(&env_id), "{out}");

    let (ok, out) = keystead(&app, &["api-keys", "revoke", "key_nope"]);
    assert!(!ok && out.contains("no API key"), "{out}");
    let (ok, out) = keystead(
        &app,
        &["api-keys", "create", "--environment", "environment_nope"],
    );
    assert!(!ok && out.contains("no environment"), "{out}");
}

#[tokio::test]
async fn bootstrap_ensures_exactly_the_configured_key_and_client_id_once() {
    let app = TestApp::new().await;
    let vault = &app.state.vault;
    let key = "sk_test_bootstrapbootstrapbootstrap";
    let first = environments::bootstrap(&app.pool, vault, Some(key), Some("client_boot"))
        .await
        .unwrap();
    let Bootstrap::Ensured(env) = first else {
        panic!("expected Ensured, got {first:?}")
    };
    assert_eq!(env.client_id, "client_boot");
    let again = environments::bootstrap(&app.pool, vault, Some(key), Some("client_boot"))
        .await
        .unwrap();
    let Bootstrap::Ensured(same) = again else {
        panic!("expected Ensured")
    };
    assert_eq!(same.id, env.id, "idempotent");
    let res = app
        .send(Method::GET, "/organizations", Some(key), None)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let count: i64 =
        sqlx::query_scalar("select count(*) from environments where client_id = 'client_boot'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(count, 1);

    // A key that belongs to another client is refused rather than silently moved.
    let clash = environments::bootstrap(
        &app.pool,
        vault,
        Some(&app.tenant.api_key),
        Some("client_boot"),
    )
    .await;
    assert!(clash.is_err());
    // Nothing requested and environments exist: nothing happens.
    assert!(matches!(
        environments::bootstrap(&app.pool, vault, None, None)
            .await
            .unwrap(),
        Bootstrap::Existing
    ));
}
