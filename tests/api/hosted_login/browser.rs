//! The hosted login in a real browser: headless Chromium (Debian's `chromium` package, run from
//! `/usr/bin/chromium`) driven by Playwright (`playwright-core`, pinned below, installed into
//! `target/browser/node` from the npm registry on first use; it never downloads a browser).
//!
//! `tests/browser/authkit.mjs` signs up (with the email-verification code read from the SMTP
//! sink) and then signs in with a password, a TOTP code computed here, PKCE, and an
//! organization choice. Both end at a callback app served by this test, which exchanges the
//! code with `grant_type=authorization_code` (and tries it a second time, which must fail).
//! Screenshots of each page land in `target/tmp/authkit-browser/` (`login.png` is the sign-in
//! page).
//!
//! `KEYSTEAD_SKIP_BROWSER_TESTS=1` skips it; otherwise a missing Chromium (install Debian's
//! `chromium`; `.ci/run` does) or a failed install fails the test with an explanation.
//! `KEYSTEAD_CHROMIUM` overrides the browser path.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{PASSWORD, Site, totp_now};
use crate::support::command::target_dir;
use crate::support::node::pinned_npm_package;

/// Exact Playwright version driving the browser.
const PLAYWRIGHT_VERSION: &str = "1.65.1";

/// `target/browser/node/node_modules/playwright-core`, installed once per target dir.
pub(super) fn install_playwright() -> PathBuf {
    pinned_npm_package(
        &target_dir("browser"),
        "playwright-core",
        PLAYWRIGHT_VERSION,
        "Is the npm registry reachable? Set KEYSTEAD_SKIP_BROWSER_TESTS=1 to skip the browser \
         test.",
    )
}

/// What the callback saw: state, first exchange status and body, replay status.
type Exchange = (String, StatusCode, Value, StatusCode);

/// The callback app's state.
#[derive(Clone)]
struct Callback {
    keystead: String,
    client_id: String,
    api_key: String,
    /// PKCE verifiers by `state`.
    verifiers: HashMap<String, String>,
    totp_secret: Vec<u8>,
    sink: crate::smtp_sink::SmtpSink,
    /// One entry per callback.
    results: Arc<Mutex<Vec<Exchange>>>,
}

/// `GET /callback?code=…&state=…`: exchanges the code (twice), shows who signed in.
async fn callback(
    State(cb): State<Callback>,
    Query(q): Query<HashMap<String, String>>,
) -> Html<String> {
    let state = q.get("state").cloned().unwrap_or_default();
    let code = q.get("code").cloned().unwrap_or_default();
    let mut body = json!({
        "grant_type": "authorization_code", "client_id": cb.client_id,
        "client_secret": cb.api_key, "code": code,
    });
    if let Some(v) = cb.verifiers.get(&state) {
        body["code_verifier"] = json!(v);
    }
    let http = reqwest::Client::new();
    let url = format!("{}/user_management/authenticate", cb.keystead);
    let first = http.post(&url).json(&body).send().await.expect("exchange");
    let status = first.status();
    let tokens: Value = first.json().await.unwrap_or(Value::Null);
    let replay = http.post(&url).json(&body).send().await.expect("replay");
    cb.results
        .lock()
        .unwrap()
        .push((state, status, tokens.clone(), replay.status()));
    let who = tokens["user"]["email"].as_str().unwrap_or("nobody");
    let org = tokens["organization_id"].as_str().unwrap_or("none");
    Html(format!(
        "<!doctype html><title>Callback</title><h1 id=\"result\">Signed in as {who} ({org})</h1>"
    ))
}

/// `GET /mail-code?to=…`: the code in the latest email to that address.
async fn mail_code(State(cb): State<Callback>, Query(q): Query<HashMap<String, String>>) -> String {
    let to = q.get("to").cloned().unwrap_or_default();
    cb.sink.wait_for(&to, Duration::from_secs(10)).await.code()
}

