//! `/user_management/invitations`: send, get, by token, list, resend, revoke, accept, expiry,
//! events, tenancy, and accepting through the password grant.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::um::{PASSWORD, count, event_data, grant, org, user};

async fn invite(app: &TestApp, body: Value) -> Value {
    let res = app.post("/user_management/invitations", &body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body
}

#[tokio::test]
async fn an_invitation_has_the_spec_shape_and_its_token_finds_it() {
    let app = TestApp::new().await;
    let o = org(&app, "Acme").await;
    let inviter = user(&app, "boss@example.com", false).await;
    let i = invite(
        &app,
        json!({"email": "New@Example.com", "organization_id": o["id"], "role_slug": "admin",
               "inviter_user_id": inviter["id"]}),
    )
    .await;
    assert_eq!(i["object"], "invitation");
    assert!(i["id"].as_str().unwrap().starts_with("invitation_"));
    assert_eq!(i["email"], "new@example.com");
    assert_eq!(i["state"], "pending");
    assert_eq!(i["organization_id"], o["id"]);
    assert_eq!(i["role_slug"], "admin");
    assert_eq!(i["inviter_user_id"], inviter["id"]);
    for k in ["accepted_at", "revoked_at", "accepted_user_id"] {
        assert!(i[k].is_null(), "{k}");
    }
    let token = i["token"].as_str().unwrap();
    assert_eq!(
        i["accept_invitation_url"],
        format!("http://keystead.test/user_management/invitations/accept?token={token}")
    );
    let created = chrono::DateTime::parse_from_rfc3339(i["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(i["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_days(), 7, "7 days by default");

    let by_id = app
        .get(&format!(
            "/user_management/invitations/{}",
            i["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(by_id.body, i);
    let by_token = app
        .get(&format!("/user_management/invitations/by_token/{token}"))
        .await;
    assert_eq!(by_token.body["id"], i["id"]);
    assert_eq!(
        app.get("/user_management/invitations/by_token/nope")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let stored: String = sqlx::query_scalar("select token_hash from invitations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_ne!(stored, token, "tokens are stored hashed");

    let event = &event_data(&app, "invitation.created").await[0];
    assert_eq!(event["id"], i["id"]);
    assert!(event.get("token").is_none() && event.get("accept_invitation_url").is_none());

    let dup = app
        .post(
            "/user_management/invitations",
            &json!({"email": "new@example.com", "organization_id": o["id"]}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);
    assert_eq!(dup.body["code"], "email_already_invited_to_organization");
    assert_eq!(app.drain_emails().await, 1, "the emails this test queued");
}

#[tokio::test]
async fn invitation_errors_use_the_spec_codes() {
    let app = TestApp::new().await;
    let o = org(&app, "Acme").await;
    let u = user(&app, "ada@example.com", false).await;
    for (body, status, code) in [
        (
            json!({"email": "x@example.com", "expires_in_days": 0}),
            400,
            "expires_in_days_too_short",
        ),
        (
            json!({"email": "x@example.com", "expires_in_days": 31}),
            400,
            "expires_in_days_too_long",
        ),
        (
            json!({"email": "x@example.com", "organization_id": o["id"], "role_slug": "owner"}),
            400,
            "invalid_role",
        ),
        (
            json!({"email": "ada@example.com"}),
            400,
            "user_already_exists",
        ),
        (
            json!({"email": "not-an-email"}),
            422,
            "invalid_request_parameters",
        ),
    ] {
        let res = app.post("/user_management/invitations", &body).await;
        assert_eq!(res.status.as_u16(), status, "{body}: {}", res.text);
        assert_eq!(res.body["code"], code, "{body}");
    }
    let res = app
        .post(
            "/user_management/invitations",
            &json!({"email": "x@example.com", "organization_id": "org_nope"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app.post("/user_management/invitations", &json!({})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);

    crate::um::member(&app, &u, &o, "member").await;
    let res = app
        .post(
            "/user_management/invitations",
            &json!({"email": "ada@example.com", "organization_id": o["id"]}),
        )
        .await;
    assert_eq!(res.body["code"], "user_already_organization_member");
    let pending = app
        .post(
            "/user_management/invitations",
            &json!({"email": "y@example.com"}),
        )
        .await;
    assert_eq!(pending.status, StatusCode::CREATED);
    let dup = app
        .post(
            "/user_management/invitations",
            &json!({"email": "y@example.com"}),
        )
        .await;
    assert_eq!(dup.body["code"], "email_already_invited");
    assert_eq!(count(&app, "invitation.created").await, 1);
    assert_eq!(app.drain_emails().await, 1, "the emails this test queued");
}

#[tokio::test]
async fn accepting_creates_the_user_and_the_membership() {
    let app = TestApp::new().await;
    let o = org(&app, "Acme").await;
    let i = invite(
        &app,
        json!({"email": "new@example.com", "organization_id": o["id"], "role_slug": "admin"}),
    )
    .await;
    let id = i["id"].as_str().unwrap();
    let accepted = app
        .post(
            &format!("/user_management/invitations/{id}/accept"),
            &json!({}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    assert_eq!(accepted.body["state"], "accepted");
    assert!(accepted.body["accepted_at"].is_string());
    let user_id = accepted.body["accepted_user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let u = app.get(&format!("/user_management/users/{user_id}")).await;
    assert_eq!(u.body["email"], "new@example.com");
    let ms = app
        .get(&format!(
            "/user_management/organization_memberships?user_id={user_id}"
        ))
        .await;
    assert_eq!(ms.body["data"][0]["organization_id"], o["id"]);
    assert_eq!(ms.body["data"][0]["role"], json!({"slug": "admin"}));
    assert_eq!(ms.body["data"][0]["status"], "active");
    let names = app.event_names().await;
    for e in [
        "user.created",
        "organization_membership.created",
        "invitation.accepted",
    ] {
        assert!(names.contains(&e.to_string()), "{e}: {names:?}");
    }

    let again = app
        .post(
            &format!("/user_management/invitations/{id}/accept"),
            &json!({}),
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.body["code"], "invite_not_pending");
    let revoke = app
        .post(
            &format!("/user_management/invitations/{id}/revoke"),
            &json!({}),
        )
        .await;
    assert_eq!(revoke.body["code"], "invite_not_pending");
    let resend = app
        .post(
            &format!("/user_management/invitations/{id}/resend"),
            &json!({}),
        )
        .await;
    assert_eq!(resend.body["code"], "invite_accepted");
    assert_eq!(app.drain_emails().await, 1, "the emails this test queued");
}

#[tokio::test]
async fn inviting_an_existing_user_makes_a_pending_membership_that_revoking_removes() {
    let app = TestApp::new().await;
    let o = org(&app, "Acme").await;
    let u = user(&app, "ada@example.com", false).await;
    let i = invite(
        &app,
        json!({"email": "ada@example.com", "organization_id": o["id"]}),
    )
    .await;
    let list = |status: &'static str| {
        let path = format!(
            "/user_management/organization_memberships?user_id={}&statuses={status}",
            u["id"].as_str().unwrap()
        );
        let app = &app;
        async move { app.get(&path).await.body["data"].as_array().unwrap().len() }
    };
    assert_eq!(list("pending").await, 1);
    let id = i["id"].as_str().unwrap();

    let resent = app
        .post(
            &format!("/user_management/invitations/{id}/resend"),
            &json!({"locale": "fr"}),
        )
        .await;
    assert_eq!(resent.status, StatusCode::OK, "{}", resent.text);
    assert_eq!(resent.body["token"], i["token"]);
    assert_eq!(count(&app, "invitation.resent").await, 1);

    let revoked = app
        .post(
            &format!("/user_management/invitations/{id}/revoke"),
            &json!({}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(revoked.body["state"], "revoked");
    assert!(revoked.body["revoked_at"].is_string());
    assert_eq!(list("pending").await, 0);
    assert_eq!(count(&app, "organization_membership.deleted").await, 1);
    assert_eq!(count(&app, "invitation.revoked").await, 1);
    let resend = app
        .post(
            &format!("/user_management/invitations/{id}/resend"),
            &json!({}),
        )
        .await;
    assert_eq!(resend.body["code"], "invite_revoked");

    // A new invitation after the revoked one is fine; accepting activates its pending membership.
    let i2 = invite(
        &app,
        json!({"email": "ada@example.com", "organization_id": o["id"]}),
    )
    .await;
    let ok = app
        .post(
            &format!(
                "/user_management/invitations/{}/accept",
                i2["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(ok.body["accepted_user_id"], u["id"]);
    assert_eq!(list("active").await, 1);
    assert_eq!(count(&app, "organization_membership.updated").await, 1);
    assert_eq!(app.drain_emails().await, 3, "the emails this test queued");
}

#[tokio::test]
async fn expired_invitations_read_as_expired_and_cannot_be_used() {
    let app = TestApp::new().await;
    let i = invite(
        &app,
        json!({"email": "late@example.com", "expires_in_days": 1}),
    )
    .await;
    let id = i["id"].as_str().unwrap();
    sqlx::query("update invitations set expires_at = now() - interval '1 minute'")
        .execute(&app.pool)
        .await
        .unwrap();
    let got = app.get(&format!("/user_management/invitations/{id}")).await;
    assert_eq!(got.body["state"], "expired");
    let accept = app
        .post(
            &format!("/user_management/invitations/{id}/accept"),
            &json!({}),
        )
        .await;
    assert_eq!(accept.body["code"], "invite_not_pending");
    let resend = app
        .post(
            &format!("/user_management/invitations/{id}/resend"),
            &json!({}),
        )
        .await;
    assert_eq!(resend.body["code"], "invite_expired");
    // The email can be invited again.
    invite(&app, json!({"email": "late@example.com"})).await;
    assert_eq!(app.drain_emails().await, 2, "the emails this test queued");
}

#[tokio::test]
async fn invitations_are_listed_by_organization_and_email_and_tenant_scoped() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    let o = org(&app, "Acme").await;
    let a = invite(
        &app,
        json!({"email": "a@example.com", "organization_id": o["id"]}),
    )
    .await;
    invite(&app, json!({"email": "b@example.com"})).await;
    let all = app.get("/user_management/invitations").await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 2);
    let by_org = app
        .get(&format!(
            "/user_management/invitations?organization_id={}",
            o["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(by_org.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(by_org.body["data"][0]["id"], a["id"]);
    let by_email = app
        .get("/user_management/invitations?email=B@example.com")
        .await;
    assert_eq!(by_email.body["data"][0]["email"], "b@example.com");

    let key = Some(other.api_key.as_str());
    let id = a["id"].as_str().unwrap();
    for (method, path) in [
        (Method::GET, format!("/user_management/invitations/{id}")),
        (
            Method::GET,
            format!(
                "/user_management/invitations/by_token/{}",
                a["token"].as_str().unwrap()
            ),
        ),
        (
            Method::POST,
            format!("/user_management/invitations/{id}/accept"),
        ),
        (
            Method::POST,
            format!("/user_management/invitations/{id}/resend"),
        ),
        (
            Method::POST,
            format!("/user_management/invitations/{id}/revoke"),
        ),
    ] {
        let res = app.send(method.clone(), &path, key, Some(&json!({}))).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    let theirs = app
        .send(Method::GET, "/user_management/invitations", key, None)
        .await;
    assert_eq!(theirs.body["data"], json!([]));
    assert_eq!(app.drain_emails().await, 2, "the emails this test queued");
}

#[tokio::test]
async fn the_password_grant_accepts_an_invitation_token_and_scopes_the_session() {
    let app = TestApp::new().await;
    let o = org(&app, "Acme").await;
    user(&app, "ada@example.com", true).await;
    user(&app, "eve@example.com", true).await;
    let i = invite(
        &app,
        json!({"email": "ada@example.com", "organization_id": o["id"], "role_slug": "admin"}),
    )
    .await;
    let body = |email: &str, token: &str| json!({"grant_type": "password", "email": email, "password": PASSWORD, "invitation_token": token});
    let wrong = grant(&app, body("eve@example.com", i["token"].as_str().unwrap())).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.body["error"], "invitation_cannot_be_used_for_email");
    let bogus = grant(&app, body("ada@example.com", "nope")).await;
    assert_eq!(bogus.body["error"], "invitation_invalid");

    let ok = grant(&app, body("ada@example.com", i["token"].as_str().unwrap())).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["organization_id"], o["id"]);
    let claims = crate::um::claims(ok.body["access_token"].as_str().unwrap());
    assert_eq!(claims["org_id"], o["id"]);
    assert_eq!(claims["role"], "admin");
    let got = app
        .get(&format!(
            "/user_management/invitations/{}",
            i["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(got.body["state"], "accepted");
    assert_eq!(app.drain_emails().await, 1, "the emails this test queued");
}
