//! `POST /user_management/authenticate` (password, refresh_token), JWKS, sessions.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::support::TestApp;

const PASSWORD: &str = "correct horse battery";

async fn user(app: &TestApp, email: &str) -> Value {
    let res = app
        .post(
            "/user_management/users",
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body
}

fn password_body(app: &TestApp, email: &str, password: &str) -> Value {
    json!({
        "grant_type": "password",
        "client_id": app.tenant.client_id,
        "client_secret": app.tenant.api_key,
        "email": email,
        "password": password,
        "ip_address": "198.51.100.7",
        "user_agent": "test-agent/1.0",
    })
}

async fn verify_with_jwks(app: &TestApp, token: &str) -> Value {
    let jwks = app
        .send(
            Method::GET,
            &format!("/sso/jwks/{}", app.tenant.client_id),
            None,
            None,
        )
        .await;
    assert_eq!(jwks.status, StatusCode::OK);
    let key = &jwks.body["keys"][0];
    for field in ["alg", "kty", "use", "x5c", "n", "e", "kid", "x5t#S256"] {
        assert!(key.get(field).is_some(), "JWK lacks {field}");
    }
    let set: JwkSet = serde_json::from_value(jwks.body).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = set
        .find(header.kid.as_deref().unwrap())
        .expect("kid in JWKS");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims
}

#[tokio::test]
async fn password_sign_in_returns_tokens_that_verify_against_the_jwks() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com").await;
    // Emails match case-insensitively; the SDK's Authorization header is tolerated.
    let body = password_body(&app, "ADA@example.com", PASSWORD);
    let res = app
        .send(
            Method::POST,
            "/user_management/authenticate",
            Some(&app.tenant.api_key),
            Some(&body),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["user"]["id"], u["id"]);
    assert!(res.body["user"]["last_sign_in_at"].is_string());
    assert_eq!(res.body["authentication_method"], "Password");
    assert!(res.body.get("organization_id").is_none());
    let refresh = res.body["refresh_token"].as_str().unwrap();
    assert!(refresh.len() >= 40);

    let claims = verify_with_jwks(&app, res.body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], u["id"]);
    assert!(claims["sid"].as_str().unwrap().starts_with("session_"));
    assert_eq!(
        claims["iss"],
        format!(
            "http://keystead.test/user_management/{}",
            app.tenant.client_id
        )
    );
    let ttl = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(ttl, 300);
    assert!(claims["jti"].is_string());

    let stored: Vec<String> = sqlx::query_scalar("select token_hash from refresh_tokens")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(
        !stored.iter().any(|h| h == refresh),
        "refresh tokens are stored hashed"
    );

    let events = app.event_names().await;
    assert!(
        events.ends_with(&[
            "session.created".to_string(),
            "authentication.password_succeeded".to_string()
        ]),
        "{events:?}"
    );
    let attempt: Value = sqlx::query_scalar(
        "select data from events where event = 'authentication.password_succeeded'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        attempt,
        json!({"type": "password", "status": "succeeded", "ip_address": "198.51.100.7", "user_agent": "test-agent/1.0", "user_id": u["id"], "email": "ada@example.com"})
    );

    let sessions = app
        .get(&format!(
            "/user_management/users/{}/sessions",
            u["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(sessions.status, StatusCode::OK);
    let s = &sessions.body["data"][0];
    assert_eq!(s["object"], "session");
    assert_eq!(s["id"], claims["sid"]);
    assert_eq!(s["status"], "active");
    assert_eq!(s["auth_method"], "password");
    assert_eq!(s["ip_address"], "198.51.100.7");
    assert!(s["ended_at"].is_null());
}

#[tokio::test]
async fn wrong_password_and_unknown_email_are_the_same_invalid_credentials() {
    let app = TestApp::new().await;
    user(&app, "ada@example.com").await;
    let no_password = app
        .post(
            "/user_management/users",
            &json!({"email": "nopw@example.com"}),
        )
        .await;
    assert_eq!(no_password.status, StatusCode::CREATED);
    for (email, pw) in [
        ("ada@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("nopw@example.com", PASSWORD),
    ] {
        let res = app
            .post(
                "/user_management/authenticate",
                &password_body(&app, email, pw),
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{email}");
        assert_eq!(
            res.body,
            json!({"code": "invalid_credentials", "message": "Invalid credentials."})
        );
    }
    let failed = app
        .event_names()
        .await
        .iter()
        .filter(|e| *e == "authentication.password_failed")
        .count();
    assert_eq!(failed, 3);
    let sessions: i64 = sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
}

#[tokio::test]
async fn client_credentials_are_checked() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    user(&app, "ada@example.com").await;
    let mut body = password_body(&app, "ada@example.com", PASSWORD);
    body["client_id"] = json!("client_unknown");
    let res = app.post("/user_management/authenticate", &body).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["error"], "invalid_client");

    let mut body = password_body(&app, "ada@example.com", PASSWORD);
    body["client_secret"] = json!(other.api_key);
    let res = app.post("/user_management/authenticate", &body).await;
    assert_eq!(
        res.body["error"], "invalid_client",
        "another environment's key is not this client's secret"
    );

    // Another environment's client cannot sign in this environment's users.
    let mut body = password_body(&app, "ada@example.com", PASSWORD);
    body["client_id"] = json!(other.client_id);
    body["client_secret"] = json!(other.api_key);
    let res = app.post("/user_management/authenticate", &body).await;
    assert_eq!(res.body["code"], "invalid_credentials");

    let mut body = password_body(&app, "ada@example.com", PASSWORD);
    body["grant_type"] = json!("client_credentials");
    let res = app.post("/user_management/authenticate", &body).await;
    assert_eq!(res.body["error"], "unsupported_grant_type");

    let res = app.post("/user_management/authenticate", &json!({"grant_type": "password", "client_id": app.tenant.client_id, "client_secret": app.tenant.api_key})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.body["errors"][0]["field"], "email");
}

#[tokio::test]
async fn form_encoded_bodies_are_accepted() {
    let app = TestApp::new().await;
    user(&app, "ada@example.com").await;
    let form = format!(
        "grant_type=password&client_id={}&client_secret={}&email=ada%40example.com&password=correct+horse+battery",
        app.tenant.client_id, app.tenant.api_key
    );
    let req = Request::builder()
        .method(Method::POST)
        .uri("/user_management/authenticate")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    let res = app.send_request(req).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

/// Ada's password sign-in: the `authenticate` response body.
async fn password_sign_in(app: &TestApp) -> Value {
    app.post(
        "/user_management/authenticate",
        &password_body(app, "ada@example.com", PASSWORD),
    )
    .await
    .body
}

async fn refresh(app: &TestApp, token: &str, org: Option<&str>) -> crate::support::TestResponse {
    let mut body = json!({"grant_type": "refresh_token", "client_id": app.tenant.client_id, "client_secret": app.tenant.api_key, "refresh_token": token});
    if let Some(org) = org {
        body["organization_id"] = json!(org);
    }
    app.post("/user_management/authenticate", &body).await
}

#[tokio::test]
async fn refresh_tokens_rotate_with_a_grace_window_then_reuse_revokes_the_session() {
    let app = TestApp::new().await;
    user(&app, "ada@example.com").await;
    let first = password_sign_in(&app).await;
    let t1 = first["refresh_token"].as_str().unwrap();

    let second = refresh(&app, t1, None).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    let t2 = second.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(t1, t2);
    let claims = verify_with_jwks(&app, second.body["access_token"].as_str().unwrap()).await;
    let sid = verify_with_jwks(&app, first["access_token"].as_str().unwrap()).await["sid"].clone();
    assert_eq!(claims["sid"], sid, "same session");

    // Within the grace window the old token still works (parallel refresh).
    assert_eq!(refresh(&app, t1, None).await.status, StatusCode::OK);

    // After it, replaying the spent token revokes the session.
    sqlx::query(
        "update refresh_tokens set used_at = now() - interval '1 hour' where used_at is not null",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let replay = refresh(&app, t1, None).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.body["error"], "invalid_grant");
    let after = refresh(&app, &t2, None).await;
    assert_eq!(
        after.body["error"], "invalid_grant",
        "the whole session is gone"
    );
    assert!(
        app.event_names()
            .await
            .contains(&"session.revoked".to_string())
    );

    assert_eq!(
        refresh(&app, "not-a-token", None).await.body["error"],
        "invalid_grant"
    );
}

/// `auth_time` is the session's sign-in time, an integer, the same in every token of the
/// session (the official Python SDK 10.8 refuses a session cookie without it).
#[tokio::test]
async fn auth_time_is_the_sign_in_time_and_survives_refreshes() {
    let app = TestApp::new().await;
    user(&app, "ada@example.com").await;
    let first = password_sign_in(&app).await;
    let claims = verify_with_jwks(&app, first["access_token"].as_str().unwrap()).await;
    let auth_time = claims["auth_time"]
        .as_i64()
        .unwrap_or_else(|| panic!("integer auth_time in {claims}"));
    assert!(claims["auth_time"].is_i64(), "{claims}");
    let created: i64 = sqlx::query_scalar(
        "select extract(epoch from created_at)::bigint from sessions where id = $1",
    )
    .bind(claims["sid"].as_str().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        (created - auth_time).abs() <= 1,
        "auth_time {auth_time} is the session's creation {created}"
    );
    assert!(auth_time <= claims["iat"].as_i64().unwrap());

    let second = refresh(&app, first["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    let refreshed = verify_with_jwks(&app, second.body["access_token"].as_str().unwrap()).await;
    assert_eq!(refreshed["sid"], claims["sid"]);
    assert_eq!(
        refreshed["auth_time"],
        json!(auth_time),
        "unchanged by a refresh"
    );

    // It is the session's sign-in time, not the refresh's: a session signed in an hour ago
    // keeps that time in a token issued now.
    sqlx::query("update sessions set created_at = created_at - interval '1 hour'")
        .execute(&app.pool)
        .await
        .unwrap();
    let third = refresh(&app, second.body["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(third.status, StatusCode::OK, "{}", third.text);
    let later = verify_with_jwks(&app, third.body["access_token"].as_str().unwrap()).await;
    assert_eq!(later["auth_time"], json!(auth_time - 3600));
    assert!(later["iat"].as_i64().unwrap() - later["auth_time"].as_i64().unwrap() >= 3600);
}

#[tokio::test]
async fn refresh_with_an_organization_switches_the_session_scope() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com").await;
    let org = app.post("/organizations", &json!({"name": "O"})).await.body;
    let org_id = org["id"].as_str().unwrap();
    let first = password_sign_in(&app).await;

    let denied = refresh(&app, first["refresh_token"].as_str().unwrap(), Some(org_id)).await;
    assert_eq!(denied.status, StatusCode::BAD_REQUEST);
    assert_eq!(denied.body["error"], "organization_membership_not_found");

    sqlx::query("insert into organization_memberships (id, environment_id, user_id, organization_id, role_slug) values ('om_1', $1, $2, $3, 'admin')")
        .bind(&app.tenant.environment_id)
        .bind(u["id"].as_str().unwrap())
        .bind(org_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let ok = refresh(&app, first["refresh_token"].as_str().unwrap(), Some(org_id)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["organization_id"], org_id);
    let claims = verify_with_jwks(&app, ok.body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["org_id"], org_id);
    assert_eq!(claims["role"], "admin");
}

#[tokio::test]
async fn revoking_a_session_stops_its_refresh_token() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com").await;
    let first = password_sign_in(&app).await;
    let sid = verify_with_jwks(&app, first["access_token"].as_str().unwrap()).await["sid"]
        .as_str()
        .unwrap()
        .to_string();

    let res = app
        .post(
            "/user_management/sessions/revoke",
            &json!({"session_id": sid}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        refresh(&app, first["refresh_token"].as_str().unwrap(), None)
            .await
            .body["error"],
        "invalid_grant"
    );
    let again = app
        .post(
            "/user_management/sessions/revoke",
            &json!({"session_id": sid}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "revoking twice is a no-op");
    assert_eq!(
        app.event_names()
            .await
            .iter()
            .filter(|e| *e == "session.revoked")
            .count(),
        1
    );

    let sessions = app
        .get(&format!(
            "/user_management/users/{}/sessions",
            u["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(sessions.body["data"][0]["status"], "revoked");
    assert!(sessions.body["data"][0]["ended_at"].is_string());

    assert_eq!(
        app.post(
            "/user_management/sessions/revoke",
            &json!({"session_id": "session_nope"})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post("/user_management/sessions/revoke", &json!({}))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get("/user_management/users/user_nope/sessions")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn sessions_and_jwks_are_tenant_scoped() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    user(&app, "ada@example.com").await;
    let first = password_sign_in(&app).await;
    let sid = verify_with_jwks(&app, first["access_token"].as_str().unwrap()).await["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .send(
            Method::POST,
            "/user_management/sessions/revoke",
            Some(&other.api_key),
            Some(&json!({"session_id": sid})),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    let mine = app
        .send(
            Method::GET,
            &format!("/sso/jwks/{}", app.tenant.client_id),
            None,
            None,
        )
        .await
        .body;
    let theirs = app
        .send(
            Method::GET,
            &format!("/sso/jwks/{}", other.client_id),
            None,
            None,
        )
        .await
        .body;
    assert_ne!(mine["keys"][0]["kid"], theirs["keys"][0]["kid"]);
    assert_ne!(mine["keys"][0]["n"], theirs["keys"][0]["n"]);
    assert_eq!(
        app.send(Method::GET, "/sso/jwks/client_nope", None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
