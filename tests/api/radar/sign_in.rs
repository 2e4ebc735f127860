//! Radar wired into Keystead's own sign-ins (its `SignInHook`): with `settings.radar.enabled`,
//! the password and Magic Auth grants and the hosted login are blocked (403 `sign_in_blocked`,
//! an error page) and challenged (403 `radar_challenge` with a `pending_authentication_token`,
//! finished with the emailed code through the email-verification grant or the newer SDKs'
//! radar-email-challenge grant; the hosted email-code page); an SSO login Radar blocks goes
//! back with `error=sign_in_blocked`. Failures count toward brute force; successes are
//! recorded, so a challenged device is recognised afterwards.

use axum::http::{Method, StatusCode};
use reqwest::StatusCode as HttpStatus;
use serde_json::{Value, json};

use super::{CHROME, FIREFOX, list, radar_settings};
use crate::hosted_login::{CALLBACK, PASSWORD as SITE_PASSWORD, Site, emailed_code};
use crate::support::{TestApp, TestResponse};

const PASSWORD: &str = "correct horse battery";
const EMAIL_VERIFICATION: &str = "urn:workos:oauth:grant-type:email-verification:code";
const RADAR_EMAIL_CHALLENGE: &str = "urn:workos:oauth:grant-type:radar-email-challenge:code";

