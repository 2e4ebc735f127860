//! Device authorization (RFC 8628): `POST /user_management/authorize/device` and the
//! `urn:ietf:params:oauth:grant-type:device_code` grant's polling errors, approval, denial,
//! expiry, single use and tenancy; and the verification page (`/device`) where a person signs
//! in through the hosted login and approves or denies the device.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::hosted_login::{Browser, PASSWORD, Page, Site, totp_now};
use crate::support::{TestApp, TestResponse};
use crate::um::{claims, count, member, org, user};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn start(app: &TestApp, client_id: &str) -> TestResponse {
    app.send(
        Method::POST,
        "/user_management/authorize/device",
        None,
        Some(&json!({"client_id": client_id})),
    )
    .await
}

async fn poll(app: &TestApp, client_id: &str, device_code: &Value) -> TestResponse {
    app.send(
        Method::POST,
        "/user_management/authenticate",
        None,
        Some(&json!({"grant_type": GRANT, "client_id": client_id, "device_code": device_code})),
    )
    .await
}

/// Lets the next poll through the interval check.
async fn wait_interval(app: &TestApp) {
    sqlx::query("update device_authorizations set last_polled_at = now() - interval '1 hour'")
        .execute(&app.pool)
        .await
        .unwrap();
}

async fn decide(
    app: &TestApp,
    env: &keystead::ids::EnvironmentId,
    user_code: &str,
    approve: Option<(&str, Option<&str>)>,
) -> bool {
    let mut tx = app.pool.begin().await.unwrap();
    let done = match approve {
        Some((user_id, org)) => {
            let user_id: keystead::ids::UserId = user_id.parse().unwrap();
            let org: Option<keystead::ids::OrganizationId> = org.map(|o| o.parse().unwrap());
            keystead::store::device_authorizations::approve(
                &mut tx,
                env,
                user_code,
                &user_id,
                org.as_ref(),
                "password",
            )
            .await
            .unwrap()
        }
        None => keystead::store::device_authorizations::deny(&mut tx, env, user_code)
            .await
            .unwrap(),
    };
    tx.commit().await.unwrap();
    done
}

