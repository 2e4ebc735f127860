//! Email verification, password reset and email change: send, get, confirm, error codes,
//! events, session revocation, tenancy.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;
use crate::um::{PASSWORD, count, event_data, password, user};

#[tokio::test]
async fn email_verification_send_get_and_confirm() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com", false).await;
    let id = u["id"].as_str().unwrap();
    let sent = app
        .post(
            &format!("/user_management/users/{id}/email_verification/send"),
            &json!({}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    assert_eq!(sent.body["user"]["id"], u["id"]);
    let event = &event_data(&app, "email_verification.created").await[0];
    assert!(event.get("code").is_none());
    let v = app
        .get(&format!(
            "/user_management/email_verification/{}",
            event["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(v.status, StatusCode::OK);
    assert_eq!(v.body["object"], "email_verification");
    assert_eq!(v.body["user_id"], u["id"]);
    assert_eq!(v.body["email"], "ada@example.com");
    let code = v.body["code"].as_str().unwrap();
    assert_eq!(code.len(), 6);

    let confirm = format!("/user_management/users/{id}/email_verification/confirm");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let res = app.post(&confirm, &json!({"code": wrong})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["code"], "email_verification_code_incorrect");
    assert_eq!(
        count(&app, "authentication.email_verification_failed").await,
        1
    );

    let ok = app.post(&confirm, &json!({"code": code})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["user"]["email_verified"], true);
    assert_eq!(count(&app, "user.updated").await, 1);
    assert_eq!(
        count(&app, "authentication.email_verification_succeeded").await,
        1
    );

    let again = app.post(&confirm, &json!({"code": code})).await;
    assert_eq!(again.body["code"], "email_previously_verified");
    let resend = app
        .post(
            &format!("/user_management/users/{id}/email_verification/send"),
            &json!({}),
        )
        .await;
    assert_eq!(resend.status, StatusCode::BAD_REQUEST);
    assert_eq!(resend.body["code"], "email_already_verified");
    assert_eq!(app.drain_emails().await, 1, "the emails this test queued");
}

#[tokio::test]
async fn expired_and_used_verification_codes_are_refused() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com", false).await;
    let id = u["id"].as_str().unwrap();
    app.post(
        &format!("/user_management/users/{id}/email_verification/send"),
        &json!({}),
    )
    .await;
    let vid = event_data(&app, "email_verification.created").await[0]["id"].clone();
    let code = app
        .get(&format!(
            "/user_management/email_verification/{}",
            vid.as_str().unwrap()
        ))
        .await
        .body["code"]
        .clone();
    sqlx::query("update email_verifications set expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = app
        .post(
            &format!("/user_management/users/{id}/email_verification/confirm"),
            &json!({"code": code}),
        )
        .await;
    assert_eq!(res.body["code"], "email_verification_code_expired");
    sqlx::query("update email_verifications set expires_at = now() + interval '1 hour', consumed_at = now()")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = app
        .post(
            &format!("/user_management/users/{id}/email_verification/confirm"),
            &json!({"code": code}),
        )
        .await;
    assert_eq!(res.body["code"], "email_verification_code_previously_used");
    for path in [
        "/user_management/users/user_nope/email_verification/send",
        "/user_management/users/user_nope/email_verification/confirm",
    ] {
        let res = app.post(path, &json!({"code": "123456"})).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        app.get("/user_management/email_verification/email_verification_nope")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.drain_emails().await, 1, "the emails this test queued");
}

#[tokio::test]
async fn password_reset_sets_the_password_verifies_the_email_and_revokes_sessions() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com", true).await;
    let signed_in = password(&app, "ada@example.com").await;
    assert_eq!(signed_in.status, StatusCode::OK);

    let reset = app
        .post(
            "/user_management/password_reset",
            &json!({"email": "Ada@example.com"}),
        )
        .await;
    assert_eq!(reset.status, StatusCode::CREATED, "{}", reset.text);
    assert_eq!(reset.body["object"], "password_reset");
    assert_eq!(reset.body["user_id"], u["id"]);
    let token = reset.body["password_reset_token"].as_str().unwrap();
    assert_eq!(
        reset.body["password_reset_url"],
        format!("http://keystead.test/user_management/password_reset?token={token}")
    );
    let got = app
        .get(&format!(
            "/user_management/password_reset/{}",
            reset.body["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(got.body, reset.body);
    let event = &event_data(&app, "password_reset.created").await[0];
    assert!(
        event.get("password_reset_token").is_none() && event.get("password_reset_url").is_none()
    );

    let weak = app
        .post(
            "/user_management/password_reset/confirm",
            &json!({"token": token, "new_password": "short"}),
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert_eq!(weak.body["code"], "password_reset_error");
    assert_eq!(weak.body["errors"][0]["code"], "password_too_weak");

    let new_password = "a much better passphrase 7";
    let ok = app
        .post(
            "/user_management/password_reset/confirm",
            &json!({"token": token, "new_password": new_password}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["user"]["email_verified"], true);
    assert_eq!(count(&app, "password_reset.succeeded").await, 1);
    assert_eq!(count(&app, "session.revoked").await, 1);
    let refresh = crate::um::grant(
        &app,
        json!({"grant_type": "refresh_token", "refresh_token": signed_in.body["refresh_token"]}),
    )
    .await;
    assert_eq!(
        refresh.body["error"], "invalid_grant",
        "old sessions are revoked"
    );
    assert_eq!(
        password(&app, "ada@example.com").await.body["code"],
        "invalid_credentials"
    );
    let new = crate::um::grant(
        &app,
        json!({"grant_type": "password", "email": "ada@example.com", "password": new_password}),
    )
    .await;
    assert_eq!(new.status, StatusCode::OK);

    let used = app
        .post(
            "/user_management/password_reset/confirm",
            &json!({"token": token, "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(
        used.body["errors"][0]["code"],
        "password_reset_token_previously_used"
    );
    let bogus = app
        .post(
            "/user_management/password_reset/confirm",
            &json!({"token": "nope", "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(
        bogus.body["errors"][0]["code"],
        "password_reset_token_invalid"
    );
    assert_eq!(
        app.post(
            "/user_management/password_reset",
            &json!({"email": "nobody@example.com"})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.drain_emails().await, 1, "the emails this test queued");
}

#[tokio::test]
async fn expired_reset_tokens_fail_and_resets_are_tenant_scoped() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    user(&app, "ada@example.com", true).await;
    let reset = app
        .post(
            "/user_management/password_reset",
            &json!({"email": "ada@example.com"}),
        )
        .await
        .body;
    let token = reset["password_reset_token"].as_str().unwrap();
    let key = Some(other.api_key.as_str());
    let res = app
        .send(
            Method::POST,
            "/user_management/password_reset/confirm",
            key,
            Some(&json!({"token": token, "new_password": "another fine passphrase"})),
        )
        .await;
    assert_eq!(
        res.body["errors"][0]["code"],
        "password_reset_token_invalid"
    );
    let res = app
        .send(
            Method::GET,
            &format!(
                "/user_management/password_reset/{}",
                reset["id"].as_str().unwrap()
            ),
            key,
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app
        .send(
            Method::POST,
            "/user_management/password_reset",
            key,
            Some(&json!({"email": "ada@example.com"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    sqlx::query("update password_resets set expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = app
        .post(
            "/user_management/password_reset/confirm",
            &json!({"token": token, "new_password": "another fine passphrase"}),
        )
        .await;
    assert_eq!(
        res.body["errors"][0]["code"],
        "password_reset_token_expired"
    );
    assert_eq!(app.drain_emails().await, 1, "the emails this test queued");
}

#[tokio::test]
async fn email_change_sends_a_code_to_the_new_address_and_confirms_it() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com", false).await;
    user(&app, "taken@example.com", false).await;
    let id = u["id"].as_str().unwrap();
    let send = format!("/user_management/users/{id}/email_change/send");
    let confirm = format!("/user_management/users/{id}/email_change/confirm");

    let none = app.post(&confirm, &json!({"code": "123456"})).await;
    assert_eq!(none.status, StatusCode::CONFLICT);
    assert_eq!(none.body["code"], "no_pending_email_change");
    for (email, status, code) in [
        ("ada@example.com", 409, "email_change_not_needed"),
        ("taken@example.com", 409, "email_not_available"),
        ("broken", 422, "invalid_email"),
    ] {
        let res = app.post(&send, &json!({"new_email": email})).await;
        assert_eq!(res.status.as_u16(), status, "{email}");
        assert_eq!(res.body["code"], code, "{email}");
    }
    let started = app
        .post(&send, &json!({"new_email": "Ada@New.example"}))
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text);
    assert_eq!(started.body["object"], "email_change");
    assert_eq!(started.body["new_email"], "ada@new.example");
    assert_eq!(started.body["user"]["email"], "ada@example.com");

    // The code only exists in the email; set a known one for the test.
    let change_id: String = sqlx::query_scalar("select id from email_changes")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    sqlx::query("update email_changes set code_hash = $1")
        .bind(keystead::crypto::code_hash(&change_id, "424242"))
        .execute(&app.pool)
        .await
        .unwrap();
    let wrong = app.post(&confirm, &json!({"code": "111111"})).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.body["code"], "email_change_code_incorrect");
    let ok = app.post(&confirm, &json!({"code": "424242"})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["object"], "email_change_confirmation");
    assert_eq!(ok.body["user"]["email"], "ada@new.example");
    assert_eq!(ok.body["user"]["email_verified"], true);
    assert_eq!(count(&app, "user.updated").await, 1);
    let used = app.post(&confirm, &json!({"code": "424242"})).await;
    assert_eq!(used.status, StatusCode::CONFLICT);
    assert_eq!(used.body["code"], "email_change_code_previously_used");

    app.post(&send, &json!({"new_email": "third@example.com"}))
        .await;
    for _ in 0..5 {
        app.post(&confirm, &json!({"code": "000001"})).await;
    }
    let exhausted = app.post(&confirm, &json!({"code": "000001"})).await;
    assert_eq!(exhausted.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(exhausted.body["code"], "email_change_too_many_attempts");

    let other = app.new_tenant("Other").await;
    let res = app
        .send(
            Method::POST,
            &send,
            Some(&other.api_key),
            Some(&json!({"new_email": "x@example.com"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(app.drain_emails().await, 2, "the emails this test queued");
}

#[tokio::test]
async fn verification_and_email_change_are_tenant_scoped() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    let u = user(&app, "ada@example.com", false).await;
    let id = u["id"].as_str().unwrap();
    app.post(
        &format!("/user_management/users/{id}/email_verification/send"),
        &json!({}),
    )
    .await;
    let vid = event_data(&app, "email_verification.created").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let code = app
        .get(&format!("/user_management/email_verification/{vid}"))
        .await
        .body["code"]
        .clone();
    let key = Some(other.api_key.as_str());
    for (method, path) in [
        (
            Method::GET,
            format!("/user_management/email_verification/{vid}"),
        ),
        (
            Method::POST,
            format!("/user_management/users/{id}/email_verification/send"),
        ),
        (
            Method::POST,
            format!("/user_management/users/{id}/email_verification/confirm"),
        ),
        (
            Method::POST,
            format!("/user_management/users/{id}/email_change/confirm"),
        ),
    ] {
        let res = app
            .send(method.clone(), &path, key, Some(&json!({"code": code})))
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    let mine = app.get(&format!("/user_management/users/{id}")).await;
    assert_eq!(mine.body["email_verified"], false, "nothing changed");
    assert_eq!(app.drain_emails().await, 1, "the emails this test queued");
}
