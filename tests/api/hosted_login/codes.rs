//! The hosted pages on the User Management API's own objects: a magic code asked for on the
//! page is a `magic_auth_…` readable through the API and redeemable by the Magic Auth grant
//! (and the other way round), with the grant's single-use, expiry and attempt rules; email
//! verification and password reset likewise create and spend `email_verification_…` and
//! `password_reset_…` objects with their events.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Browser, PASSWORD, Site};

/// The `data` of the environment's events named `name`, oldest first.
async fn event_data(site: &Site, name: &str) -> Vec<Value> {
    sqlx::query_scalar(
        "select data from events where environment_id = $1 and event = $2 order by id",
    )
    .bind(&site.env)
    .bind(name)
    .fetch_all(&site.app.pool)
    .await
    .unwrap()
}

/// `GET path` with the API key.
async fn api_get(site: &Site, path: &str) -> (StatusCode, Value) {
    let res = site
        .server
        .request(&site.http, Method::GET, path)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

/// Waits until more than `seen` emails went to `to`; returns the newest one.
async fn nth_mail(site: &Site, to: &str, seen: usize) -> crate::smtp_sink::Received {
    for _ in 0..200 {
        let mut mails: Vec<_> = site
            .sink
            .messages()
            .into_iter()
            .filter(|m| m.to == [to.to_string()])
            .collect();
        if mails.len() > seen {
            return mails.pop().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no email #{} to {to}", seen + 1);
}

/// Waits until more than `seen` emails went to `to`; returns the newest one's code.
async fn nth_code(site: &Site, to: &str, seen: usize) -> String {
    nth_mail(site, to, seen).await.code()
}

/// Asks for a magic code on the page in a new flow; returns the browser, at the code form.
async fn ask_for_code(site: &Site, email: &str) -> Browser {
    let mut b = site.browser();
    b.authorize(site, &[]).await;
    let sent = b.submit("/authkit/magic-code", &[("email", email)]).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    b
}

/// The failure events' `error.code`s.
async fn failure_codes(site: &Site, name: &str) -> Vec<String> {
    event_data(site, name)
        .await
        .iter()
        .map(|d| d["error"]["code"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_page_magic_code_is_a_magic_auth_object_with_the_grants_rules() {
    let site = Site::start(&[]).await;
    let user = site.user("magic@example.com", false).await;
    let mut b = ask_for_code(&site, "magic@example.com").await;
    let code = nth_code(&site, "magic@example.com", 0).await;

    // A real Magic Auth object: in the events (without the code) and through the API.
    let created = event_data(&site, "magic_auth.created").await;
    assert_eq!(created.len(), 1);
    assert!(
        created[0].get("code").is_none(),
        "events never carry the code"
    );
    let id = created[0]["id"].as_str().unwrap();
    assert!(id.starts_with("magic_auth_"), "{id}");
    let (status, magic) = api_get(&site, &format!("/user_management/magic_auth/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{magic}");
    assert_eq!(magic["code"], code.as_str());
    assert_eq!(magic["user_id"], user["id"]);
    assert_eq!(magic["email"], "magic@example.com");
    let (_, listed) = api_get(&site, "/events?events=magic_auth.created").await;
    assert_eq!(listed["data"][0]["data"]["id"], id, "{listed}");

    // A wrong code is refused and counted, as by the grant.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let bad = b
        .submit("/authkit/magic-code/verify", &[("code", wrong)])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert!(bad.body.contains("That code is not right"));
    let attempts: i32 = sqlx::query_scalar("select attempts from magic_auths where id = $1")
        .bind(id)
        .fetch_one(&site.app.pool)
        .await
        .unwrap();
    assert_eq!(attempts, 1);

    let done = b
        .submit("/authkit/magic-code/verify", &[("code", &code)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let (status, tokens) = site
        .exchange(&done.location_param("code").unwrap(), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["user"]["id"], user["id"]);
    assert_eq!(
        tokens["user"]["email_verified"], true,
        "the code proved the email"
    );

    // Spent: neither the grant nor another flow takes it again.
    let (status, body) = site
        .authenticate(
            json!({"grant_type": "urn:workos:oauth:grant-type:magic-auth:code",
                             "client_secret": site.api_key, "email": "magic@example.com",
                             "code": code}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "one_time_code_previously_used");
    let mut again = ask_for_code(&site, "magic@example.com").await;
    let reused = again
        .submit("/authkit/magic-code/verify", &[("code", &code)])
        .await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST, "{}", reused.body);
    assert!(reused.body.contains("already used"), "{}", reused.body);
    // The second request's code was emailed too (the worker sends it while the page answers).
    nth_mail(&site, "magic@example.com", 1).await;

    let succeeded = event_data(&site, "authentication.magic_auth_succeeded").await;
    assert_eq!(succeeded.len(), 1);
    assert_eq!(succeeded[0]["type"], "magic_auth");
    assert_eq!(succeeded[0]["user_id"], user["id"]);
    assert!(succeeded[0]["ip_address"].is_string(), "{}", succeeded[0]);
    assert_eq!(
        failure_codes(&site, "authentication.magic_auth_failed").await,
        [
            "invalid_one_time_code",
            "one_time_code_previously_used",
            "one_time_code_previously_used"
        ]
    );
    for name in ["user.updated", "magic_auth.created"] {
        assert!(site.events().await.iter().any(|e| e == name), "{name}");
    }
    assert!(!site.server.log().contains(&code), "codes are not logged");
}

#[tokio::test]
async fn expired_and_api_issued_magic_codes_on_the_page() {
    let site = Site::start(&[]).await;

    // An expired code is refused with the grant's reason.
    let mut b = ask_for_code(&site, "late@example.com").await;
    let code = nth_code(&site, "late@example.com", 0).await;
    sqlx::query("update magic_auths set expires_at = now() - interval '1 minute'")
        .execute(&site.app.pool)
        .await
        .unwrap();
    let late = b
        .submit("/authkit/magic-code/verify", &[("code", &code)])
        .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.body);
    assert!(late.body.contains("expired"), "{}", late.body);
    assert_eq!(
        failure_codes(&site, "authentication.magic_auth_failed").await,
        ["one_time_code_expired"]
    );

    // A code the page sent signs in through the grant, for the user the code named.
    let _b = ask_for_code(&site, "grant@example.com").await;
    let code = nth_code(&site, "grant@example.com", 0).await;
    let (status, tokens) = site
        .authenticate(
            json!({"grant_type": "urn:workos:oauth:grant-type:magic-auth:code",
                             "client_secret": site.api_key, "email": "grant@example.com",
                             "code": code}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["authentication_method"], "MagicAuth");

    // A code from `POST /user_management/magic_auth` works on the page.
    let res = site
        .server
        .request(&site.http, Method::POST, "/user_management/magic_auth")
        .json(&json!({"email": "api@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let magic: Value = res.json().await.unwrap();
    let mut b = ask_for_code(&site, "api@example.com").await;
    let first = magic["code"].as_str().unwrap();
    let done = b
        .submit("/authkit/magic-code/verify", &[("code", first)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let (status, tokens) = site
        .exchange(&done.location_param("code").unwrap(), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        tokens["user"]["id"], magic["user_id"],
        "the id the code named"
    );
    // Both codes to api@example.com are emailed (the worker sends to the sink on this runtime).
    site.app.wait_for_jobs().await;
    nth_mail(&site, "api@example.com", 1).await;
}

#[tokio::test]
async fn page_email_verification_and_password_reset_use_the_api_objects() {
    let site = Site::start(&[("KEYSTEAD_REQUIRE_EMAIL_VERIFICATION", "true")]).await;
    let user = site.user("verify@example.com", false).await;
    let user_id = user["id"].as_str().unwrap();
    let mut b = site.browser();
    let start = b.authorize(&site, &[]).await;
    let next = b
        .submit(
            &start,
            &[("email", "verify@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        next.location(),
        "/authkit/email-verification",
        "{}",
        next.body
    );
    let code = nth_code(&site, "verify@example.com", 0).await;
    let created = event_data(&site, "email_verification.created").await;
    assert_eq!(created.len(), 1, "entering the step sends one code");
    let id = created[0]["id"].as_str().unwrap();
    let (status, verification) =
        api_get(&site, &format!("/user_management/email_verification/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{verification}");
    assert_eq!(verification["code"], code.as_str());
    assert_eq!(verification["user_id"], user_id);

    // Expired: refused; a new code (resend) works.
    sqlx::query("update email_verifications set expires_at = now() - interval '1 minute'")
        .execute(&site.app.pool)
        .await
        .unwrap();
    let late = b
        .submit("/authkit/email-verification", &[("code", &code)])
        .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.body);
    assert!(late.body.contains("expired"), "{}", late.body);
    let resend = b
        .post(
            "/authkit/email-verification/resend",
            &[("csrf_token", &late.csrf())],
        )
        .await;
    assert_eq!(resend.status, StatusCode::OK, "{}", resend.body);
    let fresh = nth_code(&site, "verify@example.com", 1).await;
    let done = b
        .submit("/authkit/email-verification", &[("code", &fresh)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        failure_codes(&site, "authentication.email_verification_failed").await,
        ["one_time_code_expired"]
    );
    let ok = event_data(&site, "authentication.email_verification_succeeded").await;
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0]["user_id"], user_id);
    let updated = event_data(&site, "user.updated").await;
    assert!(
        updated.iter().any(|u| u["email_verified"] == true),
        "{updated:?}"
    );

    // Forgot password: a password_reset_ object whose token is the link's.
    let mut f = site.browser();
    f.authorize(&site, &[]).await;
    let sent = f
        .submit(
            "/authkit/forgot-password",
            &[("email", "verify@example.com")],
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    let created = event_data(&site, "password_reset.created").await;
    assert_eq!(created.len(), 1);
    assert!(created[0].get("password_reset_token").is_none());
    let id = created[0]["id"].as_str().unwrap();
    let (status, reset) = api_get(&site, &format!("/user_management/password_reset/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{reset}");
    let token = reset["password_reset_token"].as_str().unwrap();
    let mail = nth_mail(&site, "verify@example.com", 2).await;
    assert!(
        mail.text().contains("/authkit/reset-password?client_id="),
        "{}",
        mail.text()
    );
    assert!(
        mail.text().contains(token),
        "the emailed link carries the token"
    );

    // An expired token shows the "link expired" page and changes nothing.
    sqlx::query("update password_resets set expires_at = now() - interval '1 minute'")
        .execute(&site.app.pool)
        .await
        .unwrap();
    let path = format!(
        "/authkit/reset-password?client_id={}&token={token}",
        site.client_id
    );
    let expired = f.get(&path).await;
    assert_eq!(expired.status, StatusCode::BAD_REQUEST, "{}", expired.body);
    let form = [
        ("client_id", site.client_id.as_str()),
        ("token", token),
        ("password", "another fine passphrase"),
    ];
    let refused = f.post("/authkit/reset-password", &form).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        event_data(&site, "password_reset.succeeded")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn organization_selection_offers_only_active_memberships() {
    let site = Site::start(&[]).await;
    let user = site.user("member@example.com", true).await;
    let user_id = user["id"].as_str().unwrap();
    let active = site.organization_with("Active Org", user_id).await;
    let inactive = site.organization_with("Inactive Org", user_id).await;
    sqlx::query(
        "update organization_memberships set status = 'inactive' where organization_id = $1",
    )
    .bind(&inactive)
    .execute(&site.app.pool)
    .await
    .unwrap();
    let mut b = site.browser();
    let start = b.authorize(&site, &[]).await;
    let done = b
        .submit(
            &start,
            &[("email", "member@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(
        done.location().starts_with(super::CALLBACK),
        "no choice: {}",
        done.location()
    );
    let (status, tokens) = site
        .exchange(&done.location_param("code").unwrap(), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["organization_id"], active.as_str());

    // Asking for the inactive one is refused like any organization the user is not in.
    let mut b = site.browser();
    let start = b
        .authorize(&site, &[("organization_id", inactive.as_str())])
        .await;
    let refused = b
        .submit(
            &start,
            &[("email", "member@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
}
