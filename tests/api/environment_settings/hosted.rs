//! Environment settings seen by the `keystead` binary: the process flags are the bootstrap
//! environment's defaults, a PATCH made through another replica (the in-process router over the
//! same database) applies to the binary's next request, and the hosted login pages hide and
//! refuse disabled sign-in methods and walk a user through TOTP enrollment when MFA is required.

use axum::http::Method;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::hosted_login::{PASSWORD, Site, totp_now};

/// `PATCH /environment` through the in-process router (another replica of the same database).
async fn patch_elsewhere(site: &Site, settings: Value) {
    let res = site
        .app
        .send(
            Method::PATCH,
            "/environment",
            Some(&site.api_key),
            Some(&json!({ "settings": settings })),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.text);
}

/// `GET /environment` from the binary.
async fn environment(site: &Site) -> Value {
    let res = site
        .http
        .get(format!("{}/environment", site.server.base_url))
        .bearer_auth(&site.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

#[tokio::test]
async fn the_binarys_flags_are_the_bootstrap_environments_defaults_until_set() {
    let site = Site::start(&[
        ("KEYSTEAD_ACCESS_TOKEN_TTL", "900"),
        ("KEYSTEAD_REQUIRE_EMAIL_VERIFICATION", "true"),
        ("KEYSTEAD_WEBHOOK_ALLOW_HTTP", "false"),
    ])
    .await;
    let env = environment(&site).await;
    assert_eq!(env["id"], site.env.as_str());
    assert_eq!(env["type"], "staging");
    let s = &env["settings"];
    assert_eq!(s["access_token_ttl_seconds"], 900);
    assert_eq!(s["email_verification_required"], true);
    assert_eq!(
        s["allow_http_webhook_endpoints"], false,
        "the flag beats the staging default"
    );
    assert_eq!(s["allow_http_redirect_uris"], true);

    patch_elsewhere(&site, json!({"access_token_ttl_seconds": 120})).await;
    assert_eq!(
        environment(&site).await["settings"]["access_token_ttl_seconds"],
        120,
        "the explicit setting wins, on the next request"
    );
    site.user("ttl@example.com", true).await;
    let (status, tokens) = site.password_grant("ttl@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let c = crate::um::claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 120);
}

#[tokio::test]
async fn the_hosted_login_hides_and_refuses_disabled_methods() {
    let site = Site::start(&[]).await;
    site.user("ada@example.com", true).await;
    let mut b = site.browser();
    let start = b.authorize(&site, &[]).await;
    let page = b.get(&start).await;
    assert!(page.body.contains("name=\"password\""), "{}", page.body);
    assert!(page.body.contains("/authkit/magic-code"));
    let csrf = page.csrf();

    patch_elsewhere(
        &site,
        json!({"sign_in_methods": {"password": false, "magic_auth": false}}),
    )
    .await;
    let page = b.get(&start).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("name=\"password\""), "{}", page.body);
    assert!(!page.body.contains("/authkit/magic-code"), "{}", page.body);
    assert!(
        !page.body.contains("/authkit/sign-up"),
        "sign-up sets a password"
    );
    assert_eq!(
        b.get("/authkit/sign-up").await.status,
        StatusCode::BAD_REQUEST
    );
    let refused = b
        .post(
            "/authkit/sign-in",
            &[
                ("csrf_token", csrf.as_str()),
                ("email", "ada@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(
        b.get("/authkit/magic-code").await.status,
        StatusCode::BAD_REQUEST
    );
    // An OAuth provider left out of oauth_providers goes back to the client with an error.
    patch_elsewhere(&site, json!({"sign_in_methods": {"oauth_providers": []}})).await;
    let mut c = site.browser();
    let res = c
        .get(&site.authorize_path(&[("provider", "GoogleOAuth")]))
        .await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    assert_eq!(
        res.location_param("error").as_deref(),
        Some("authentication_method_not_allowed"),
        "{}",
        res.location()
    );
}

#[tokio::test]
async fn required_mfa_walks_a_hosted_sign_in_through_totp_enrollment() {
    let site = Site::start(&[]).await;
    site.user("mfa@example.com", true).await;
    patch_elsewhere(&site, json!({"mfa_enrollment": "required"})).await;
    let mut b = site.browser();
    let start = b.authorize(&site, &[]).await;
    let next = b
        .submit(
            &start,
            &[("email", "mfa@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(next.location(), "/authkit/mfa/enroll", "{}", next.body);
    let page = b.get("/authkit/mfa/enroll").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let secret = regex::Regex::new(r"authenticator app: ([A-Z2-7]+)\.")
        .unwrap()
        .captures(&page.body)
        .unwrap_or_else(|| panic!("no key in: {}", page.body))[1]
        .to_string();
    let secret = keystead::crypto::totp::from_base32(&secret).expect("base32 key");
    let csrf = page.csrf();
    let done = b
        .post(
            "/authkit/mfa",
            &[("csrf_token", csrf.as_str()), ("code", &totp_now(&secret))],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let (status, tokens) = site
        .exchange(&done.location_param("code").unwrap(), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(
        site.events()
            .await
            .iter()
            .any(|e| e == "authentication.mfa_succeeded")
    );
}
