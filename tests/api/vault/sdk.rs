//! Vault with the official SDKs over a socket: the newest Node SDK (`tests/sdk/vault.mjs`:
//! objects, versions, data keys, its local `encrypt`/`decrypt`), then the newest Python SDK
//! (`tests/sdk/vault.py`: the same, plus decrypting the Node SDK's ciphertext), and this test
//! decoding that ciphertext itself (the SDKs' layout `iv ‖ tag ‖ LEB128(len) ‖ encrypted key ‖
//! ciphertext`) with the data key `POST /vault/v1/keys/decrypt` returns.

use std::path::Path;
use std::process::Command;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::support::{TestApp, locks};
use crate::um::count;

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sdk")
        .join(name)
}

/// Runs `cmd` off the runtime, asserts it printed `ok`, returns its stdout.
async fn run_ok(what: &'static str, mut cmd: Command) -> String {
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run the client"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && stdout.lines().any(|l| l == "ok"),
        "{what}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Decrypts the SDKs' local-encryption format with the server's data key.
async fn decrypt_sdk_ciphertext(app: &TestApp, b64: &str, aad: &[u8]) -> String {
    let bytes = STANDARD.decode(b64).unwrap();
    let (iv, rest) = bytes.split_at(12);
    let (tag, rest) = rest.split_at(16);
    let (mut len, mut shift, mut i) = (0usize, 0, 0);
    loop {
        let b = rest[i];
        len |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let (blob, ciphertext) = rest[i..].split_at(len);
    let res = app
        .post(
            "/vault/v1/keys/decrypt",
            &json!({"keys": STANDARD.encode(blob)}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let key = STANDARD
        .decode(res.body["data_key"].as_str().unwrap())
        .unwrap();
    let cipher = Aes256Gcm::new_from_slice(&key).unwrap();
    let msg = [ciphertext, tag].concat();
    let plain = cipher
        .decrypt(Nonce::from_slice(iv), Payload { msg: &msg, aad })
        .expect("the SDK ciphertext decrypts with the data key");
    String::from_utf8(plain).unwrap()
}

#[tokio::test]
async fn the_node_and_python_sdks_use_vault_and_their_ciphertexts_interoperate() {
    if crate::support::skip("KEYSTEAD_SKIP_SDK_TESTS", "the Vault SDK test") {
        return;
    }
    let app = TestApp::new().await;
    let base = app.serve().await;
    let mut node = Command::new("node");
    node.arg(script("vault.mjs"))
        .env("KEYSTEAD_BASE_URL", &base)
        .env("KEYSTEAD_API_KEY", &app.tenant.api_key)
        .env(
            "KEYSTEAD_NODE_SDK_DIR",
            locks::node_modules("node-newest").join("@workos-inc/node"),
        );
    let stdout = run_ok("node vault", node).await;
    let ciphertext = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ciphertext:"))
        .expect("the script prints its ciphertext")
        .to_string();
    assert_eq!(
        decrypt_sdk_ciphertext(&app, &ciphertext, b"node-aad").await,
        "bound value"
    );

    let mut python = Command::new(locks::python("python-newest"));
    python
        .arg(script("vault.py"))
        .env("KEYSTEAD_BASE_URL", &base)
        .env("KEYSTEAD_API_KEY", &app.tenant.api_key)
        .env("KEYSTEAD_CLIENT_ID", &app.tenant.client_id)
        .env("KEYSTEAD_NODE_CIPHERTEXT", &ciphertext);
    run_ok("python vault", python).await;

    assert!(count(&app, "vault.data.created").await >= 7);
    assert!(count(&app, "vault.dek.read").await >= 6);
    assert!(count(&app, "vault.dek.decrypted").await >= 6);
}
