//! `@workos-inc/authkit-js` (installed from its lock, `tests/sdk/locks/authkit-js`; its ESM
//! build is loaded by the page as is) in headless Chromium against Keystead, in both of its modes
//! (`src/http/session_cookie.rs`).
//!
//! Keystead runs on `http://auth.keystead.test:<port>` (its public URL) with the cookie domain
//! `keystead.test` and a 3-second access-token lifetime; a tiny app page is served on `<port2>`
//! and Chromium maps `*.keystead.test` to loopback (`--host-resolver-rules`). From
//! `http://app.keystead.test:<port2>` authkit-js runs in production mode (refresh token in an
//! HttpOnly cookie, `workos-has-session` readable by the app); from `http://localhost:<port2>`
//! in dev mode (refresh token in the body and localStorage). In each mode
//! `tests/browser/authkit_js.mjs` signs in through the hosted login, reads the user, waits past
//! the access token's expiry so `getAccessToken()` refreshes, reloads the page (the session is
//! restored), and signs out.
//!
//! `KEYSTEAD_SKIP_BROWSER_TESTS=1` skips it; otherwise a missing Chromium or a failed install
//! fails the test. `KEYSTEAD_CHROMIUM` overrides the browser path.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use base64::Engine;
use serde_json::{Value, json};

use super::PASSWORD;
use super::browser::install_playwright;
use crate::support::TestApp;
use crate::support::locks;

/// The access-token lifetime, in seconds.
const TTL: u64 = 3;

/// What the app server serves: the page (with its settings) and the authkit-js ESM build.
#[derive(Clone)]
struct AppPage {
    client_id: String,
    keystead_port: u16,
    module: String,
}

/// `GET /`: creates the client, exposes it as `window.authkit`.
async fn index(State(app): State<AppPage>) -> Html<String> {
    let AppPage {
        client_id,
        keystead_port,
        ..
    } = app;
    Html(format!(
        r#"<!doctype html><meta charset="utf-8"><title>App</title>
<script type="module">
import {{ createClient }} from "/authkit.mjs";
try {{
  window.authkit = await createClient("{client_id}", {{
    apiHostname: "auth.keystead.test",
    port: {keystead_port},
    https: false,
    redirectUri: `${{location.origin}}/`,
    refreshBufferInterval: 1,
    onBeforeAutoRefresh: () => false,
  }});
  window.authkitDevMode = ["localhost", "127.0.0.1"].includes(location.hostname);
  window.authkitReady = true;
}} catch (e) {{
  window.authkitError = String(e);
}}
</script>"#
    ))
}

/// `GET /authkit.mjs`: the package's ESM build.
async fn module(State(app): State<AppPage>) -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/javascript")], app.module)
}