/// `GET /totp`: the current TOTP code of the signing-in user's factor.
async fn totp(State(cb): State<Callback>) -> String {
    totp_now(&cb.totp_secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_up_and_signs_in_with_totp_through_the_hosted_pages() {
    if crate::support::skip(
        "KEYSTEAD_SKIP_BROWSER_TESTS",
        "the Chromium hosted-login test",
    ) {
        return;
    }
    let chromium =
        std::env::var("KEYSTEAD_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} not found: install Debian's Chromium (`apt-get install chromium`; scripts/test \
         does), point KEYSTEAD_CHROMIUM at a Chromium, or set KEYSTEAD_SKIP_BROWSER_TESTS=1"
    );
    let playwright = tokio::task::spawn_blocking(install_playwright)
        .await
        .expect("install");

    let site = Site::start(&[("KEYSTEAD_REQUIRE_EMAIL_VERIFICATION", "true")]).await;
    let user = site.user("totp@example.com", true).await;
    let user_id = user["id"].as_str().unwrap();
    let totp_secret = site.totp_factor(user_id).await;
    site.organization_with("Acme", user_id).await;
    let beta = site.organization_with("Beta Labs", user_id).await;

    let verifier = keystead::crypto::random_token(48);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let cb = Callback {
        keystead: site.server.base_url.clone(),
        client_id: site.client_id.clone(),
        api_key: site.api_key.clone(),
        verifiers: HashMap::from([("signin".to_string(), verifier)]),
        totp_secret,
        sink: site.sink.clone(),
        results: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback_url = format!("http://{}", listener.local_addr().unwrap());
    site.register_redirect_uri(&format!("{callback_url}/callback"))
        .await;
    let app = axum::Router::new()
        .route("/callback", get(callback))
        .route("/mail-code", get(mail_code))
        .route("/totp", get(totp))
        .with_state(cb.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("authkit-browser");
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).unwrap();
    let profile = out_dir.join("profile");
    std::fs::create_dir_all(&profile).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/authkit.mjs");
    let run = tokio::process::Command::new("node")
        .arg(&script)
        .env("PLAYWRIGHT_CORE_DIR", &playwright)
        .env("CHROMIUM", &chromium)
        .env("USER_DATA_DIR", &profile)
        .env("OUT_DIR", &out_dir)
        .env("KEYSTEAD_URL", &site.server.base_url)
        .env("CALLBACK_URL", &callback_url)
        .env("CLIENT_ID", &site.client_id)
        .env("SIGNUP_EMAIL", "ada@example.com")
        .env("SIGNIN_EMAIL", "totp@example.com")
        .env("PASSWORD", PASSWORD)
        .env("ORG_NAME", "Beta Labs")
        .env("CODE_CHALLENGE", &challenge)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the browser script finishes within 2 minutes")
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "browser script failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server log\n{}",
        site.server.log()
    );
    let shown: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(shown["signup"], "Signed in as ada@example.com (none)");
    assert_eq!(
        shown["signin"],
        format!("Signed in as totp@example.com ({beta})")
    );
    assert_eq!(shown["error"], "Incorrect email or password.");

    let results = cb.results.lock().unwrap().clone();
    assert_eq!(results.len(), 2, "{results:?}");
    let (state, status, tokens, replay) = &results[0];
    assert_eq!(
        (state.as_str(), *status),
        ("signup", StatusCode::OK),
        "{tokens}"
    );
    assert_eq!(tokens["user"]["email_verified"], true);
    assert_eq!(tokens["user"]["first_name"], "Ada");
    assert_eq!(*replay, StatusCode::BAD_REQUEST, "a code works once");
    let (state, status, tokens, replay) = &results[1];
    assert_eq!(
        (state.as_str(), *status),
        ("signin", StatusCode::OK),
        "{tokens}"
    );
    assert_eq!(tokens["authentication_method"], "Password");
    assert_eq!(tokens["organization_id"], beta.as_str());
    assert!(
        tokens["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );
    assert_eq!(*replay, StatusCode::BAD_REQUEST);

    let events = site.events().await;
    for name in [
        "user.created",
        "email_verification.created",
        "authentication.email_verification_succeeded",
        "authentication.password_failed",
        "authentication.password_succeeded",
        "authentication.mfa_succeeded",
        "session.created",
    ] {
        assert!(events.iter().any(|e| e == name), "{name} in {events:?}");
    }
    for shot in [
        "sign-up",
        "email-verification",
        "login",
        "login-error",
        "mfa",
        "organization",
    ] {
        let png = std::fs::read(out_dir.join(format!("{shot}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{shot}.png is a PNG");
    }
    let _ = std::fs::remove_dir_all(&profile);
    println!("screenshots in {}", out_dir.display());
}
