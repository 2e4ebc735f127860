//! Hosted login (`GET /user_management/authorize` and `/authkit/*`) over real sockets: the
//! `keystead` binary with a local SMTP sink and the callback registered as a redirect URI,
//! driven by a cookie-keeping HTTP client that behaves like a
//! browser (no automatic redirects, same-origin `Origin` on POSTs). The headless-Chromium test
//! is in `browser.rs`.

mod authkit_js;
mod authkit_session;
mod browser;
mod codes;
mod cookie_mode;
mod flows;
mod security;

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::binary::Server;
use crate::smtp_sink::SmtpSink;
use crate::support::TestApp;

pub const PASSWORD: &str = "correct horse battery";
pub const CALLBACK: &str = "http://app.example.test/callback";

/// A running server with its SMTP sink and the environment the tests use.
pub struct Site {
    pub app: TestApp,
    pub server: Server,
    pub sink: SmtpSink,
    pub env: String,
    pub client_id: String,
    pub api_key: String,
    pub http: reqwest::Client,
}

impl Site {
    /// The binary with SMTP (the sink) and any redirect URI allowed, plus `extra` env vars.
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        Self::start_with(true, extra).await
    }

    /// Like [`Site::start`]; `smtp: false` runs without `KEYSTEAD_SMTP_URL`.
    pub async fn start_with(smtp: bool, extra: &[(&str, &str)]) -> Self {
        let app = TestApp::new().await;
        let sink = SmtpSink::start().await;
        let api_key = format!("sk_test_{}", keystead::crypto::random_alphanumeric(32));
        let client_id = "client_hosted_login".to_string();
        let url = sink.url();
        let mut env: Vec<(&str, &str)> = vec![
            ("KEYSTEAD_EMAIL_POLL_INTERVAL_MS", "50"),
            ("KEYSTEAD_SMTP_FROM", "Login <login@example.test>"),
        ];
        if smtp {
            env.push(("KEYSTEAD_SMTP_URL", &url));
        }
        env.extend_from_slice(extra);
        let server = Server::start(&app, &api_key, &client_id, &env).await;
        let env_id: String = sqlx::query_scalar("select id from environments where client_id = $1")
            .bind(&client_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        let site = Self {
            app,
            server,
            sink,
            env: env_id,
            client_id,
            api_key,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        };
        site.register_redirect_uri(CALLBACK).await;
        site
    }

    /// Registers `uri` as a redirect URI of the site's environment.
    pub async fn register_redirect_uri(&self, uri: &str) {
        let res = self
            .http
            .post(format!(
                "{}/user_management/redirect_uris",
                self.server.base_url
            ))
            .bearer_auth(&self.api_key)
            .json(&json!({ "uri": uri }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "registering {uri}");
    }

    /// A user with a password (and verified email unless `verified` is false).
    pub async fn user(&self, email: &str, verified: bool) -> Value {
        let res = self
            .server
            .request(&self.http, reqwest::Method::POST, "/user_management/users")
            .json(&json!({"email": email, "password": PASSWORD, "email_verified": verified}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    }

    /// An organization with an active membership of `user_id`.
    pub async fn organization_with(&self, name: &str, user_id: &str) -> String {
        let org: Value = self
            .server
            .request(&self.http, reqwest::Method::POST, "/organizations")
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = org["id"].as_str().unwrap().to_string();
        sqlx::query(
            "insert into organization_memberships (id, environment_id, user_id, organization_id)
             values ($1, $2, $3, $4)",
        )
        .bind(keystead::ids::new_id("om"))
        .bind(&self.env)
        .bind(user_id)
        .bind(&id)
        .execute(&self.app.pool)
        .await
        .unwrap();
        id
    }

    /// Enrolls a TOTP factor for the user; returns the raw secret.
    pub async fn totp_factor(&self, user_id: &str) -> Vec<u8> {
        // Enrolled through the MFA API, so the hosted login must challenge the factor it made.
        let res = self
            .http
            .post(format!(
                "{}/user_management/users/{user_id}/auth_factors",
                self.server.base_url
            ))
            .bearer_auth(&self.api_key)
            .json(&json!({"type": "totp"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        let secret = body["authentication_factor"]["totp"]["secret"]
            .as_str()
            .unwrap();
        keystead::crypto::totp::from_base32(secret).expect("base32 secret")
    }

    /// `POST /user_management/authenticate` with `body` plus this client's id.
    pub async fn authenticate(&self, mut body: Value) -> (StatusCode, Value) {
        body["client_id"] = json!(self.client_id);
        let res = self
            .http
            .post(format!(
                "{}/user_management/authenticate",
                self.server.base_url
            ))
            .json(&body)
            .send()
            .await
            .unwrap();
        (res.status(), res.json().await.unwrap_or(Value::Null))
    }

    /// The password grant with the client secret.
    pub async fn password_grant(&self, email: &str, password: &str) -> (StatusCode, Value) {
        self.authenticate(
            json!({"grant_type": "password", "client_secret": self.api_key,
                                 "email": email, "password": password}),
        )
        .await
    }

    /// A password sign-in of `email` on the hosted page for a PKCE flow with `challenge` (S256);
    /// returns the authorization code it ends with.
    pub async fn pkce_code(&self, email: &str, challenge: &str) -> String {
        let mut b = self.browser();
        let pkce = [
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ];
        let start = b.authorize(self, &pkce).await;
        let done = b
            .submit(&start, &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        done.location_param("code").unwrap()
    }

    /// Exchanges an authorization code with the client secret (and `verifier`, if any).
    pub async fn exchange(&self, code: &str, verifier: Option<&str>) -> (StatusCode, Value) {
        let mut body = json!({
            "grant_type": "authorization_code", "code": code, "client_secret": self.api_key,
        });
        if let Some(v) = verifier {
            body["code_verifier"] = json!(v);
        }
        self.authenticate(body).await
    }

    /// The environment's event names, oldest first.
    pub async fn events(&self) -> Vec<String> {
        sqlx::query_scalar("select event from events where environment_id = $1 order by id")
            .bind(&self.env)
            .fetch_all(&self.app.pool)
            .await
            .unwrap()
    }

    /// A new browser on this site.
    pub fn browser(&self) -> Browser {
        Browser {
            base: self.server.base_url.clone(),
            http: self.http.clone(),
            cookie: None,
            others: Vec::new(),
        }
    }

    /// The authorize URL (path and query) for `params` plus client id, redirect URI and
    /// `response_type=code`.
    pub fn authorize_path(&self, params: &[(&str, &str)]) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", CALLBACK)
            .append_pair("response_type", "code");
        for (k, v) in params {
            q.append_pair(k, v);
        }
        format!("/user_management/authorize?{}", q.finish())
    }
}

/// A response as a browser sees it.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// The `Location` header.
    pub fn location(&self) -> String {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// The CSRF token rendered into the page's form.
    pub fn csrf(&self) -> String {
        let re = regex::Regex::new(r#"name="csrf_token" value="([0-9a-f]+)""#).unwrap();
        re.captures(&self.body)
            .map(|c| c[1].to_string())
            .unwrap_or_else(|| panic!("no csrf token in: {}", self.body))
    }

    /// A query parameter of the `Location` (e.g. `code`, `state`, `error`).
    pub fn location_param(&self, name: &str) -> Option<String> {
        url::Url::parse(&self.location())
            .ok()?
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// A cookie-keeping client that does not follow redirects.
pub struct Browser {
    base: String,
    http: reqwest::Client,
    /// The flow cookie (`keystead_authkit=…`).
    cookie: Option<String>,
    /// Other cookies the site set (`name=value`), e.g. the device page's.
    others: Vec<String>,
}

impl Browser {
    fn keep_cookie(&mut self, headers: &HeaderMap) {
        for v in headers.get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap().trim();
            let (name, value) = pair.split_once('=').unwrap();
            if name == "keystead_authkit" {
                self.cookie = (!value.is_empty()).then(|| pair.to_string());
            } else {
                self.others.retain(|o| !o.starts_with(&format!("{name}=")));
                if !value.is_empty() {
                    self.others.push(pair.to_string());
                }
            }
        }
    }

    async fn page(&mut self, req: reqwest::RequestBuilder) -> Page {
        let cookies: Vec<&str> = self
            .cookie
            .iter()
            .chain(&self.others)
            .map(String::as_str)
            .collect();
        let req = if cookies.is_empty() {
            req
        } else {
            req.header("cookie", cookies.join("; "))
        };
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        self.keep_cookie(&headers);
        Page {
            status,
            headers,
            body: res.text().await.unwrap(),
        }
    }

    /// `GET path` (absolute URLs are not followed: they leave the site).
    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.page(req).await
    }

    /// `POST path` with a form, as a same-origin browser form submission.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .header("sec-fetch-site", "same-origin")
            .form(form);
        self.page(req).await
    }

    /// Forgets the cookie (another browser).
    pub fn clear_cookies(&mut self) {
        self.cookie = None;
        self.others.clear();
    }

    /// Whether the flow cookie is held.
    pub fn has_cookie(&self) -> bool {
        self.cookie.is_some()
    }

    /// Starts a flow with `site.authorize_path(params)`; asserts the 302 to a hosted page and
    /// returns that page's path.
    pub async fn authorize(&mut self, site: &Site, params: &[(&str, &str)]) -> String {
        let res = self.get(&site.authorize_path(params)).await;
        assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
        assert!(self.has_cookie(), "authorize sets the flow cookie");
        res.location()
    }

    /// GETs `path` and POSTs `fields` (plus its CSRF token) to the same path.
    pub async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "GET {path}: {}", page.body);
        let csrf = page.csrf();
        let mut form = vec![("csrf_token", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post(path, &form).await
    }
}

/// Waits for the email to `to` and returns its 6-digit code.
pub async fn emailed_code(site: &Site, to: &str) -> String {
    site.sink.wait_for(to, Duration::from_secs(10)).await.code()
}

/// The current TOTP code for `secret`.
pub fn totp_now(secret: &[u8]) -> String {
    totp_rs::Builder::new()
        .with_secret(secret.to_vec())
        .build()
        .unwrap()
        .generate(u64::try_from(chrono::Utc::now().timestamp()).unwrap())
        .to_string()
}
