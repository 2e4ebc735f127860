//! Per-environment settings: `GET`/`PATCH /environment`, `PUT /user_management/app_homepage_url`
//! and `keystead environments update`; each setting changes behaviour through HTTP (token and
//! session lifetimes, email verification, MFA enrollment, sign-in methods, plain-HTTP webhook
//! endpoints and redirect URIs), the process flags are the defaults, and a change in one
//! environment leaves the others alone. The hosted login pages (sign-in methods, MFA
//! enrollment) and the bootstrap environment of the real binary are in `hosted.rs`, `keystead
//! environments update` in `cli.rs`.

mod cli;
mod hosted;

use axum::http::{Method, StatusCode};
use keystead::store::environments;
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};
use crate::um::{claims, fresh_step, grant, password, totp, user};

async fn patch(app: &TestApp, key: &str, settings: Value) -> TestResponse {
    app.send(
        Method::PATCH,
        "/environment",
        Some(key),
        Some(&json!({ "settings": settings })),
    )
    .await
}

/// A production environment's API key.
async fn production_key(app: &TestApp) -> String {
    let mut tx = app.pool.begin().await.unwrap();
    let created = environments::create(&mut tx, &app.state.vault, "Prod", true, None, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    created.api_key
}

#[tokio::test]
async fn get_environment_shows_the_environment_and_its_default_settings() {
    let app = TestApp::new().await;
    let res = app.get("/environment").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let b = &res.body;
    assert_eq!(b["object"], "environment");
    assert_eq!(b["id"], app.tenant.environment_id.as_str());
    assert_eq!(b["client_id"], app.tenant.client_id.as_str());
    assert_eq!(b["name"], "Test");
    assert_eq!(b["type"], "staging");
    assert_eq!(
        b["settings"],
        json!({
            "email_verification_required": false,
            "mfa_enrollment": "optional",
            "sign_in_methods": {
                "password": true, "magic_auth": true, "sso": true,
                "oauth_providers": ["AppleOAuth", "GitHubOAuth", "GoogleOAuth", "MicrosoftOAuth"]
            },
            "access_token_ttl_seconds": 300,
            "session_ttl_seconds": 3600,
            "app_homepage_url": null,
            "allow_http_webhook_endpoints": true,
            "allow_http_redirect_uris": true,
            "radar": {
                "enabled": false, "brute_force_threshold": 10,
                "credential_stuffing_threshold": 20, "window_seconds": 900,
                "ip_sign_up_threshold": 10, "domain_sign_up_threshold": 50,
                "repeat_sign_up_threshold": 3, "sign_up_window_seconds": 3600,
                "stale_account_days": 90, "impossible_travel_kmh": 1000
            }
        })
    );
    let anonymous = app.send(Method::GET, "/environment", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn patch_is_partial_null_resets_and_bad_input_is_a_422_naming_the_field() {
    let app = TestApp::new().await;
    let key = app.tenant.api_key.clone();
    let res = patch(
        &app,
        &key,
        json!({"access_token_ttl_seconds": 900, "sign_in_methods": {"magic_auth": false}}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let s = &res.body["settings"];
    assert_eq!(s["access_token_ttl_seconds"], 900);
    assert_eq!(s["sign_in_methods"]["magic_auth"], false);
    assert_eq!(
        s["sign_in_methods"]["password"], true,
        "untouched keys stay"
    );
    let res = patch(&app, &key, json!({"mfa_enrollment": "required"})).await;
    assert_eq!(res.body["settings"]["access_token_ttl_seconds"], 900);
    assert_eq!(res.body["settings"]["mfa_enrollment"], "required");
    let res = patch(&app, &key, json!({"access_token_ttl_seconds": null})).await;
    assert_eq!(res.body["settings"]["access_token_ttl_seconds"], 300);

    for (settings, field) in [
        (json!({"bogus": true}), "settings.bogus"),
        (
            json!({"email_verification_required": "yes"}),
            "settings.email_verification_required",
        ),
        (
            json!({"mfa_enrollment": "always"}),
            "settings.mfa_enrollment",
        ),
        (
            json!({"access_token_ttl_seconds": 59}),
            "settings.access_token_ttl_seconds",
        ),
        (
            json!({"access_token_ttl_seconds": 86_401}),
            "settings.access_token_ttl_seconds",
        ),
        (
            json!({"access_token_ttl_seconds": -1}),
            "settings.access_token_ttl_seconds",
        ),
        (
            json!({"access_token_ttl_seconds": 1.5}),
            "settings.access_token_ttl_seconds",
        ),
        (
            json!({"session_ttl_seconds": 31_536_001}),
            "settings.session_ttl_seconds",
        ),
        (
            json!({"session_ttl_seconds": 120}),
            "settings.session_ttl_seconds",
        ),
        (
            json!({"app_homepage_url": "javascript:alert(1)"}),
            "settings.app_homepage_url",
        ),
        (json!({"app_homepage_url": 7}), "settings.app_homepage_url"),
        (
            json!({"sign_in_methods": {"passkey": true}}),
            "settings.sign_in_methods.passkey",
        ),
        (
            json!({"sign_in_methods": {"oauth_providers": ["MySpaceOAuth"]}}),
            "settings.sign_in_methods.oauth_providers",
        ),
        (json!({"sign_in_methods": true}), "settings.sign_in_methods"),
        (json!("all"), "settings"),
    ] {
        let res = patch(&app, &key, settings.clone()).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{settings}: {}",
            res.text
        );
        assert_eq!(res.body["code"], "invalid_request_parameters", "{settings}");
        assert_eq!(
            res.body["errors"][0]["field"], field,
            "{settings}: {}",
            res.text
        );
    }
    let other_key = app
        .send(
            Method::PATCH,
            "/environment",
            Some(&key),
            Some(&json!({"name": "x"})),
        )
        .await;
    assert_eq!(other_key.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other_key.body["errors"][0]["field"], "name");
    // A refused PATCH changed nothing.
    let now = app.get("/environment").await.body["settings"].clone();
    assert_eq!(now["session_ttl_seconds"], 3600);
    assert_eq!(now["mfa_enrollment"], "required");
}

#[tokio::test]
async fn a_patch_in_one_environment_leaves_another_alone() {
    let app = TestApp::new().await;
    let b = app.new_tenant("B").await;
    let res = patch(
        &app,
        &app.tenant.api_key,
        json!({"email_verification_required": true, "access_token_ttl_seconds": 600}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let other = app
        .send(Method::GET, "/environment", Some(&b.api_key), None)
        .await;
    assert_eq!(other.body["id"], b.environment_id.as_str());
    assert_eq!(other.body["settings"]["email_verification_required"], false);
    assert_eq!(other.body["settings"]["access_token_ttl_seconds"], 300);
}

#[tokio::test]
async fn access_and_session_lifetimes_follow_the_settings() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com", true).await;
    let first = password(&app, "ada@example.com").await;
    let c = claims(first.body["access_token"].as_str().unwrap());
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 300);

    let res = patch(
        &app,
        &app.tenant.api_key,
        json!({"access_token_ttl_seconds": 1200, "session_ttl_seconds": 7200}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let second = password(&app, "ada@example.com").await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    let c = claims(second.body["access_token"].as_str().unwrap());
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        1200
    );
    // The refreshed token too.
    let refreshed = grant(
        &app,
        json!({"grant_type": "refresh_token", "refresh_token": second.body["refresh_token"]}),
    )
    .await;
    let c = claims(refreshed.body["access_token"].as_str().unwrap());
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        1200
    );
    let sessions = app
        .get(&format!(
            "/user_management/users/{}/sessions",
            u["id"].as_str().unwrap()
        ))
        .await;
    let lifetimes: Vec<i64> = sessions.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let at = |k: &str| {
                chrono::DateTime::parse_from_rfc3339(s[k].as_str().unwrap())
                    .unwrap()
                    .timestamp()
            };
            at("expires_at") - at("created_at")
        })
        .collect();
    assert_eq!(lifetimes.len(), 2, "{}", sessions.text);
    assert!(
        lifetimes.iter().any(|l| (7199..=7201).contains(l)),
        "{lifetimes:?}"
    );
    assert!(
        lifetimes.iter().any(|l| (3599..=3601).contains(l)),
        "{lifetimes:?}"
    );
}

#[tokio::test]
async fn the_process_flag_is_the_default_and_an_explicit_setting_wins() {
    let app = TestApp::with(|s| s.require_email_verification = true).await;
    user(&app, "ada@example.com", true).await;
    let env = app.get("/environment").await;
    assert_eq!(env.body["settings"]["email_verification_required"], true);
    assert_eq!(
        password(&app, "ada@example.com").await.body["code"],
        "email_verification_required"
    );
    patch(
        &app,
        &app.tenant.api_key,
        json!({"email_verification_required": false}),
    )
    .await;
    let res = password(&app, "ada@example.com").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    // Back to the default: the flag applies again.
    patch(
        &app,
        &app.tenant.api_key,
        json!({"email_verification_required": null}),
    )
    .await;
    let res = password(&app, "ada@example.com").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.body["code"], "email_verification_required");
    assert_eq!(
        app.drain_emails().await,
        2,
        "one verification code per stopped sign-in"
    );
}

#[tokio::test]
async fn email_verification_required_set_through_the_api_stops_the_sign_in() {
    let app = TestApp::new().await;
    user(&app, "ada@example.com", true).await;
    patch(
        &app,
        &app.tenant.api_key,
        json!({"email_verification_required": true}),
    )
    .await;
    let res = password(&app, "ada@example.com").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    assert_eq!(res.body["code"], "email_verification_required");
    assert!(res.body["pending_authentication_token"].is_string());
    assert_eq!(app.drain_emails().await, 1, "the verification code");
}

#[tokio::test]
async fn mfa_enrollment_required_sends_a_user_without_a_factor_through_enrollment() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com", true).await;
    patch(
        &app,
        &app.tenant.api_key,
        json!({"mfa_enrollment": "required"}),
    )
    .await;
    let res = password(&app, "ada@example.com").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    assert_eq!(res.body["code"], "mfa_enrollment");
    assert_eq!(res.body["user"]["id"], u["id"]);
    let token = res.body["pending_authentication_token"].clone();
    assert!(token.is_string());

    // The client enrolls a TOTP factor, challenges it and finishes with the mfa-totp grant.
    let enrolled = app
        .post(
            &format!(
                "/user_management/users/{}/auth_factors",
                u["id"].as_str().unwrap()
            ),
            &json!({"type": "totp"}),
        )
        .await;
    assert_eq!(enrolled.status, StatusCode::CREATED, "{}", enrolled.text);
    let factor = enrolled.body["authentication_factor"].clone();
    let challenge = app
        .post(
            &format!("/auth/factors/{}/challenge", factor["id"].as_str().unwrap()),
            &json!({}),
        )
        .await
        .body;
    fresh_step().await;
    let done = grant(
        &app,
        json!({"grant_type": "urn:workos:oauth:grant-type:mfa-totp",
               "code": totp(factor["totp"]["secret"].as_str().unwrap()),
               "pending_authentication_token": token,
               "authentication_challenge_id": challenge["id"]}),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    // With a factor now, the next sign-in is the usual challenge.
    assert_eq!(
        password(&app, "ada@example.com").await.body["code"],
        "mfa_challenge"
    );
    // Optional again: a user without a factor signs in directly.
    user(&app, "bob@example.com", true).await;
    patch(
        &app,
        &app.tenant.api_key,
        json!({"mfa_enrollment": "optional"}),
    )
    .await;
    assert_eq!(
        password(&app, "bob@example.com").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn disabled_sign_in_methods_are_refused_by_the_grants() {
    let app = TestApp::new().await;
    user(&app, "ada@example.com", true).await;
    patch(
        &app,
        &app.tenant.api_key,
        json!({"sign_in_methods": {"password": false, "magic_auth": false}}),
    )
    .await;
    let res = password(&app, "ada@example.com").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    assert_eq!(res.body["code"], "email_password_auth_disabled");
    let magic = grant(
        &app,
        json!({"grant_type": "urn:workos:oauth:grant-type:magic-auth:code",
               "email": "ada@example.com", "code": "123456"}),
    )
    .await;
    assert_eq!(magic.status, StatusCode::BAD_REQUEST, "{}", magic.text);
    assert_eq!(magic.body["error"], "authentication_method_not_allowed");
    patch(&app, &app.tenant.api_key, json!({"sign_in_methods": null})).await;
    assert_eq!(
        password(&app, "ada@example.com").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn http_webhook_endpoints_and_redirect_uris_follow_the_environment_type_and_settings() {
    let app = TestApp::with(|s| s.webhooks.allow_http = None).await;
    let prod_key = production_key(&app).await;
    let hook = json!({"endpoint_url": "http://localhost:4000/hook", "events": ["user.created"]});
    let redirect = json!({"uri": "http://localhost:3000/callback"});

    let staging_hook = app.post("/webhook_endpoints", &hook).await;
    assert_eq!(
        staging_hook.status,
        StatusCode::CREATED,
        "{}",
        staging_hook.text
    );
    let staging_uri = app.post("/user_management/redirect_uris", &redirect).await;
    assert_eq!(
        staging_uri.status,
        StatusCode::CREATED,
        "{}",
        staging_uri.text
    );

    let send = |path: &'static str, body: Value| {
        let key = prod_key.clone();
        let app = &app;
        async move { app.send(Method::POST, path, Some(&key), Some(&body)).await }
    };
    let env = app
        .send(Method::GET, "/environment", Some(&prod_key), None)
        .await;
    assert_eq!(env.body["type"], "production");
    assert_eq!(env.body["settings"]["allow_http_webhook_endpoints"], false);
    assert_eq!(env.body["settings"]["allow_http_redirect_uris"], false);
    let res = send("/webhook_endpoints", hook.clone()).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    assert_eq!(res.body["code"], "invalid_url");
    let res = send("/user_management/redirect_uris", redirect.clone()).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    let https = send(
        "/user_management/redirect_uris",
        json!({"uri": "https://app.example.com/callback"}),
    )
    .await;
    assert_eq!(https.status, StatusCode::CREATED, "{}", https.text);

    // Turned on explicitly in production; off in staging.
    patch(
        &app,
        &prod_key,
        json!({"allow_http_webhook_endpoints": true, "allow_http_redirect_uris": true}),
    )
    .await;
    assert_eq!(
        send("/webhook_endpoints", hook.clone()).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        send("/user_management/redirect_uris", redirect.clone())
            .await
            .status,
        StatusCode::CREATED
    );
    patch(
        &app,
        &app.tenant.api_key,
        json!({"allow_http_redirect_uris": false}),
    )
    .await;
    let res = app
        .post(
            "/user_management/redirect_uris",
            &json!({"uri": "http://127.0.0.1:3000/cb"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    // …and the hosted login refuses the registered http:// URI at authorize.
    let authorize = app
        .send(
            Method::GET,
            &format!(
                "/user_management/authorize?client_id={}&redirect_uri={}&response_type=code&provider=authkit",
                app.tenant.client_id, "http%3A%2F%2Flocalhost%3A3000%2Fcallback"
            ),
            None,
            None,
        )
        .await;
    assert_eq!(
        authorize.status,
        StatusCode::BAD_REQUEST,
        "{}",
        authorize.text
    );
}

#[tokio::test]
async fn app_homepage_url_is_set_with_put_as_the_workos_cli_sends_it() {
    let app = TestApp::new().await;
    let res = app
        .put(
            "/user_management/app_homepage_url",
            &json!({"url": "http://localhost:3000"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["url"], "http://localhost:3000");
    let env = app.get("/environment").await;
    assert_eq!(
        env.body["settings"]["app_homepage_url"],
        "http://localhost:3000"
    );
    for bad in [
        json!({"url": "not a url"}),
        json!({}),
        json!({"url": 3}),
        json!({"url": "ftp://x.example"}),
    ] {
        let res = app.put("/user_management/app_homepage_url", &bad).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            res.text
        );
    }
    let anonymous = app
        .send(
            Method::PUT,
            "/user_management/app_homepage_url",
            None,
            Some(&json!({"url": "https://x.example"})),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn turning_http_webhook_endpoints_off_stops_deliveries_to_them() {
    let app = TestApp::new().await;
    let rx = crate::webhooks::receiver(0, std::time::Duration::ZERO).await;
    let created = app
        .post(
            "/webhook_endpoints",
            &json!({"endpoint_url": rx.url, "events": ["organization.created"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    app.post("/organizations", &json!({"name": "First"})).await;
    assert_eq!(app.drain_webhooks().await, 1);
    assert_eq!(rx.hits().len(), 1);

    patch(
        &app,
        &app.tenant.api_key,
        json!({"allow_http_webhook_endpoints": false}),
    )
    .await;
    app.post("/organizations", &json!({"name": "Second"})).await;
    assert_eq!(app.drain_webhooks().await, 1);
    assert_eq!(rx.hits().len(), 1, "not sent");
    let deliveries = app
        .get(&format!(
            "/webhook_endpoints/{}/deliveries?limit=100",
            created.body["id"].as_str().unwrap()
        ))
        .await;
    let failed: Vec<&Value> = deliveries.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{}", deliveries.text);
    assert_eq!(failed[0]["attempts"], 1, "no retry");
    assert!(
        failed[0]["attempt_log"][0]["error"]
            .as_str()
            .unwrap()
            .contains("allow_http_webhook_endpoints"),
        "{}",
        deliveries.text
    );
}