/// The claims of a JWT (its signature is checked elsewhere).
fn claims(jwt: &Value) -> Value {
    let payload = jwt.as_str().unwrap().split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authkit_js_signs_in_refreshes_and_signs_out_in_dev_and_production_mode() {
    if crate::support::skip("KEYSTEAD_SKIP_BROWSER_TESTS", "the authkit-js browser test") {
        return;
    }
    let chromium =
        std::env::var("KEYSTEAD_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} not found: install Debian's Chromium (`apt-get install chromium`), point \
         KEYSTEAD_CHROMIUM at a Chromium, or set KEYSTEAD_SKIP_BROWSER_TESTS=1"
    );
    let playwright = tokio::task::spawn_blocking(install_playwright)
        .await
        .expect("install");
    let authkit = tokio::task::spawn_blocking(|| {
        locks::node_modules("authkit-js").join("@workos-inc/authkit-js")
    })
    .await
    .expect("install");

    // Keystead on auth.keystead.test (its port is known before its settings are).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = TestApp::with(|s| {
        s.public_url = format!("http://auth.keystead.test:{port}");
        s.cookie_domain = Some("keystead.test".into());
        s.access_token_ttl = Duration::from_secs(TTL);
    })
    .await;
    let router = app.router.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });

    // The app page on app.keystead.test (production mode) and localhost (dev mode).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_port = listener.local_addr().unwrap().port();
    let page = AppPage {
        client_id: app.tenant.client_id.clone(),
        keystead_port: port,
        module: std::fs::read_to_string(authkit.join("dist/index.mjs")).expect("ESM build"),
    };
    let pages = axum::Router::new()
        .route("/", get(index))
        .route("/authkit.mjs", get(module))
        .with_state(page);
    tokio::spawn(async move { axum::serve(listener, pages).await });
    let prod = format!("http://app.keystead.test:{app_port}");
    let dev = format!("http://localhost:{app_port}");
    for origin in [&prod, &dev] {
        let res = app
            .post(
                "/user_management/cors_origins",
                &json!({ "origin": origin }),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        let res = app
            .post(
                "/user_management/redirect_uris",
                &json!({ "uri": format!("{origin}/") }),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
    }
    let user = app
        .post(
            "/user_management/users",
            &json!({"email": "spa@example.com", "password": PASSWORD, "email_verified": true}),
        )
        .await;
    assert_eq!(user.status, 201, "{}", user.text);
    let user_id = user.body["id"].as_str().unwrap().to_string();

    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("authkit-js-browser");
    let _ = std::fs::remove_dir_all(&out_dir);
    let profile = out_dir.join("profile");
    std::fs::create_dir_all(&profile).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/authkit_js.mjs");
    let modes = json!([
        {"name": "production", "origin": prod},
        {"name": "dev", "origin": dev},
    ]);
    let run = tokio::process::Command::new("node")
        .arg(&script)
        .env("PLAYWRIGHT_CORE_DIR", &playwright)
        .env("CHROMIUM", &chromium)
        .env("USER_DATA_DIR", &profile)
        .env("KEYSTEAD_URL", format!("http://auth.keystead.test:{port}"))
        .env("MODES", modes.to_string())
        .env("EMAIL", "spa@example.com")
        .env("PASSWORD", PASSWORD)
        .env("TTL_MS", (TTL * 1000).to_string())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("the browser script finishes within 90 seconds")
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "browser script failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    let seen: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    let refresh_key = format!("workos:refresh-token:{}", app.tenant.client_id);
    let refresh_cookie = format!("keystead-refresh-{}", app.tenant.client_id);

    for mode in ["production", "dev"] {
        let s = &seen[mode];
        assert_eq!(s["dev_mode"], mode == "dev", "{mode}: {s}");
        assert_eq!(s["user_before"], Value::Null, "{mode}");
        assert_eq!(s["user"], "spa@example.com", "{mode}: {s}");
        assert_eq!(s["user_after_refresh"], "spa@example.com", "{mode}");
        assert_eq!(s["user_after_reload"], "spa@example.com", "{mode}");
        assert_eq!(s["user_after_sign_out"], Value::Null, "{mode}");
        // The token expired and was refreshed: same session, issued later.
        let (t1, t2, t3) = (
            claims(&s["token1"]),
            claims(&s["token2"]),
            claims(&s["token3"]),
        );
        assert_eq!(t1["sid"], t2["sid"], "{mode}: one session");
        assert_eq!(t1["sid"], t3["sid"], "{mode}: restored after reload");
        assert_eq!(t1["sub"], user_id.as_str());
        assert!(
            t2["iat"].as_i64() >= Some(t1["iat"].as_i64().unwrap() + TTL as i64),
            "{mode}: refreshed after expiry: {t1} {t2}"
        );
        assert_ne!(s["token1"], s["token2"], "{mode}");
        // Exchange, refresh after expiry, refresh on reload: all answered 200.
        let answers = s["authenticate"].as_array().unwrap();
        assert!(answers.len() >= 3, "{mode}: {answers:?}");
        for a in answers {
            assert_eq!(a["status"], 200, "{mode}: {a}");
            let in_body = a["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == "refresh_token");
            let set_cookie = a["set_cookie"].as_str().unwrap();
            if mode == "production" {
                assert!(!in_body, "no refresh token in the body: {a}");
                let line = set_cookie
                    .lines()
                    .find(|l| l.starts_with(&format!("{refresh_cookie}=")))
                    .unwrap_or_else(|| panic!("refresh cookie set: {a}"));
                assert!(line.contains("HttpOnly"), "{line}");
            } else {
                assert!(in_body, "dev mode keeps the body: {a}");
                assert_eq!(set_cookie, "", "{a}");
            }
        }
        let storage = s["local_storage"].as_array().unwrap();
        let cookies = s["cookies"].as_array().unwrap();
        let cookie = |name: &str| cookies.iter().find(|c| c["name"] == name).cloned();
        if mode == "production" {
            assert!(!storage.iter().any(|k| k == refresh_key.as_str()), "{s}");
            let rt = cookie(&refresh_cookie).expect("refresh cookie in the jar");
            assert_eq!(rt["httpOnly"], true);
            assert_eq!(rt["domain"], "auth.keystead.test", "host-only");
            assert_eq!(rt["sameSite"], "Lax");
            let has = cookie("workos-has-session").expect("workos-has-session");
            assert_eq!(has["domain"], ".keystead.test");
            assert_eq!(has["httpOnly"], false);
            let visible = s["document_cookie"].as_str().unwrap();
            assert!(
                visible.contains(&format!("workos-has-session={}", app.tenant.client_id)),
                "the app reads it: {visible}"
            );
            assert!(!visible.contains("keystead-refresh"), "{visible}");
            let left = s["cookies_after_sign_out"].as_array().unwrap();
            assert!(
                !left
                    .iter()
                    .any(|c| c == "workos-has-session" || c == refresh_cookie.as_str()),
                "signing out clears the cookies: {left:?}"
            );
        } else {
            assert!(storage.iter().any(|k| k == refresh_key.as_str()), "{s}");
            let after = s["local_storage_after_sign_out"].as_array().unwrap();
            assert!(!after.iter().any(|k| k == refresh_key.as_str()), "{s}");
        }
    }

    // Both sessions were revoked by the sign-outs.
    let sessions = app
        .get(&format!("/user_management/users/{user_id}/sessions"))
        .await;
    assert_eq!(sessions.status, 200, "{}", sessions.text);
    let statuses: Vec<&str> = sessions.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["revoked", "revoked"], "{}", sessions.text);
    let _ = std::fs::remove_dir_all(&profile);
}
