//! AuthKit's production mode over plain HTTP (`src/http/session_cookie.rs`): a public PKCE
//! client calling `POST /user_management/authenticate` from a registered CORS origin that is
//! not `localhost`/`127.0.0.1` gets its refresh token in an HttpOnly cookie (plus
//! `workos-has-session`) instead of the body, refreshes from that cookie with rotation, and
//! `GET /user_management/sessions/logout` clears both. No `Origin`, a `localhost` origin or a
//! secret keep the body as before; `Access-Control-Allow-Credentials` goes to registered origins
//! only (preflight included). The browser test driving authkit-js itself is `authkit_js.rs`.

use base64::Engine;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Site;

const APP: &str = "http://app.example.test";
const DEV: &str = "http://localhost:5173";
const VERIFIER: &str = "cookie-mode-verifier-0123456789-abcdefghijklmnopq";

/// A site (with `extra` env vars) with a user and `APP` and `DEV` registered as CORS origins.
async fn site(extra: &[(&str, &str)]) -> Site {
    let site = Site::start(extra).await;
    site.user("spa@example.com", true).await;
    for origin in [APP, DEV] {
        let res = site
            .server
            .request(
                &site.http,
                reqwest::Method::POST,
                "/user_management/cors_origins",
            )
            .json(&json!({ "origin": origin }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "registering {origin}");
    }
    site
}

/// A PKCE authorization code from a password sign-in on the hosted page.
async fn code(site: &Site) -> String {
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(VERIFIER.as_bytes()));
    site.pkce_code("spa@example.com", &challenge).await
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    /// The `Set-Cookie` header for `name` (its whole line).
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(String::from)
    }

    /// The value a `Set-Cookie` for `name` sets.
    fn cookie_value(&self, name: &str) -> Option<String> {
        let line = self.set_cookie(name)?;
        let pair = line.split(';').next()?;
        Some(pair.split_once('=')?.1.to_string())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `POST /user_management/authenticate` as authkit-js sends it, with `origin` and `cookie`.
async fn authenticate(
    site: &Site,
    mut body: Value,
    origin: Option<&str>,
    cookie: Option<&str>,
) -> Answer {
    body["client_id"] = json!(site.client_id);
    let mut req = site
        .http
        .post(format!(
            "{}/user_management/authenticate",
            site.server.base_url
        ))
        .json(&body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = req.send().await.unwrap();
    Answer {
        status: res.status(),
        headers: res.headers().clone(),
        body: res.json().await.unwrap_or(Value::Null),
    }
}

fn exchange(code: &str) -> Value {
    json!({"grant_type": "authorization_code", "code": code, "code_verifier": VERIFIER})
}

fn refresh() -> Value {
    json!({"grant_type": "refresh_token"})
}

#[tokio::test]
async fn a_registered_origin_gets_the_refresh_token_in_an_http_only_cookie() {
    // The public URL is http://127.0.0.1:<port>, so that is the only valid cookie domain.
    let site = site(&[("KEYSTEAD_COOKIE_DOMAIN", "127.0.0.1")]).await;
    let name = format!("keystead-refresh-{}", site.client_id);

    let started = authenticate(&site, exchange(&code(&site).await), Some(APP), None).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    assert!(
        started.body.get("refresh_token").is_none(),
        "{}",
        started.body
    );
    assert_eq!(started.body["user"]["email"], "spa@example.com");
    assert_eq!(started.header("access-control-allow-origin"), Some(APP));
    assert_eq!(
        started.header("access-control-allow-credentials"),
        Some("true")
    );
    let line = started.set_cookie(&name).expect("refresh cookie");
    for attr in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/user_management",
        "Max-Age=",
    ] {
        assert!(line.contains(attr), "{attr} in {line}");
    }
    assert!(!line.contains("Secure"), "the public URL is http: {line}");
    assert!(!line.contains("Domain="), "host-only: {line}");
    let has = started
        .set_cookie("workos-has-session")
        .expect("has-session");
    assert!(has.starts_with(&format!("workos-has-session={};", site.client_id)));
    assert!(has.contains("Path=/") && !has.contains("HttpOnly"), "{has}");
    assert!(
        has.contains("Domain=127.0.0.1"),
        "KEYSTEAD_COOKIE_DOMAIN: {has}"
    );
    let t1 = started.cookie_value(&name).unwrap();

    // Refresh from the cookie: a new token, the old one rotated out.
    let jar = format!("{name}={t1}; workos-has-session={}", site.client_id);
    let second = authenticate(&site, refresh(), Some(APP), Some(&jar)).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert!(second.body.get("refresh_token").is_none());
    assert_ne!(
        second.body["access_token"], started.body["access_token"],
        "a new access token"
    );
    let t2 = second.cookie_value(&name).expect("rotated cookie");
    assert_ne!(t1, t2);
    let jar2 = format!("{name}={t2}; workos-has-session={}", site.client_id);
    let third = authenticate(&site, refresh(), Some(APP), Some(&jar2)).await;
    assert_eq!(third.status, StatusCode::OK, "{}", third.body);

    // No cookie: a non-transient refusal (authkit-js then drops its session).
    let none = authenticate(&site, refresh(), Some(APP), None).await;
    assert_eq!(
        (none.status, none.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // A refused refresh clears the cookies it came with.
    let bad = format!("{name}=not-a-token; workos-has-session={}", site.client_id);
    let refused = authenticate(&site, refresh(), Some(APP), Some(&bad)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.set_cookie(&name).unwrap().contains("Max-Age=0"));
    assert!(
        refused
            .set_cookie("workos-has-session")
            .unwrap()
            .contains("Max-Age=0")
    );

    // The same session from another origin: the cookie alone is not enough for an
    // unregistered origin (refused by CORS before any token is read).
    let t3 = third.cookie_value(&name).unwrap();
    let jar3 = format!("{name}={t3}");
    let evil = authenticate(&site, refresh(), Some("https://evil.test"), Some(&jar3)).await;
    assert_eq!(evil.status, StatusCode::FORBIDDEN);
    assert!(evil.header("access-control-allow-credentials").is_none());
    assert!(evil.set_cookie(&name).is_none());

    // Logout clears both cookies in its answer.
    let sid = sid(third.body["access_token"].as_str().unwrap());
    let res = site
        .http
        .get(format!(
            "{}/user_management/sessions/logout?session_id={sid}",
            site.server.base_url
        ))
        .header(
            "cookie",
            format!("{jar3}; workos-has-session={}", site.client_id),
        )
        .send()
        .await
        .unwrap();
    let out = Answer {
        status: res.status(),
        headers: res.headers().clone(),
        body: Value::Null,
    };
    assert!(out.status.is_success() || out.status.is_redirection());
    let cleared = out.set_cookie(&name).expect("refresh cookie cleared");
    assert!(cleared.contains("Max-Age=0") && cleared.contains("Path=/user_management"));
    assert!(
        out.set_cookie("workos-has-session")
            .unwrap()
            .contains("Max-Age=0")
    );
    // The session is over: its cookie token no longer refreshes.
    let after = authenticate(&site, refresh(), Some(APP), Some(&jar3)).await;
    assert_eq!(after.status, StatusCode::BAD_REQUEST, "{}", after.body);
}

#[tokio::test]
async fn localhost_no_origin_and_secrets_keep_the_refresh_token_in_the_body() {
    let site = site(&[]).await;
    let name = format!("keystead-refresh-{}", site.client_id);

    // authkit-js dev mode: a localhost page.
    let dev = authenticate(&site, exchange(&code(&site).await), Some(DEV), None).await;
    assert_eq!(dev.status, StatusCode::OK, "{}", dev.body);
    let token = dev.body["refresh_token"].as_str().expect("in the body");
    assert!(dev.set_cookie(&name).is_none());
    assert_eq!(dev.header("access-control-allow-origin"), Some(DEV));
    let body = json!({"grant_type": "refresh_token", "refresh_token": token});
    let again = authenticate(&site, body, Some(DEV), None).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert!(again.body["refresh_token"].is_string());
    assert!(again.headers.get(SET_COOKIE).is_none());

    // No Origin (a server or native app).
    let plain = authenticate(&site, exchange(&code(&site).await), None, None).await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.body);
    assert!(plain.body["refresh_token"].is_string());
    assert!(plain.headers.get(SET_COOKIE).is_none());
    assert!(plain.header("access-control-allow-credentials").is_none());

    // A confidential client (secret) from a registered origin: the body as before.
    let mut body = exchange(&code(&site).await);
    body["client_secret"] = json!(site.api_key);
    let secret = authenticate(&site, body, Some(APP), None).await;
    assert_eq!(secret.status, StatusCode::OK, "{}", secret.body);
    assert!(secret.body["refresh_token"].is_string());
    assert!(secret.set_cookie(&name).is_none());
}

#[tokio::test]
async fn credentials_are_allowed_for_registered_origins_only() {
    let site = site(&[]).await;
    let url = format!("{}/user_management/authenticate", site.server.base_url);
    let preflight = |origin: &str| {
        site.http
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight(APP).await.unwrap();
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    let h = ok.headers();
    assert_eq!(h["access-control-allow-origin"], APP);
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(
        h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("content-type")
    );

    let refused = preflight("https://evil.test").await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let post = authenticate(&site, refresh(), Some("https://evil.test"), None).await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
    assert!(post.header("access-control-allow-credentials").is_none());
    assert!(post.header("access-control-allow-origin").is_none());
}

#[test]
fn a_cookie_domain_that_does_not_cover_the_public_host_stops_the_server() {
    let data = std::env::temp_dir().join(format!("keystead-cookie-domain-{}", std::process::id()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keystead"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(["--public-url", "https://auth.example.com"])
        .args(["--cookie-domain", "app.example.com"])
        .arg("--data-dir")
        .arg(&data)
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run keystead");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("KEYSTEAD_COOKIE_DOMAIN: 'app.example.com' is neither"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&data);
}

/// The `sid` claim of an access token.
fn sid(access_token: &str) -> String {
    let payload = access_token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    claims["sid"].as_str().unwrap().to_string()
}