#[tokio::test]
async fn a_device_polls_until_a_person_approves_then_gets_tokens_once() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com", false).await;
    let o = org(&app, "Acme").await;
    member(&app, &u, &o, "admin").await;
    let client = app.tenant.client_id.clone();
    let res = start(&app, &client).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let d = res.body;
    let user_code = d["user_code"].as_str().unwrap();
    assert!(
        regex::Regex::new("^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")
            .unwrap()
            .is_match(user_code)
    );
    assert_eq!(d["verification_uri"], "http://keystead.test/device");
    assert_eq!(
        d["verification_uri_complete"],
        format!("http://keystead.test/device?user_code={user_code}")
    );
    assert_eq!(d["expires_in"], 600);
    assert_eq!(d["interval"], 5);
    let stored: String = sqlx::query_scalar("select device_code_hash from device_authorizations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_ne!(stored, d["device_code"].as_str().unwrap());

    let pending = poll(&app, &client, &d["device_code"]).await;
    assert_eq!(pending.status, StatusCode::BAD_REQUEST);
    assert_eq!(pending.body["error"], "authorization_pending");
    let fast = poll(&app, &client, &d["device_code"]).await;
    assert_eq!(
        fast.body["error"], "slow_down",
        "polled within the interval"
    );
    let interval: i32 = sqlx::query_scalar("select interval_secs from device_authorizations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(interval, 10, "slow_down adds 5 seconds");

    let waiting = keystead::store::device_authorizations::find_pending(
        &mut app.pool.acquire().await.unwrap(),
        &user_code.to_lowercase().replace('-', " "),
    )
    .await
    .unwrap()
    .expect("the verification page finds it by a loosely typed code");
    assert_eq!(waiting.environment_id, app.tenant.environment_id);

    let id = u["id"].as_str().unwrap();
    assert!(
        decide(
            &app,
            &app.tenant.environment_id,
            user_code,
            Some((id, o["id"].as_str()))
        )
        .await
    );
    assert!(
        !decide(&app, &app.tenant.environment_id, user_code, None).await,
        "decided once"
    );
    wait_interval(&app).await;
    let ok = poll(&app, &client, &d["device_code"]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["user"]["id"], u["id"]);
    assert_eq!(ok.body["organization_id"], o["id"]);
    assert_eq!(ok.body["authentication_method"], "Password");
    assert_eq!(
        claims(ok.body["access_token"].as_str().unwrap())["role"],
        "admin"
    );
    assert_eq!(count(&app, "session.created").await, 1);

    // A device holds no secret: its session refreshes with the client id alone (a public
    // client, like a PKCE session), and the rotated token does too.
    let mut refresh_token = ok.body["refresh_token"].clone();
    for _ in 0..2 {
        let refreshed = app
            .send(
                Method::POST,
                "/user_management/authenticate",
                None,
                Some(&json!({"grant_type": "refresh_token", "client_id": client,
                    "refresh_token": refresh_token})),
            )
            .await;
        assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
        assert_eq!(refreshed.body["user"]["id"], u["id"]);
        assert_ne!(refreshed.body["refresh_token"], refresh_token);
        refresh_token = refreshed.body["refresh_token"].clone();
    }

    wait_interval(&app).await;
    let again = poll(&app, &client, &d["device_code"]).await;
    assert_eq!(
        again.body["error"], "invalid_grant",
        "a device code is exchanged once"
    );
}

#[tokio::test]
async fn denied_expired_unknown_and_foreign_device_codes_fail() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    let client = app.tenant.client_id.clone();
    let env = app.tenant.environment_id.clone();

    let d = start(&app, &client).await.body;
    assert!(decide(&app, &env, d["user_code"].as_str().unwrap(), None).await);
    assert_eq!(
        poll(&app, &client, &d["device_code"]).await.body["error"],
        "access_denied"
    );

    let d = start(&app, &client).await.body;
    assert!(
        !decide(
            &app,
            &other.environment_id,
            d["user_code"].as_str().unwrap(),
            None
        )
        .await,
        "another environment cannot decide it"
    );
    assert_eq!(
        poll(&app, &other.client_id, &d["device_code"]).await.body["error"],
        "invalid_grant",
        "another environment's client cannot redeem it"
    );
    sqlx::query("update device_authorizations set expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    wait_interval(&app).await;
    assert_eq!(
        poll(&app, &client, &d["device_code"]).await.body["error"],
        "expired_token"
    );
    assert!(!decide(&app, &env, d["user_code"].as_str().unwrap(), None).await);

    assert_eq!(
        poll(&app, &client, &json!("nope")).await.body["error"],
        "invalid_grant"
    );
    let unknown = start(&app, "client_nope").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.body["error"], "invalid_client");
    let missing = app
        .send(
            Method::POST,
            "/user_management/authorize/device",
            None,
            Some(&json!({})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// `POST /user_management/authorize/device` on the binary; the device code, the user code and
/// the verification page's path with its query (`verification_uri_complete`).
async fn start_on(site: &Site) -> (Value, String, String) {
    let res = site
        .http
        .post(format!(
            "{}/user_management/authorize/device",
            site.server.base_url
        ))
        .json(&json!({"client_id": site.client_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let d: Value = res.json().await.unwrap();
    let complete = url::Url::parse(d["verification_uri_complete"].as_str().unwrap()).unwrap();
    assert_eq!(complete.path(), "/device");
    let page = format!("/device?{}", complete.query().unwrap());
    (
        d["device_code"].clone(),
        d["user_code"].as_str().unwrap().to_string(),
        page,
    )
}

async fn poll_on(site: &Site, device_code: &Value) -> (StatusCode, Value) {
    sqlx::query("update device_authorizations set last_polled_at = now() - interval '1 hour'")
        .execute(&site.app.pool)
        .await
        .unwrap();
    site.authenticate(json!({"grant_type": GRANT, "device_code": device_code}))
        .await
}

/// Enters `typed` on the device page (opened at `page`); returns the answer to the POST.
async fn enter_code(b: &mut Browser, page: &str, typed: &str) -> Page {
    let form = b.get(page).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let csrf = form.csrf();
    b.post("/device", &[("csrf_token", &csrf), ("user_code", typed)])
        .await
}

#[tokio::test]
async fn a_person_approves_a_device_on_the_hosted_pages_after_password_and_totp() {
    let site = Site::start(&[]).await;
    let u = site.user("device.owner@example.com", true).await;
    let secret = site.totp_factor(u["id"].as_str().unwrap()).await;
    let (device_code, user_code, page) = start_on(&site).await;
    let (status, pending) = poll_on(&site, &device_code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(pending["error"], "authorization_pending");

    let mut b = site.browser();
    let form = b.get(&page).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(
        form.body.contains(&format!("value=\"{user_code}\"")),
        "verification_uri_complete prefills the code: {}",
        form.body
    );
    // RFC 8628 §3.3: typed in lower case with a space instead of the dash.
    let typed = user_code.to_lowercase().replace('-', " ");
    let started = enter_code(&mut b, &page, &typed).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    assert_eq!(started.location(), "/authkit/sign-in");
    assert!(b.has_cookie(), "a hosted-login flow started");
    let early = b.get("/device/confirm").await;
    assert_eq!(early.status, StatusCode::SEE_OTHER, "not signed in yet");
    assert_eq!(early.location(), "/authkit/sign-in");

    let signed_in = b
        .submit(
            "/authkit/sign-in",
            &[
                ("email", "device.owner@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    assert_eq!(signed_in.location(), "/authkit/mfa", "the flow's TOTP step");
    let early = b.get("/device/confirm").await;
    assert_eq!(early.location(), "/authkit/mfa", "TOTP before the decision");
    let passed = b
        .submit("/authkit/mfa", &[("code", &totp_now(&secret))])
        .await;
    assert_eq!(passed.status, StatusCode::SEE_OTHER, "{}", passed.body);
    assert_eq!(passed.location(), "/device/confirm");

    let confirm = b.get("/device/confirm").await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    assert!(confirm.body.contains("Allow device?"));
    assert!(confirm.body.contains(&user_code));
    assert!(confirm.body.contains("device.owner@example.com"));
    let (_, still) = poll_on(&site, &device_code).await;
    assert_eq!(still["error"], "authorization_pending");

    let forged = b
        .post(
            "/device/confirm",
            &[("csrf_token", "0000"), ("decision", "approve")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "CSRF token checked");
    let csrf = confirm.csrf();
    let done = b
        .post(
            "/device/confirm",
            &[("csrf_token", &csrf), ("decision", "approve")],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("Device connected"), "{}", done.body);
    assert!(!b.has_cookie(), "the flow ended");

    let (status, tokens) = poll_on(&site, &device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["user"]["id"], u["id"]);
    assert_eq!(tokens["authentication_method"], "Password");
    assert!(tokens["access_token"].is_string());
    let (_, again) = poll_on(&site, &device_code).await;
    assert_eq!(again["error"], "invalid_grant", "exchanged once");
    // The sign-in's authentication events came from the pages; approving adds none (the spec
    // names no device event); the grant's session is recorded as for an authorization code.
    let events = site.events().await;
    let at = |name: &str| events.iter().position(|e| e == name);
    let (password, mfa, session) = (
        at("authentication.password_succeeded"),
        at("authentication.mfa_succeeded"),
        at("session.created"),
    );
    assert!(
        password < mfa && mfa < session && password.is_some(),
        "{events:?}"
    );
    assert_eq!(
        events.iter().filter(|e| *e == "session.created").count(),
        1,
        "{events:?}"
    );
    let created: Value = sqlx::query_scalar(
        "select data from events where environment_id = $1 and event = 'session.created'",
    )
    .bind(&site.env)
    .fetch_one(&site.app.pool)
    .await
    .unwrap();
    assert_eq!(created["user_id"], u["id"]);
    assert_eq!(created["auth_method"], "password");
}

#[tokio::test]
async fn a_person_denies_a_device_and_bad_or_expired_codes_are_shown_on_the_page() {
    let site = Site::start(&[]).await;
    site.user("device.denier@example.com", true).await;
    let mut b = site.browser();

    let unknown = enter_code(&mut b, "/device", "BCDF-GHJK").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown.body.contains("not valid or has expired"),
        "{}",
        unknown.body
    );
    assert!(unknown.body.contains("role=\"alert\""));
    assert!(!b.has_cookie(), "no flow for an unknown code");
    let empty = enter_code(&mut b, "/device", "  ").await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(empty.body.contains("Enter the code shown on your device"));
    let stale = b
        .post(
            "/device",
            &[("csrf_token", "0000"), ("user_code", "BCDF-GHJK")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN, "CSRF token checked");
    let mut other = site.browser();
    let no_cookie = other
        .post(
            "/device",
            &[("csrf_token", "0000"), ("user_code", "BCDF-GHJK")],
        )
        .await;
    assert_eq!(no_cookie.status, StatusCode::FORBIDDEN, "no device cookie");
    let not_device = other.get("/device/confirm").await;
    assert_eq!(not_device.status, StatusCode::BAD_REQUEST, "no flow");

    // Deny.
    let (device_code, user_code, page) = start_on(&site).await;
    let started = enter_code(&mut b, &page, &user_code).await;
    assert_eq!(started.location(), "/authkit/sign-in", "{}", started.body);
    let signed_in = b
        .submit(
            "/authkit/sign-in",
            &[
                ("email", "device.denier@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        signed_in.location(),
        "/device/confirm",
        "{}",
        signed_in.body
    );
    let denied = b.submit("/device/confirm", &[("decision", "deny")]).await;
    assert_eq!(denied.status, StatusCode::OK, "{}", denied.body);
    assert!(denied.body.contains("Device denied"));
    let (status, body) = poll_on(&site, &device_code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "access_denied");
    let decided = enter_code(&mut b, &page, &user_code).await;
    assert_eq!(
        decided.status,
        StatusCode::BAD_REQUEST,
        "decided codes are gone"
    );

    // Expires while the person signs in.
    let (device_code, user_code, page) = start_on(&site).await;
    let started = enter_code(&mut b, &page, &user_code).await;
    assert_eq!(started.location(), "/authkit/sign-in");
    b.submit(
        "/authkit/sign-in",
        &[
            ("email", "device.denier@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await;
    let confirm = b.get("/device/confirm").await;
    assert_eq!(confirm.status, StatusCode::OK);
    sqlx::query("update device_authorizations set expires_at = now() - interval '1 second' where user_code = $1")
        .bind(&user_code)
        .execute(&site.app.pool)
        .await
        .unwrap();
    let late = b
        .post(
            "/device/confirm",
            &[("csrf_token", &confirm.csrf()), ("decision", "approve")],
        )
        .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(late.body.contains("expired"), "{}", late.body);
    assert!(!b.has_cookie(), "the flow ended");
    let (_, body) = poll_on(&site, &device_code).await;
    assert_eq!(body["error"], "expired_token");
    let expired = enter_code(&mut b, &page, &user_code).await;
    assert_eq!(expired.status, StatusCode::BAD_REQUEST);
    assert!(expired.body.contains("not valid or has expired"));
}
