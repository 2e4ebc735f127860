//! The hosted login flows end to end: password, sign-up with email verification, magic code,
//! TOTP and organization selection, forgot/reset password, and the authorization-code exchange
//! (single use, PKCE).

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{CALLBACK, PASSWORD, Site, emailed_code, totp_now};

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[tokio::test]
async fn a_password_sign_in_ends_at_the_redirect_uri_with_a_single_use_code() {
    let site = Site::start(&[]).await;
    let user = site.user("ada@example.com", true).await;
    let mut b = site.browser();
    let start = b
        .authorize(&site, &[("state", "xyz 1"), ("provider", "authkit")])
        .await;
    assert_eq!(start, "/authkit/sign-in");

    let page = b.get(&start).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<h1 id=\"heading\">Sign in</h1>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Email me a sign-in code"));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.headers["referrer-policy"], "no-referrer");

    let wrong = b
        .submit(
            &start,
            &[("email", "ada@example.com"), ("password", "nope nope nope")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("role=\"alert\""));
    assert!(wrong.body.contains("Incorrect email or password."));
    assert!(
        wrong.body.contains("value=\"ada@example.com\""),
        "the email is kept"
    );

    let done = b
        .submit(
            &start,
            &[("email", "ADA@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(done.location().starts_with(&format!("{CALLBACK}?code=")));
    assert_eq!(done.location_param("state").as_deref(), Some("xyz 1"));
    assert!(!b.has_cookie(), "the flow cookie is removed at the end");
    let code = done.location_param("code").unwrap();

    let (status, tokens) = site.exchange(&code, None).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["user"]["id"], user["id"]);
    assert_eq!(tokens["authentication_method"], "Password");
    assert!(tokens["access_token"].is_string() && tokens["refresh_token"].is_string());
    assert!(tokens.get("organization_id").is_none());

    // A replayed code fails and revokes the session it created.
    let (status, replay) = site.exchange(&code, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(replay["error"], "invalid_grant");
    let (status, refreshed) = site
        .authenticate(
            json!({"grant_type": "refresh_token", "client_secret": site.api_key,
                             "refresh_token": tokens["refresh_token"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refreshed}");

    let events = site.events().await;
    for name in [
        "authentication.password_failed",
        "authentication.password_succeeded",
        "session.created",
        "session.revoked",
    ] {
        assert!(events.iter().any(|e| e == name), "{name} in {events:?}");
    }
    // The code is bound to its environment: another client cannot redeem one.
    let (status, _) = site.exchange("not-a-code", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn pkce_codes_need_their_verifier_and_allow_public_clients() {
    let site = Site::start(&[]).await;
    site.user("pkce@example.com", true).await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-extra-entropy";
    let challenge = challenge(verifier);
    let pkce = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let sign_in = async |site: &Site, params: &[(&str, &str)]| {
        let mut b = site.browser();
        let start = b.authorize(site, params).await;
        let done = b
            .submit(
                &start,
                &[("email", "pkce@example.com"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        done.location_param("code").unwrap()
    };

    let code = sign_in(&site, &pkce).await;
    let (status, body) = site.exchange(&code, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = site.exchange(&code, Some(verifier)).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a refused code stays spent"
    );

    let code = sign_in(&site, &pkce).await;
    let (status, _) = site
        .exchange(
            &code,
            Some("wrong-verifier-wrong-verifier-wrong-verifier-x"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A public client: no client_secret, the verifier proves possession.
    let code = sign_in(&site, &pkce).await;
    let (status, tokens) = site
        .authenticate(json!({"grant_type": "authorization_code", "code": code,
                             "code_verifier": verifier}))
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["user"]["email"], "pkce@example.com");

    // Without a challenge, no secret means no client.
    let code = sign_in(&site, &[]).await;
    let (status, body) = site
        .authenticate(json!({"grant_type": "authorization_code", "code": code}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_client"))
    );
    let (status, body) = site.exchange(&code, Some(verifier)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "code_challenge_not_found");

    // A challenge needs the S256 method.
    let mut b = site.browser();
    let res = b
        .get(&site.authorize_path(&[("code_challenge", &challenge), ("state", "s")]))
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(
        res.location_param("error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(res.location_param("state").as_deref(), Some("s"));
}

/// The `sid` claim of an access token (its signature is checked elsewhere).
fn sid(access_token: &str) -> String {
    let payload = access_token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    claims["sid"].as_str().unwrap().to_string()
}

/// AuthKit in the browser: a session started by a public client (PKCE, no secret) refreshes
/// with its `client_id` only, with rotation and reuse detection as with a secret; a session
/// started with the secret still needs it, and another client is refused.
#[tokio::test]
async fn a_public_pkce_session_refreshes_with_its_client_id_only() {
    let site = Site::start(&[]).await;
    site.user("spa@example.com", true).await;
    let verifier = "public-client-verifier-0123456789-abcdefghijklmnop";
    let challenge = challenge(verifier);
    let sign_in = async |site: &Site| site.pkce_code("spa@example.com", &challenge).await;
    // `grant_type=refresh_token` as authkit-js sends it: `client_id`, no secret.
    let refresh = async |client_id: &str, token: &str, secret: Option<&str>| {
        let mut body = json!({"grant_type": "refresh_token", "client_id": client_id,
                              "refresh_token": token});
        if let Some(secret) = secret {
            body["client_secret"] = json!(secret);
        }
        let res = site
            .http
            .post(format!(
                "{}/user_management/authenticate",
                site.server.base_url
            ))
            .json(&body)
            .send()
            .await
            .unwrap();
        (
            res.status(),
            res.json::<Value>().await.unwrap_or(Value::Null),
        )
    };
    let token = |v: &Value| v["refresh_token"].as_str().unwrap().to_string();

    let code = sign_in(&site).await;
    let (status, started) = site
        .authenticate(json!({"grant_type": "authorization_code", "code": code,
                             "code_verifier": verifier}))
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let session = sid(started["access_token"].as_str().unwrap());
    let t1 = token(&started);

    let (status, second) = refresh(&site.client_id, &t1, None).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let t2 = token(&second);
    assert_ne!(t1, t2, "rotated");
    assert_eq!(sid(second["access_token"].as_str().unwrap()), session);
    assert_eq!(second["user"]["email"], "spa@example.com");

    // Another environment's client cannot use the token (and does not spend it).
    let other = &site.app.tenant.client_id;
    let (status, body) = refresh(other, &t2, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_client"))
    );
    // A backend holding the secret may refresh it too.
    let (status, third) = refresh(&site.client_id, &t2, Some(&site.api_key)).await;
    assert_eq!(status, StatusCode::OK, "{third}");
    let t3 = token(&third);

    // Reuse detection as today: past the grace window a replayed token burns the session.
    sqlx::query(
        "update refresh_tokens set used_at = now() - interval '1 hour'
         where environment_id = $1 and used_at is not null",
    )
    .bind(&site.env)
    .execute(&site.app.pool)
    .await
    .unwrap();
    let (status, body) = refresh(&site.client_id, &t1, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body) = refresh(&site.client_id, &t3, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "the session was revoked"
    );
    let status: String = sqlx::query_scalar("select status from sessions where id = $1")
        .bind(&session)
        .fetch_one(&site.app.pool)
        .await
        .unwrap();
    assert_eq!(status, "revoked");

    // A session started with the secret (PKCE or not) still needs it to refresh.
    let code = sign_in(&site).await;
    let (status, confidential) = site.exchange(&code, Some(verifier)).await;
    assert_eq!(status, StatusCode::OK, "{confidential}");
    let c1 = token(&confidential);
    let (status, body) = refresh(&site.client_id, &c1, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_client"))
    );
    let (status, body) = refresh(&site.client_id, "not-a-token", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_client"))
    );
    let (status, body) = refresh(&site.client_id, &c1, Some(&site.api_key)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the refused attempts did not spend it: {body}"
    );
    let revoked: i64 = sqlx::query_scalar(
        "select count(*) from sessions where environment_id = $1 and status = 'revoked'",
    )
    .bind(&site.env)
    .fetch_one(&site.app.pool)
    .await
    .unwrap();
    assert_eq!(revoked, 1, "only the replayed public session");
    let public: Vec<Option<String>> = sqlx::query_scalar(
        "select public_client_id from sessions where environment_id = $1 order by created_at",
    )
    .bind(&site.env)
    .fetch_all(&site.app.pool)
    .await
    .unwrap();
    assert_eq!(public, [Some(site.client_id.clone()), None]);
}

/// With the environment's `email_verification_required` off (the default), the hosted login
/// asks no verification code: an unverified user's sign-in ends at the redirect URI, and the
/// email stays unverified.
#[tokio::test]
async fn without_required_verification_an_unverified_user_signs_in_without_a_code() {
    let site = Site::start(&[]).await;
    let user = site.user("unverified@example.com", false).await;
    let mut b = site.browser();
    let start = b.authorize(&site, &[]).await;
    let done = b
        .submit(
            &start,
            &[("email", "unverified@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(
        done.location().starts_with(&format!("{CALLBACK}?code=")),
        "{}",
        done.location()
    );
    let (status, tokens) = site
        .exchange(&done.location_param("code").unwrap(), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["user"]["id"], user["id"]);
    assert_eq!(tokens["user"]["email_verified"], false);
    assert!(site.sink.messages().is_empty(), "no code was emailed");
}

#[tokio::test]
async fn sign_up_verifies_the_email_with_a_code_sent_over_smtp() {
    let site = Site::start(&[("KEYSTEAD_REQUIRE_EMAIL_VERIFICATION", "true")]).await;
    let mut b = site.browser();
    let start = b.authorize(&site, &[("screen_hint", "sign-up")]).await;
    assert_eq!(start, "/authkit/sign-up");
    let weak = b
        .submit(
            &start,
            &[("email", "grace@example.com"), ("password", "short")],
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(weak.body.contains("at least 8 characters"), "{}", weak.body);
    let created = b
        .submit(
            &start,
            &[
                ("first_name", "Grace"),
                ("last_name", "Hopper"),
                ("email", "grace@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    assert_eq!(created.location(), "/authkit/email-verification");
    let code = emailed_code(&site, "grace@example.com").await;
    let mail = site.sink.messages().pop().unwrap();
    assert_eq!(
        mail.header("subject").as_deref(),
        Some("Verify your email address for Default")
    );

    let page = b.get("/authkit/email-verification").await;
    assert!(page.body.contains("grace@example.com"));
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let bad = b
        .submit("/authkit/email-verification", &[("code", wrong)])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("That code is not right"));
    let done = b
        .submit("/authkit/email-verification", &[("code", &code)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let (status, tokens) = site
        .exchange(&done.location_param("code").unwrap(), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["user"]["email_verified"], true);
    assert_eq!(tokens["user"]["first_name"], "Grace");
    let events = site.events().await;
    for name in [
        "user.created",
        "email_verification.created",
        "authentication.email_verification_failed",
        "user.updated",
        "authentication.email_verification_succeeded",
    ] {
        assert!(events.iter().any(|e| e == name), "{name} in {events:?}");
    }
    // Signing up again with the same email is refused on the page.
    let mut again = site.browser();
    let start = again.authorize(&site, &[("screen_hint", "sign-up")]).await;
    let taken = again
        .submit(
            &start,
            &[("email", "grace@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(taken.body.contains("already exists"));
}

#[tokio::test]
async fn a_magic_code_signs_in_and_creates_the_user_on_first_use() {
    let site = Site::start(&[]).await;
    let mut b = site.browser();
    b.authorize(&site, &[("login_hint", "new@example.com")])
        .await;
    let sent = b
        .submit("/authkit/magic-code", &[("email", "new@example.com")])
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    assert_eq!(sent.location(), "/authkit/magic-code/verify");
    let code = emailed_code(&site, "new@example.com").await;
    let done = b
        .submit("/authkit/magic-code/verify", &[("code", &code)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let (status, tokens) = site
        .exchange(&done.location_param("code").unwrap(), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["authentication_method"], "MagicAuth");
    assert_eq!(tokens["user"]["email"], "new@example.com");
    assert_eq!(tokens["user"]["email_verified"], true);

    // The code worked once.
    let mut b2 = site.browser();
    b2.authorize(&site, &[]).await;
    b2.submit("/authkit/magic-code", &[("email", "new@example.com")])
        .await;
    let second = emailed_code(&site, "new@example.com").await;
    let stale = b2
        .submit("/authkit/magic-code/verify", &[("code", &code)])
        .await;
    if code != second {
        assert_eq!(stale.status, StatusCode::BAD_REQUEST, "{}", stale.body);
    }
    // The worker finishes sending the second code to the sink (on this test's runtime).
    site.app.wait_for_jobs().await;
    let events = site.events().await;
    for name in [
        "magic_auth.created",
        "user.created",
        "authentication.magic_auth_succeeded",
    ] {
        assert!(events.iter().any(|e| e == name), "{name} in {events:?}");
    }
    // Neither the code nor anything else secret reached the server's log.
    assert!(!site.server.log().contains(&code));
}

#[tokio::test]
async fn totp_and_organization_selection_follow_the_password() {
    let site = Site::start(&[]).await;
    let user = site.user("mfa@example.com", true).await;
    let user_id = user["id"].as_str().unwrap();
    let secret = site.totp_factor(user_id).await;
    let first = site.organization_with("Alpha", user_id).await;
    let second = site.organization_with("Beta", user_id).await;

    let mut b = site.browser();
    let start = b.authorize(&site, &[]).await;
    let next = b
        .submit(
            &start,
            &[("email", "mfa@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(next.location(), "/authkit/mfa");
    let bad = b.submit("/authkit/mfa", &[("code", "12345x")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let code = totp_now(&secret);
    let next = b.submit("/authkit/mfa", &[("code", &code)]).await;
    assert_eq!(next.location(), "/authkit/organization", "{}", next.body);
    let page = b.get("/authkit/organization").await;
    assert!(page.body.contains("Alpha") && page.body.contains("Beta"));
    let done = b
        .submit("/authkit/organization", &[("organization_id", &second)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let (status, tokens) = site
        .exchange(&done.location_param("code").unwrap(), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["organization_id"], second.as_str());

    // The same TOTP code cannot be used twice.
    let mut again = site.browser();
    let start = again
        .authorize(&site, &[("organization_id", first.as_str())])
        .await;
    again
        .submit(
            &start,
            &[("email", "mfa@example.com"), ("password", PASSWORD)],
        )
        .await;
    let replay = again.submit("/authkit/mfa", &[("code", &code)]).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", replay.body);
    let events = site.events().await;
    assert!(events.iter().any(|e| e == "authentication.mfa_succeeded"));
    assert!(events.iter().any(|e| e == "authentication.mfa_failed"));

    // A requested organization the user is not in is refused.
    let outsider = site.user("outsider@example.com", true).await;
    assert!(outsider["id"].is_string());
    let mut o = site.browser();
    let start = o
        .authorize(&site, &[("organization_id", first.as_str())])
        .await;
    let refused = o
        .submit(
            &start,
            &[("email", "outsider@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("not a member"));
}

#[tokio::test]
async fn forgot_and_reset_password_revokes_sessions() {
    let site = Site::start(&[]).await;
    site.user("reset@example.com", false).await;
    let (status, before) = site.password_grant("reset@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{before}");

    let mut b = site.browser();
    b.authorize(&site, &[]).await;
    let unknown = b
        .submit(
            "/authkit/forgot-password",
            &[("email", "nobody@example.com")],
        )
        .await;
    let sent = b
        .submit(
            "/authkit/forgot-password",
            &[("email", "reset@example.com")],
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    assert_eq!(
        unknown.body, sent.body,
        "the answer does not reveal accounts"
    );
    let mail = site
        .sink
        .wait_for("reset@example.com", std::time::Duration::from_secs(10))
        .await;
    let link = regex::Regex::new(r"(http://\S+/authkit/reset-password\?\S+)")
        .unwrap()
        .captures(&mail.text())
        .unwrap()[1]
        .to_string();
    let path = link
        .split_once("/authkit/")
        .map(|(_, p)| format!("/authkit/{p}"))
        .unwrap();
    assert!(
        site.sink
            .messages()
            .iter()
            .all(|m| m.to != ["nobody@example.com"])
    );

    // The link works in another browser (no flow cookie).
    let mut other = site.browser();
    let form = other.get(&path).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let field = |name: &str| {
        regex::Regex::new(&format!(r#"name="{name}" value="([^"]+)""#))
            .unwrap()
            .captures(&form.body)
            .unwrap()[1]
            .to_string()
    };
    let (client_id, token) = (field("client_id"), field("token"));
    let new_password = "a brand new passphrase";
    let done = other
        .post(
            "/authkit/reset-password",
            &[
                ("client_id", &client_id),
                ("token", &token),
                ("password", new_password),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("Your password has been changed"));
    let reused = other
        .post(
            "/authkit/reset-password",
            &[
                ("client_id", &client_id),
                ("token", &token),
                ("password", new_password),
            ],
        )
        .await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);

    let (status, _) = site
        .authenticate(
            json!({"grant_type": "refresh_token", "client_secret": site.api_key,
                             "refresh_token": before["refresh_token"]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the old session was revoked"
    );
    let (status, after): (_, Value) = site.password_grant("reset@example.com", new_password).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(
        after["user"]["email_verified"], true,
        "a reset verifies the email"
    );
    let events = site.events().await;
    for name in [
        "password_reset.created",
        "password_reset.succeeded",
        "session.revoked",
    ] {
        assert!(events.iter().any(|e| e == name), "{name} in {events:?}");
    }
    let log = site.server.log();
    assert!(!log.contains(&token), "the reset token is not logged");
}

#[tokio::test]
async fn without_smtp_the_email_steps_are_skipped_and_hidden() {
    let site = Site::start_with(false, &[]).await;
    let mut b = site.browser();
    let start = b.authorize(&site, &[("screen_hint", "sign-up")]).await;
    let page = b.get("/authkit/sign-in").await;
    assert!(!page.body.contains("Email me a sign-in code"));
    assert_eq!(
        b.get("/authkit/magic-code").await.status,
        StatusCode::BAD_REQUEST
    );
    let done = b
        .submit(
            &start,
            &[("email", "plain@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(done.location().starts_with(CALLBACK));
    let (status, tokens) = site
        .exchange(&done.location_param("code").unwrap(), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tokens["user"]["email_verified"], false);
}

#[tokio::test]
async fn sign_up_refuses_an_over_long_name_and_creates_no_user() {
    let site = Site::start_with(false, &[]).await;
    let mut b = site.browser();
    let start = b.authorize(&site, &[("screen_hint", "sign-up")]).await;
    let long = "n".repeat(257);
    for field in ["first_name", "last_name"] {
        let res = b
            .submit(
                &start,
                &[
                    (field, long.as_str()),
                    ("email", "long@example.com"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{field}");
        assert!(
            res.body.contains("must be at most 256 characters."),
            "{field}: {}",
            res.body
        );
    }
    let users: i64 = sqlx::query_scalar("select count(*) from users where environment_id = $1")
        .bind(&site.env)
        .fetch_one(&site.app.pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
    let at_limit = "n".repeat(256);
    let done = b
        .submit(
            &start,
            &[
                ("first_name", at_limit.as_str()),
                ("email", "long@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
}
