//! The official `@workos/authkit-session` library (locked in `tests/sdk/locks/authkit-session`,
//! with the Node SDK it peers with) runs a small web app (`tests/sdk/authkit_session_app.mjs`)
//! pointed at Keystead by its documented variables `WORKOS_API_HOSTNAME`, `WORKOS_API_HTTPS` and
//! `WORKOS_API_PORT`. A cookie-keeping client plays the browser: sign-in URL with PKCE
//! (`createSignIn`), Keystead's hosted password page, the callback (`handleCallback`), `withAuth`,
//! a refresh after the access token expires, and sign-out through Keystead's logout URL.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::Value;

use super::{PASSWORD, Site};
use crate::binary::free_port;
use crate::support::locks;

/// Seconds an access token lives in this test, so that a refresh happens within it.
const ACCESS_TOKEN_TTL: u64 = 3;

/// The app's process; killed on drop.
struct App {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

impl App {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The browser's cookies for the app's origin (`name` → `value`), kept like a browser keeps
/// them: a `Set-Cookie` with an empty value or `Max-Age=0` removes the cookie.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn keep(&mut self, res: &reqwest::Response) {
        for v in res.headers().get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            let mut parts = v.split(';');
            let (name, value) = parts.next().unwrap().trim().split_once('=').unwrap();
            let expired = parts.any(|p| {
                let p = p.trim().to_ascii_lowercase();
                p == "max-age=0" || p.starts_with("expires=thu, 01 jan 1970")
            });
            if value.is_empty() || expired {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_string(), value.to_string());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// `GET app_path` with the jar's cookies; keeps the cookies it sets.
async fn app_get(site: &Site, app: &App, jar: &mut Jar, path: &str) -> reqwest::Response {
    let res = site
        .http
        .get(format!("{}{path}", app.base))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    jar.keep(&res);
    res
}

/// `/me` as JSON, asserting its status.
async fn me(site: &Site, app: &App, jar: &mut Jar, expected: StatusCode) -> Value {
    let res = app_get(site, app, jar, "/me").await;
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(
        status,
        expected,
        "GET /me: {body}\n--- app log\n{}",
        app.log()
    );
    body
}

fn start_app(site: &Site, port: u16) -> App {
    let modules = locks::node_modules("authkit-session");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/authkit_session_app.mjs");
    let keystead = url::Url::parse(&site.server.base_url).unwrap();
    let log = std::env::temp_dir().join(format!("keystead-authkit-session-{port}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new("node")
        .arg(script)
        .env("AUTHKIT_SESSION_DIR", &modules)
        .env("APP_PORT", port.to_string())
        .env("WORKOS_CLIENT_ID", &site.client_id)
        .env("WORKOS_API_KEY", &site.api_key)
        .env(
            "WORKOS_REDIRECT_URI",
            format!("http://127.0.0.1:{port}/callback"),
        )
        .env(
            "WORKOS_COOKIE_PASSWORD",
            "a-cookie-password-of-32-or-more-chars!",
        )
        .env("WORKOS_API_HOSTNAME", keystead.host_str().unwrap())
        .env("WORKOS_API_HTTPS", "false")
        .env("WORKOS_API_PORT", keystead.port().unwrap().to_string())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start node");
    let app = App {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the authkit-session app did not listen:\n{}",
            app.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    app
}

#[tokio::test]
async fn authkit_session_signs_in_refreshes_and_signs_out_through_keystead() {
    if crate::support::skip("KEYSTEAD_SKIP_SDK_TESTS", "the authkit-session test") {
        return;
    }
    let ttl = ACCESS_TOKEN_TTL.to_string();
    let site = Site::start(&[("KEYSTEAD_ACCESS_TOKEN_TTL", &ttl)]).await;
    let user = site.user("grace@example.com", true).await;
    let port = free_port();
    site.register_redirect_uri(&format!("http://127.0.0.1:{port}/callback"))
        .await;
    site.register_redirect_uri(&format!("http://127.0.0.1:{port}/"))
        .await;
    let app = start_app(&site, port);
    let mut jar = Jar::default();

    // Not signed in yet.
    me(&site, &app, &mut jar, StatusCode::UNAUTHORIZED).await;

    // createSignIn: a PKCE authorize URL on Keystead and the verifier cookie.
    let res = app_get(&site, &app, &mut jar, "/login").await;
    assert_eq!(res.status(), StatusCode::FOUND, "{}", app.log());
    let authorize = res.headers()[LOCATION].to_str().unwrap().to_string();
    let prefix = format!("{}/user_management/authorize?", site.server.base_url);
    assert!(authorize.starts_with(&prefix), "{authorize}");
    let query: BTreeMap<String, String> = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["client_id"], site.client_id);
    assert!(
        jar.0.keys().any(|k| k.starts_with("wos-auth-verifier")),
        "{:?}",
        jar.0
    );

    // Keystead's hosted login, as the browser.
    let mut browser = site.browser();
    let page = browser.get(&authorize[site.server.base_url.len()..]).await;
    assert_eq!(page.status, StatusCode::FOUND, "{}", page.body);
    let sign_in = page.location();
    let done = browser
        .submit(
            &sign_in,
            &[("email", "grace@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let back = done.location();
    let callback = format!("{}/callback?", app.base);
    assert!(back.starts_with(&callback), "{back}");

    // handleCallback: the code exchange with the verifier, and the sealed session cookie.
    let res = app_get(&site, &app, &mut jar, &back[app.base.len()..]).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}\n{}", app.log());
    assert_eq!(body["user_id"], user["id"]);
    assert_eq!(body["return_pathname"], "/me");
    assert!(jar.0.contains_key("wos-session"), "{:?}", jar.0);
    assert!(
        !jar.0.keys().any(|k| k.starts_with("wos-auth-verifier")),
        "the verifier cookie is cleared: {:?}",
        jar.0
    );

    // withAuth: the user and the verified claims.
    let first = me(&site, &app, &mut jar, StatusCode::OK).await;
    assert_eq!(first["user"]["id"], user["id"]);
    assert_eq!(first["user"]["email"], "grace@example.com");
    assert_eq!(first["refreshed"], false);
    let sid = first["session_id"].as_str().unwrap().to_string();
    assert!(sid.starts_with("session_"), "{first}");
    assert_eq!(first["claims"]["sub"], user["id"]);
    assert!(first["claims"]["auth_time"].is_i64(), "{first}");

    // After the access token expires, withAuth refreshes it and the app saves the new session.
    tokio::time::sleep(Duration::from_secs(ACCESS_TOKEN_TTL + 2)).await;
    let cookie_before = jar.0["wos-session"].clone();
    let second = me(&site, &app, &mut jar, StatusCode::OK).await;
    assert_eq!(second["refreshed"], true, "{second}");
    assert_eq!(second["session_id"], sid.as_str(), "same session");
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["claims"]["auth_time"], first["claims"]["auth_time"]);
    assert_ne!(
        jar.0["wos-session"], cookie_before,
        "the refreshed session is saved"
    );
    let third = me(&site, &app, &mut jar, StatusCode::OK).await;
    assert_eq!(third["refreshed"], false, "the saved session is used");

    // signOut: the app clears its cookie and sends the browser to Keystead's logout URL, which
    // revokes the session and returns to the app.
    let stale_cookie = jar.0["wos-session"].clone();
    let return_to = format!("http://127.0.0.1:{port}/");
    let res = app_get(
        &site,
        &app,
        &mut jar,
        &format!("/logout?return_to={}", urlencoding(&return_to)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND, "{}", app.log());
    let logout = res.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(
        logout.starts_with(&format!(
            "{}/user_management/sessions/logout?",
            site.server.base_url
        )),
        "{logout}"
    );
    assert!(!jar.0.contains_key("wos-session"), "{:?}", jar.0);
    let page = browser.get(&logout[site.server.base_url.len()..]).await;
    assert_eq!(page.status, StatusCode::FOUND, "{}", page.body);
    assert_eq!(page.location(), return_to);
    me(&site, &app, &mut jar, StatusCode::UNAUTHORIZED).await;

    let (status, sessions) = site_get(
        &site,
        &format!(
            "/user_management/users/{}/sessions",
            user["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let listed = sessions["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == sid.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(listed["status"], "revoked", "{sessions}");

    // A stolen copy of the old cookie is useless once its access token expires: the refresh
    // behind withAuth fails for the revoked session.
    tokio::time::sleep(Duration::from_secs(ACCESS_TOKEN_TTL + 2)).await;
    let mut thief = Jar::default();
    thief.0.insert("wos-session".into(), stale_cookie);
    me(&site, &app, &mut thief, StatusCode::UNAUTHORIZED).await;
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn site_get(site: &Site, path: &str) -> (StatusCode, Value) {
    let res = site
        .server
        .request(&site.http, reqwest::Method::GET, path)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}