async fn user(app: &TestApp, email: &str) {
    let res = app
        .post(
            "/user_management/users",
            &json!({"email": email, "password": PASSWORD, "email_verified": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
}

async fn grant(app: &TestApp, mut body: Value) -> TestResponse {
    body["client_id"] = json!(app.tenant.client_id);
    body["client_secret"] = json!(app.tenant.api_key);
    app.send(
        Method::POST,
        "/user_management/authenticate",
        None,
        Some(&body),
    )
    .await
}

async fn password(app: &TestApp, email: &str, password: &str, ua: &str) -> TestResponse {
    grant(
        app,
        json!({"grant_type": "password", "email": email, "password": password,
               "ip_address": "198.51.100.1", "user_agent": ua,
               // An id of no attempt is ignored: the sign-in is assessed on its own.
               "radar_auth_attempt_id": "radar_att_01AAAAAAAAAAAAAAAAAAAAAAAA"}),
    )
    .await
}

async fn verification_code(app: &TestApp, id: &str) -> String {
    let v = app
        .get(&format!("/user_management/email_verification/{id}"))
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    v.body["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_password_and_magic_auth_grants_are_blocked_only_while_radar_is_enabled() {
    let app = TestApp::new().await;
    user(&app, "mal@example.com").await;
    list(&app, Method::POST, "email/block", "mal@example.com").await;
    // Radar off (the default): lists do not apply to sign-ins.
    let off = password(&app, "mal@example.com", PASSWORD, CHROME).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
    assert_eq!(
        app.count_rows("radar_attempts").await,
        0,
        "Radar off assesses nothing"
    );

    radar_settings(&app, json!({"enabled": true})).await;
    let blocked = password(&app, "mal@example.com", PASSWORD, CHROME).await;
    assert_eq!(blocked.status, StatusCode::FORBIDDEN, "{}", blocked.text);
    assert_eq!(blocked.body["code"], "sign_in_blocked");
    assert!(blocked.body["message"].as_str().unwrap().contains("email"));

    let sent = app
        .post(
            "/user_management/magic_auth",
            &json!({"email": "mal@example.com"}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text);
    let magic = grant(
        &app,
        json!({"grant_type": "urn:workos:oauth:grant-type:magic-auth:code",
               "email": "mal@example.com", "code": sent.body["code"]}),
    )
    .await;
    assert_eq!(magic.status, StatusCode::FORBIDDEN, "{}", magic.text);
    assert_eq!(magic.body["code"], "sign_in_blocked");
    app.allow_pending_jobs();
}

#[tokio::test]
async fn a_blocked_password_sign_in_answers_the_same_whatever_the_password() {
    // Radar's screening runs alongside the password check: a block must still not tell a right
    // password from a wrong one, nor record a failed password.
    let app = TestApp::new().await;
    user(&app, "eve@example.com").await;
    radar_settings(&app, json!({"enabled": true})).await;
    list(&app, Method::POST, "email/block", "eve@example.com").await;
    let right = password(&app, "eve@example.com", PASSWORD, CHROME).await;
    let wrong = password(&app, "eve@example.com", "wrong password!", CHROME).await;
    let unknown = password(&app, "nobody@example.com", "wrong password!", CHROME).await;
    assert_eq!(right.status, StatusCode::FORBIDDEN, "{}", right.text);
    assert_eq!(right.body, wrong.body);
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "not on the list");
    let failed: Vec<String> = sqlx::query_scalar(
        "select data->>'email' from events where event = 'authentication.password_failed'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        failed,
        ["nobody@example.com"],
        "blocked attempts record no failure"
    );
    let verdicts: Vec<(String, Option<String>)> = sqlx::query_as(
        "select verdict, blocklist_type from radar_attempts where email = 'eve@example.com'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let blocked = ("block".to_string(), Some("email".to_string()));
    assert_eq!(verdicts, [blocked.clone(), blocked], "each block is stored");
}

/// `POST /radar/attempts` for a sign-in of `email`; its `(verdict, attempt_id)`.
async fn assessed(app: &TestApp, email: &str) -> (String, String) {
    let res = app
        .post(
            "/radar/attempts",
            &json!({"ip_address": "198.51.100.1", "user_agent": CHROME, "email": email,
                    "auth_method": "Password", "action": "sign-in"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let field = |k: &str| res.body[k].as_str().unwrap().to_string();
    (field("verdict"), field("attempt_id"))
}

async fn attempts(app: &TestApp, email: &str) -> Vec<(String, bool, bool)> {
    sqlx::query_as(
        "select verdict, succeeded, linked from radar_attempts where email = $1 order by id",
    )
    .bind(email)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_sign_in_takes_over_the_attempt_its_application_assessed_once() {
    let app = TestApp::new().await;
    user(&app, "lin@example.com").await;
    user(&app, "bea@example.com").await;
    radar_settings(&app, json!({"enabled": true})).await;
    let with = |email: &str, id: &str| {
        json!({"grant_type": "password", "email": email, "password": PASSWORD,
               "user_agent": CHROME, "radar_auth_attempt_id": id})
    };

    // Allowed: the sign-in counts no second attempt, and its success marks the assessed one.
    let (verdict, id) = assessed(&app, "lin@example.com").await;
    assert_eq!(verdict, "allow");
    let ok = grant(&app, with("lin@example.com", &id)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(
        attempts(&app, "lin@example.com").await,
        [("allow".into(), true, true)]
    );
    // Taken over once: the same id again is assessed as a new attempt.
    let again = grant(&app, with("lin@example.com", &id)).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(attempts(&app, "lin@example.com").await.len(), 2);

    // Another email's attempt is not taken over.
    let (_, other) = assessed(&app, "someone@example.com").await;
    let ok = grant(&app, with("bea@example.com", &other)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(attempts(&app, "bea@example.com").await.len(), 1);

    // A blocked assessment blocks the sign-in that takes it over, with its reason, and records
    // `authentication.radar_risk_detected` for the user.
    list(&app, Method::POST, "email/block", "bea@example.com").await;
    let (verdict, blocked) = assessed(&app, "bea@example.com").await;
    assert_eq!(verdict, "block");
    list(&app, Method::DELETE, "email/block", "bea@example.com").await;
    let refused = grant(&app, with("bea@example.com", &blocked)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_eq!(refused.body["code"], "sign_in_blocked");
    assert_eq!(refused.body["message"], "Blocked by the email block list");
    let data: Value = sqlx::query_scalar(
        "select data from events where event = 'authentication.radar_risk_detected'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(data["control"], "restriction");
    assert_eq!(data["blocklist_type"], "email");
    assert_eq!(data["action"], "login");
    assert_eq!(data["auth_method"], "password");
    assert_eq!(data["email"], "bea@example.com");
    assert!(data["user_id"].as_str().unwrap().starts_with("user_"));
    assert_eq!(data["user_agent"], CHROME);
    assert!(data["ip_address"].is_null());
    // The list entry is gone: the next sign-in, assessed anew, goes through.
    let ok = grant(&app, with("bea@example.com", &blocked)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    app.allow_pending_jobs();
}

#[tokio::test]
async fn signals_id_is_the_sign_in_device() {
    let app = TestApp::new().await;
    user(&app, "dev@example.com").await;
    radar_settings(&app, json!({"enabled": true})).await;
    list(&app, Method::POST, "device/block", "device-13").await;
    let sign_in = |signals: &str| {
        json!({"grant_type": "password", "email": "dev@example.com", "password": PASSWORD,
               "user_agent": CHROME, "signals_id": signals})
    };
    let ok = grant(&app, sign_in("device-12")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let blocked = grant(&app, sign_in("device-13")).await;
    assert_eq!(blocked.status, StatusCode::FORBIDDEN, "{}", blocked.text);
    assert_eq!(blocked.body["message"], "Blocked by the device block list");
    let known: Vec<String> =
        sqlx::query_scalar("select unnest(devices) from radar_profiles where email = $1")
            .bind("dev@example.com")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        known,
        ["device-12"],
        "the device is what a success remembers"
    );
    app.allow_pending_jobs();
}

#[tokio::test]
async fn failed_password_sign_ins_count_toward_brute_force() {
    let app = TestApp::new().await;
    user(&app, "bo@example.com").await;
    radar_settings(&app, json!({"enabled": true, "brute_force_threshold": 2})).await;
    for _ in 0..2 {
        let wrong = password(&app, "bo@example.com", "wrong password!", CHROME).await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.text);
        assert_eq!(wrong.body["code"], "invalid_credentials");
    }
    let blocked = password(&app, "bo@example.com", PASSWORD, CHROME).await;
    assert_eq!(blocked.status, StatusCode::FORBIDDEN, "{}", blocked.text);
    assert_eq!(blocked.body["code"], "sign_in_blocked");
}

#[tokio::test]
async fn a_challenged_password_sign_in_finishes_with_the_emailed_code() {
    let app = TestApp::new().await;
    user(&app, "cy@example.com").await;
    radar_settings(&app, json!({"enabled": true})).await;
    // First sign-in: no history, no challenge; its success is recorded.
    let first = password(&app, "cy@example.com", PASSWORD, CHROME).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let succeeded: i64 = sqlx::query_scalar("select count(*) from radar_attempts where succeeded")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(succeeded, 1);

    // Another browser and OS: challenged after the password is checked.
    let wrong = password(&app, "cy@example.com", "wrong password!", FIREFOX).await;
    assert_eq!(
        wrong.status,
        StatusCode::BAD_REQUEST,
        "a wrong password is not challenged"
    );
    let challenged = password(&app, "cy@example.com", PASSWORD, FIREFOX).await;
    assert_eq!(
        challenged.status,
        StatusCode::FORBIDDEN,
        "{}",
        challenged.text
    );
    let b = &challenged.body;
    assert_eq!(b["code"], "radar_challenge");
    assert_eq!(b["user"]["email"], "cy@example.com");
    assert_eq!(b["radar_challenge_id"], b["email_verification_id"]);
    let token = b["pending_authentication_token"]
        .as_str()
        .unwrap()
        .to_string();
    let id = b["email_verification_id"].as_str().unwrap().to_string();
    let code = verification_code(&app, &id).await;
    let wrong_code = if code == "000000" { "111111" } else { "000000" };
    let bad = grant(
        &app,
        json!({"grant_type": EMAIL_VERIFICATION, "code": wrong_code,
               "pending_authentication_token": token}),
    )
    .await;
    assert_eq!(bad.body["code"], "invalid_one_time_code", "{}", bad.text);
    let done = grant(
        &app,
        json!({"grant_type": EMAIL_VERIFICATION, "code": code,
               "pending_authentication_token": token}),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.body["access_token"].is_string());

    // The device passed the challenge: it is recognised now.
    let again = password(&app, "cy@example.com", PASSWORD, FIREFOX).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);

    // A stale account is challenged; the newer SDKs' radar-email-challenge grant finishes it.
    sqlx::query("update radar_profiles set last_success_at = now() - interval '200 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    let stale = password(&app, "cy@example.com", PASSWORD, CHROME).await;
    assert_eq!(stale.body["code"], "radar_challenge", "{}", stale.text);
    let id = stale.body["radar_challenge_id"]
        .as_str()
        .unwrap()
        .to_string();
    let code = verification_code(&app, &id).await;
    let done = grant(
        &app,
        json!({"grant_type": RADAR_EMAIL_CHALLENGE, "code": code, "radar_challenge_id": id,
               "pending_authentication_token": stale.body["pending_authentication_token"]}),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    // Each challenge emailed its code (read here through the API instead).
    assert_eq!(app.count_rows("email_outbox").await, 2);
    app.allow_pending_jobs();
}

async fn enable_radar(site: &Site) {
    let res = site
        .server
        .request(&site.http, reqwest::Method::PATCH, "/environment")
        .json(&json!({"settings": {"radar": {"enabled": true}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), HttpStatus::OK);
}

/// Signs in on the hosted password page; returns the page the form answered.
async fn hosted_password(
    site: &Site,
    email: &str,
) -> (crate::hosted_login::Browser, crate::hosted_login::Page) {
    let mut b = site.browser();
    let start = b
        .authorize(site, &[("state", "s"), ("provider", "authkit")])
        .await;
    let page = b
        .submit(&start, &[("email", email), ("password", SITE_PASSWORD)])
        .await;
    (b, page)
}

#[tokio::test]
async fn the_hosted_login_is_challenged_with_an_email_code_and_blocked() {
    let site = Site::start(&[]).await;
    site.user("hal@example.com", true).await;
    enable_radar(&site).await;

    // First sign-in: allowed, ends at the redirect URI; the exchange records the success.
    let (_, first) = hosted_password(&site, "hal@example.com").await;
    assert_eq!(first.status, HttpStatus::SEE_OTHER, "{}", first.body);
    assert!(
        first.location().starts_with(CALLBACK),
        "{}",
        first.location()
    );
    let (status, _) = site
        .exchange(&first.location_param("code").unwrap(), None)
        .await;
    assert_eq!(status, HttpStatus::OK);

    // Stale now: the password page goes on to the email-code step.
    sqlx::query("update radar_profiles set last_success_at = now() - interval '200 days'")
        .execute(&site.app.pool)
        .await
        .unwrap();
    let (mut b, challenged) = hosted_password(&site, "hal@example.com").await;
    assert_eq!(
        challenged.status,
        HttpStatus::SEE_OTHER,
        "{}",
        challenged.body
    );
    assert_eq!(challenged.location(), "/authkit/email-verification");
    let code = emailed_code(&site, "hal@example.com").await;
    let done = b
        .submit("/authkit/email-verification", &[("code", &code)])
        .await;
    assert_eq!(done.status, HttpStatus::SEE_OTHER, "{}", done.body);
    assert!(done.location().starts_with(CALLBACK), "{}", done.location());
    let (status, tokens) = site
        .exchange(&done.location_param("code").unwrap(), None)
        .await;
    assert_eq!(status, HttpStatus::OK, "{tokens}");

    // Blocked: an error page, no code.
    let res = site
        .server
        .request(
            &site.http,
            reqwest::Method::POST,
            "/radar/lists/email/block",
        )
        .json(&json!({"entry": "hal@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), HttpStatus::CREATED);
    let (_, blocked) = hosted_password(&site, "hal@example.com").await;
    assert_eq!(blocked.status, HttpStatus::FORBIDDEN, "{}", blocked.body);
    assert!(blocked.body.contains("block list"), "{}", blocked.body);
}

#[tokio::test]
async fn an_sso_login_radar_blocks_goes_back_with_sign_in_blocked() {
    if crate::idp::skipped("radar sso") {
        return;
    }
    use crate::sso_saml::{APP_CALLBACK, location, login, param, setup};
    let s = setup(None, false).await;
    radar_settings(&s.app, json!({"enabled": true})).await;
    // Allowed first (the IdP's user is new to Radar).
    let (res, _, _) = login(&s, "st-ok").await;
    let back = location(&res);
    assert!(param(&back, "code").is_some(), "{back}");
    list(&s.app, Method::POST, "email/block", "alice@example.com").await;
    let (res, _, _) = login(&s, "st-radar").await;
    let back = location(&res);
    assert!(back.as_str().starts_with(APP_CALLBACK), "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("sign_in_blocked"));
    assert!(param(&back, "code").is_none());
    let sso: i64 =
        sqlx::query_scalar("select count(*) from radar_attempts where auth_method = 'SSO'")
            .fetch_one(&s.app.pool)
            .await
            .unwrap();
    assert_eq!(sso, 2);
}
