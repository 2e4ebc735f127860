//! Multi-factor authentication: `/auth/factors/*`, `/auth/challenges/{id}/verify`,
//! `/user_management/users/{id}/auth_factors`, and the `mfa_challenge` step of sign-in completed
//! by the `urn:workos:oauth:grant-type:mfa-totp` grant.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::um::{count, event_data, fresh_step, grant, password, totp, totp_at, user};

async fn enroll(app: &TestApp) -> Value {
    let res = app
        .post(
            "/auth/factors/enroll",
            &json!({"type": "totp", "totp_issuer": "Acme", "totp_user": "ada@example.com"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body
}

async fn challenge(app: &TestApp, factor: &Value) -> Value {
    let res = app
        .post(
            &format!("/auth/factors/{}/challenge", factor["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body
}

async fn verify(app: &TestApp, challenge: &Value, code: &str) -> crate::support::TestResponse {
    app.post(
        &format!(
            "/auth/challenges/{}/verify",
            challenge["id"].as_str().unwrap()
        ),
        &json!({"code": code}),
    )
    .await
}

#[tokio::test]
async fn enrolling_a_totp_factor_shows_its_secret_qr_code_and_uri_once() {
    let app = TestApp::new().await;
    let f = enroll(&app).await;
    assert_eq!(f["object"], "authentication_factor");
    assert!(f["id"].as_str().unwrap().starts_with("auth_factor_"));
    assert_eq!(f["type"], "totp");
    let t = &f["totp"];
    assert_eq!(t["issuer"], "Acme");
    assert_eq!(t["user"], "ada@example.com");
    let secret = t["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits in Base32");
    assert!(
        t["qr_code"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    let uri = t["uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Acme:ada%40example.com?"),
        "{uri}"
    );
    assert!(uri.contains(&format!("secret={secret}")));

    let got = app
        .get(&format!("/auth/factors/{}", f["id"].as_str().unwrap()))
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(
        got.body["totp"],
        json!({"issuer": "Acme", "user": "ada@example.com"})
    );
    let sealed: Vec<u8> = sqlx::query_scalar("select secret_sealed from authentication_factors")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&sealed).contains(secret),
        "secrets are encrypted at rest"
    );

    for (body, field) in [
        (
            json!({"type": "sms", "phone_number": "+15555550100"}),
            "type",
        ),
        (json!({"type": "totp", "totp_issuer": "a:b"}), "totp_issuer"),
        (json!({"type": "totp", "user_id": "user_nope"}), "user_id"),
    ] {
        let res = app.post("/auth/factors/enroll", &body).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(res.body["errors"][0]["field"], field);
    }
    assert_eq!(
        app.post("/auth/factors/enroll", &json!({})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn challenges_verify_rfc_6238_codes_once_within_one_step() {
    let app = TestApp::new().await;
    let f = enroll(&app).await;
    let secret = f["totp"]["secret"].as_str().unwrap();
    let c = challenge(&app, &f).await;
    fresh_step().await;
    assert_eq!(c["object"], "authentication_challenge");
    assert!(c["id"].as_str().unwrap().starts_with("auth_challenge_"));
    assert_eq!(c["authentication_factor_id"], f["id"]);
    assert!(c["expires_at"].is_string());
    assert!(c.get("code").is_none());

    let far = verify(&app, &c, &totp_at(secret, 3)).await;
    assert_eq!(far.status, StatusCode::CREATED);
    assert_eq!(
        far.body["valid"], false,
        "three steps away is outside the window"
    );
    let ok = verify(&app, &c, &totp(secret)).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    assert_eq!(ok.body["valid"], true);
    assert_eq!(ok.body["challenge"]["id"], c["id"]);
    let same = verify(&app, &c, &totp(secret)).await;
    assert_eq!(
        same.body["valid"], false,
        "a verified challenge stays verified once"
    );

    // A new challenge cannot reuse the code already accepted.
    let c2 = challenge(&app, &f).await;
    assert_eq!(verify(&app, &c2, &totp(secret)).await.body["valid"], false);
    // The previous step is within the window but older than the used one: refused too.
    assert_eq!(
        verify(&app, &c2, &totp_at(secret, -1)).await.body["valid"],
        false
    );
    // The next step is accepted (clock skew of one step).
    assert_eq!(
        verify(&app, &c2, &totp_at(secret, 1)).await.body["valid"],
        true
    );

    let c3 = challenge(&app, &f).await;
    for _ in 0..5 {
        verify(&app, &c3, "000000").await;
    }
    let exhausted = verify(&app, &c3, &totp_at(secret, 1)).await;
    assert_eq!(exhausted.status, StatusCode::BAD_REQUEST);
    assert_eq!(exhausted.body["code"], "one_time_code_too_many_attempts");

    let c4 = challenge(&app, &f).await;
    sqlx::query("update authentication_challenges set expires_at = now() - interval '1 second' where id = $1")
        .bind(c4["id"].as_str().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(verify(&app, &c4, &totp(secret)).await.body["valid"], false);
    assert_eq!(
        app.post(
            "/auth/challenges/auth_challenge_nope/verify",
            &json!({"code": "123456"})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn factors_are_deleted_and_tenant_scoped() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    let f = enroll(&app).await;
    let c = challenge(&app, &f).await;
    let path = format!("/auth/factors/{}", f["id"].as_str().unwrap());
    let key = Some(other.api_key.as_str());
    for (method, p) in [
        (Method::GET, path.clone()),
        (Method::DELETE, path.clone()),
        (Method::POST, format!("{path}/challenge")),
        (
            Method::POST,
            format!("/auth/challenges/{}/verify", c["id"].as_str().unwrap()),
        ),
    ] {
        let res = app
            .send(method.clone(), &p, key, Some(&json!({"code": "123456"})))
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{method} {p}");
    }
    let del = app.delete(&path).await;
    assert_eq!(del.status, StatusCode::OK);
    assert_eq!(app.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.post(&format!("{path}/challenge"), &json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn user_factors_are_enrolled_with_a_challenge_and_listed() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    let u = user(&app, "ada@example.com", true).await;
    let path = format!(
        "/user_management/users/{}/auth_factors",
        u["id"].as_str().unwrap()
    );
    let res = app.post(&path, &json!({"type": "totp"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let f = &res.body["authentication_factor"];
    assert_eq!(f["user_id"], u["id"]);
    assert_eq!(
        f["totp"]["user"], "ada@example.com",
        "defaults to the user's email"
    );
    assert_eq!(f["totp"]["issuer"], "Keystead");
    let c = &res.body["authentication_challenge"];
    assert_eq!(c["authentication_factor_id"], f["id"]);

    let imported = app
        .post(
            &path,
            &json!({"type": "totp", "totp_secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "totp_issuer": "Old"}),
        )
        .await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.text);
    assert_eq!(
        imported.body["authentication_factor"]["totp"]["secret"],
        "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    );
    let bad = app
        .post(&path, &json!({"type": "totp", "totp_secret": "short"}))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let list = app.get(&path).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["object"], "list");
    let data = list.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert!(data.iter().all(|f| f["totp"].get("secret").is_none()));
    assert!(list.body["list_metadata"].get("before").is_some());

    let theirs = app
        .send(Method::GET, &path, Some(&other.api_key), None)
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.post(
            "/user_management/users/user_nope/auth_factors",
            &json!({"type": "totp"})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_user_with_a_factor_completes_sign_in_with_the_mfa_totp_grant() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com", true).await;
    let f = app
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
    let secret = f["totp"]["secret"].as_str().unwrap().to_string();

    let res = password(&app, "ada@example.com").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text);
    assert_eq!(res.body["code"], "mfa_challenge");
    assert!(res.body["message"].is_string());
    assert_eq!(res.body["user"]["id"], u["id"]);
    assert_eq!(res.body["authentication_factors"][0]["id"], f["id"]);
    assert_eq!(res.body["authentication_factors"][0]["type"], "totp");
    let token = res.body["pending_authentication_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(count(&app, "session.created").await, 0);
    assert_eq!(count(&app, "authentication.password_succeeded").await, 1);

    let c = challenge(&app, &f).await;
    fresh_step().await;
    let mfa = |code: String, token: &str, challenge: &Value| {
        json!({"grant_type": "urn:workos:oauth:grant-type:mfa-totp", "code": code,
               "pending_authentication_token": token, "authentication_challenge_id": challenge["id"]})
    };
    let wrong = grant(&app, mfa(totp_at(&secret, 4), &token, &c)).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.body["code"], "invalid_one_time_code");
    let failed = &event_data(&app, "authentication.mfa_failed").await[0];
    assert_eq!(failed["type"], "mfa");
    assert_eq!(failed["user_id"], u["id"]);

    let bad_token = grant(&app, mfa(totp(&secret), "nope", &c)).await;
    assert_eq!(
        bad_token.body["code"],
        "invalid_pending_authentication_token"
    );

    // Another user's challenge does not count.
    let stranger = enroll(&app).await;
    let sc = challenge(&app, &stranger).await;
    let res = grant(
        &app,
        mfa(
            totp(stranger["totp"]["secret"].as_str().unwrap()),
            &token,
            &sc,
        ),
    )
    .await;
    assert_eq!(res.body["code"], "invalid_one_time_code");

    let ok = grant(&app, mfa(totp(&secret), &token, &c)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["user"]["id"], u["id"]);
    assert_eq!(ok.body["authentication_method"], "Password");
    assert_eq!(count(&app, "authentication.mfa_succeeded").await, 1);
    assert_eq!(count(&app, "session.created").await, 1);

    let replay = grant(&app, mfa(totp(&secret), &token, &c)).await;
    assert_eq!(
        replay.body["code"], "invalid_pending_authentication_token",
        "tokens work once"
    );
}
