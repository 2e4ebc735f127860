//! The pending-authentication steps of sign-in: `email_verification_required` (with
//! `KEYSTEAD_REQUIRE_EMAIL_VERIFICATION`) and the email-verification grant,
//! `organization_selection_required` and the organization-selection grant, single-membership
//! scoping, the three steps chained, and refresh switching organizations.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::um::{claims, count, event_data, fresh_step, grant, member, org, password, totp, user};

const EMAIL_VERIFICATION: &str = "urn:workos:oauth:grant-type:email-verification:code";
const ORGANIZATION_SELECTION: &str = "urn:workos:oauth:grant-type:organization-selection";

async fn verification_code(app: &TestApp, id: &str) -> String {
    let v = app
        .get(&format!("/user_management/email_verification/{id}"))
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    v.body["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_unverified_user_verifies_their_email_to_finish_a_password_sign_in() {
    let app = TestApp::with(|s| s.require_email_verification = true).await;
    let u = user(&app, "ada@example.com", true).await;
    let res = password(&app, "ada@example.com").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    assert_eq!(res.body["code"], "email_verification_required");
    assert_eq!(res.body["email"], "ada@example.com");
    let token = res.body["pending_authentication_token"]
        .as_str()
        .unwrap()
        .to_string();
    let verification_id = res.body["email_verification_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(verification_id.starts_with("email_verification_"));
    assert_eq!(count(&app, "email_verification.created").await, 1);
    assert_eq!(count(&app, "session.created").await, 0);
    let stored: Vec<String> = sqlx::query_scalar("select token_hash from pending_authentications")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(!stored.contains(&token), "pending tokens are stored hashed");

    let code = verification_code(&app, &verification_id).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let body = |code: &str, token: &str| json!({"grant_type": EMAIL_VERIFICATION, "code": code, "pending_authentication_token": token});
    let bad = grant(&app, body(wrong, &token)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["code"], "invalid_one_time_code");
    let failed = &event_data(&app, "authentication.email_verification_failed").await[0];
    assert_eq!(failed["user_id"], u["id"]);
    assert_eq!(
        grant(&app, body(&code, "nope")).await.body["code"],
        "invalid_pending_authentication_token"
    );

    let ok = grant(&app, body(&code, &token)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["user"]["email_verified"], true);
    assert_eq!(ok.body["authentication_method"], "Password");
    let names = app.event_names().await;
    assert!(
        names.ends_with(&[
            "user.updated".into(),
            "session.created".into(),
            "authentication.email_verification_succeeded".into()
        ]),
        "{names:?}"
    );
    assert_eq!(
        grant(&app, body(&code, &token)).await.body["code"],
        "invalid_pending_authentication_token"
    );
    // Verified now: the next sign-in goes straight through.
    assert_eq!(
        password(&app, "ada@example.com").await.status,
        StatusCode::OK
    );
    assert_eq!(app.drain_emails().await, 1, "the emails this test queued");
}

#[tokio::test]
async fn users_in_several_organizations_choose_one_and_a_single_one_is_automatic() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com", true).await;
    let one = org(&app, "One").await;
    member(&app, &u, &one, "admin").await;
    let single = password(&app, "ada@example.com").await;
    assert_eq!(single.status, StatusCode::OK, "{}", single.text);
    assert_eq!(single.body["organization_id"], one["id"]);
    assert_eq!(
        claims(single.body["access_token"].as_str().unwrap())["role"],
        "admin"
    );

    let two = org(&app, "Two").await;
    member(&app, &u, &two, "member").await;
    let outsider = org(&app, "Three").await;
    let res = password(&app, "ada@example.com").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    assert_eq!(res.body["code"], "organization_selection_required");
    assert_eq!(res.body["user"]["id"], u["id"]);
    assert_eq!(
        res.body["organizations"],
        json!([{"id": one["id"], "name": "One"}, {"id": two["id"], "name": "Two"}])
    );
    let token = res.body["pending_authentication_token"]
        .as_str()
        .unwrap()
        .to_string();
    let body = |org: &Value| {
        json!({"grant_type": ORGANIZATION_SELECTION, "pending_authentication_token": token,
               "organization_id": org["id"]})
    };
    let denied = grant(&app, body(&outsider)).await;
    assert_eq!(denied.status, StatusCode::BAD_REQUEST);
    assert_eq!(denied.body["error"], "organization_membership_not_found");

    let ok = grant(&app, body(&two)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["organization_id"], two["id"]);
    let c = claims(ok.body["access_token"].as_str().unwrap());
    assert_eq!(c["org_id"], two["id"]);
    assert_eq!(c["role"], "member");
    assert_eq!(c["roles"], json!(["member"]));
    assert_eq!(
        c["permissions"],
        json!([]),
        "an organization-scoped token lists permissions"
    );
    assert_eq!(
        grant(&app, body(&two)).await.body["code"],
        "invalid_pending_authentication_token"
    );

    // Refresh with organization_id switches the session to the other organization.
    let switched = grant(
        &app,
        json!({"grant_type": "refresh_token", "refresh_token": ok.body["refresh_token"],
               "organization_id": one["id"]}),
    )
    .await;
    assert_eq!(switched.status, StatusCode::OK, "{}", switched.text);
    assert_eq!(switched.body["organization_id"], one["id"]);
    assert_eq!(
        claims(switched.body["access_token"].as_str().unwrap())["role"],
        "admin"
    );
}

#[tokio::test]
async fn the_steps_chain_email_verification_then_mfa_then_organization_selection() {
    let app = TestApp::with(|s| s.require_email_verification = true).await;
    let u = user(&app, "ada@example.com", true).await;
    let (a, b) = (org(&app, "A").await, org(&app, "B").await);
    member(&app, &u, &a, "member").await;
    member(&app, &u, &b, "admin").await;
    let factor = app
        .post(
            &format!(
                "/user_management/users/{}/auth_factors",
                u["id"].as_str().unwrap()
            ),
            &json!({"type": "totp"}),
        )
        .await
        .body["authentication_factor"]
        .clone();

    let first = password(&app, "ada@example.com").await;
    assert_eq!(first.body["code"], "email_verification_required");
    let code = verification_code(&app, first.body["email_verification_id"].as_str().unwrap()).await;
    let second = grant(
        &app,
        json!({"grant_type": EMAIL_VERIFICATION, "code": code,
               "pending_authentication_token": first.body["pending_authentication_token"]}),
    )
    .await;
    assert_eq!(second.status, StatusCode::FORBIDDEN, "{}", second.text);
    assert_eq!(second.body["code"], "mfa_challenge");

    let challenge = app
        .post(
            &format!("/auth/factors/{}/challenge", factor["id"].as_str().unwrap()),
            &json!({}),
        )
        .await
        .body;
    fresh_step().await;
    let third = grant(
        &app,
        json!({"grant_type": "urn:workos:oauth:grant-type:mfa-totp",
               "code": totp(factor["totp"]["secret"].as_str().unwrap()),
               "pending_authentication_token": second.body["pending_authentication_token"],
               "authentication_challenge_id": challenge["id"]}),
    )
    .await;
    assert_eq!(third.status, StatusCode::FORBIDDEN, "{}", third.text);
    assert_eq!(third.body["code"], "organization_selection_required");

    let done = grant(
        &app,
        json!({"grant_type": ORGANIZATION_SELECTION, "organization_id": b["id"],
               "pending_authentication_token": third.body["pending_authentication_token"]}),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.body["organization_id"], b["id"]);
    assert_eq!(done.body["authentication_method"], "Password");
    let sessions = app
        .get(&format!(
            "/user_management/users/{}/sessions",
            u["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(sessions.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(sessions.body["data"][0]["organization_id"], b["id"]);
    assert_eq!(
        sessions.body["data"][0]["ip_address"], "198.51.100.7",
        "carried through the steps"
    );
    for e in [
        "authentication.password_succeeded",
        "authentication.email_verification_succeeded",
        "authentication.mfa_succeeded",
        "session.created",
    ] {
        assert_eq!(count(&app, e).await, 1, "{e}");
    }
    assert_eq!(app.drain_emails().await, 1, "the emails this test queued");
}

#[tokio::test]
async fn pending_tokens_expire_and_belong_to_their_environment() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    let u = user(&app, "ada@example.com", true).await;
    member(&app, &u, &org(&app, "A").await, "member").await;
    let b = org(&app, "B").await;
    member(&app, &u, &b, "member").await;
    let res = password(&app, "ada@example.com").await;
    let token = res.body["pending_authentication_token"].clone();
    let body = json!({"grant_type": ORGANIZATION_SELECTION, "pending_authentication_token": token,
                      "organization_id": b["id"], "client_id": other.client_id,
                      "client_secret": other.api_key});
    let theirs = app
        .send(
            axum::http::Method::POST,
            "/user_management/authenticate",
            None,
            Some(&body),
        )
        .await;
    assert_eq!(theirs.body["code"], "invalid_pending_authentication_token");
    sqlx::query("update pending_authentications set expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let late = grant(
        &app,
        json!({"grant_type": ORGANIZATION_SELECTION, "pending_authentication_token": token,
               "organization_id": b["id"]}),
    )
    .await;
    assert_eq!(late.body["code"], "invalid_pending_authentication_token");
}
