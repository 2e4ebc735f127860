//! Per-environment AuthKit settings and the endpoints that honour them: the JWT template in
//! access tokens, redirect URIs and `GET /user_management/sessions/logout`, CORS origins on the
//! public endpoints, user identities.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::support::TestApp;
use crate::um::{claims, count, member, org, password, user};

#[tokio::test]
async fn the_jwt_template_adds_claims_to_access_tokens() {
    let app = TestApp::new().await;
    assert_eq!(
        app.get("/user_management/jwt_template").await.status,
        StatusCode::NOT_FOUND
    );
    let content = r#"{"urn:app:email": {{user.email}}, "urn:app:name": "{{user.first_name}} ({{organization.name}})",
        "urn:app:tier": {{organization.metadata.tier}}, "urn:app:role": {{organization_membership.role}}}"#;
    let put = app
        .put(
            "/user_management/jwt_template",
            &json!({"content": content}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!(put.body["object"], "jwt_template");
    assert_eq!(put.body["content"], content);
    assert_eq!(
        app.get("/user_management/jwt_template").await.body,
        put.body
    );

    let u = user(&app, "ada@example.com", true).await;
    let o = app
        .post(
            "/organizations",
            &json!({"name": "Acme", "metadata": {"tier": "gold"}}),
        )
        .await
        .body;
    let plain = password(&app, "ada@example.com").await;
    let c = claims(plain.body["access_token"].as_str().unwrap());
    assert_eq!(c["urn:app:email"], "ada@example.com");
    assert_eq!(c["urn:app:name"], "Ada ()");
    assert!(c.get("urn:app:tier").is_none(), "null claims are left out");

    member(&app, &u, &o, "admin").await;
    let scoped = password(&app, "ada@example.com").await;
    let c = claims(scoped.body["access_token"].as_str().unwrap());
    assert_eq!(c["urn:app:name"], "Ada (Acme)");
    assert_eq!(c["urn:app:tier"], "gold");
    assert_eq!(c["urn:app:role"], "admin");
    assert_eq!(c["sub"], u["id"], "standard claims stay");

    for bad in [
        r#"{"sub": "x"}"#,
        "[1, 2]",
        r#"{"a": {{user.email}"#,
        "nope",
    ] {
        let res = app
            .put("/user_management/jwt_template", &json!({"content": bad}))
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(res.body["code"], "invalid_request_parameters");
    }
    let other = app.new_tenant("Other").await;
    let theirs = app
        .send(
            Method::GET,
            "/user_management/jwt_template",
            Some(&other.api_key),
            None,
        )
        .await;
    assert_eq!(
        theirs.status,
        StatusCode::NOT_FOUND,
        "templates are per environment"
    );
}

#[tokio::test]
async fn redirect_uris_are_created_listed_deleted_and_validated() {
    let app = TestApp::new().await;
    let first = app
        .post(
            "/user_management/redirect_uris",
            &json!({"uri": "https://app.example.com/callback"}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.body["object"], "redirect_uri");
    assert!(first.body["id"].as_str().unwrap().starts_with("ruri_"));
    assert_eq!(first.body["default"], true, "the first URI is the default");
    let second = app
        .post(
            "/user_management/redirect_uris",
            &json!({"uri": "myapp://auth"}),
        )
        .await;
    assert_eq!(second.body["default"], false);
    let dup = app
        .post(
            "/user_management/redirect_uris",
            &json!({"uri": "myapp://auth"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    for bad in [
        "/relative",
        "javascript:alert(1)",
        "https://x.example.com/#frag",
    ] {
        let res = app
            .post("/user_management/redirect_uris", &json!({"uri": bad}))
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let list = app.get("/user_management/redirect_uris").await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 2);
    let path = format!(
        "/user_management/redirect_uris/{}",
        second.body["id"].as_str().unwrap()
    );
    let other = app.new_tenant("Other").await;
    let theirs = app
        .send(Method::DELETE, &path, Some(&other.api_key), None)
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&path).await.status, StatusCode::NOT_FOUND);
    let theirs = app
        .send(
            Method::GET,
            "/user_management/redirect_uris",
            Some(&other.api_key),
            None,
        )
        .await;
    assert_eq!(theirs.body["data"], json!([]));
}

#[tokio::test]
async fn logout_revokes_the_session_and_redirects_only_to_registered_uris() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    user(&app, "ada@example.com", true).await;
    let signed_in = password(&app, "ada@example.com").await;
    let sid = claims(signed_in.body["access_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let logout = |query: String| {
        let app = &app;
        async move {
            app.send(
                Method::GET,
                &format!("/user_management/sessions/logout?{query}"),
                None,
                None,
            )
            .await
        }
    };
    // Not registered (here or only in another environment): refused, nothing revoked.
    let mut tx = app.pool.begin().await.unwrap();
    keystead::store::redirect_uris::insert(
        &mut tx,
        &other.environment_id,
        "https://evil.example/",
        true,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let res = logout(format!(
        "session_id={sid}&return_to=https%3A%2F%2Fevil.example%2F"
    ))
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body["message"].is_string());
    assert_eq!(count(&app, "session.revoked").await, 0);

    // No return_to and no default: 200, session revoked.
    let res = logout(format!("session_id={sid}")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(count(&app, "session.revoked").await, 1);

    app.post(
        "/user_management/redirect_uris",
        &json!({"uri": "https://app.example.com/home"}),
    )
    .await;
    app.post(
        "/user_management/redirect_uris",
        &json!({"uri": "https://app.example.com/bye"}),
    )
    .await;
    let again = password(&app, "ada@example.com").await;
    let sid2 = claims(again.body["access_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let res = logout(format!(
        "session_id={sid2}&return_to=https%3A%2F%2Fapp.example.com%2Fbye"
    ))
    .await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.headers["location"], "https://app.example.com/bye");
    let refresh = crate::um::grant(
        &app,
        json!({"grant_type": "refresh_token", "refresh_token": again.body["refresh_token"]}),
    )
    .await;
    assert_eq!(refresh.body["error"], "invalid_grant");
    // An ended session still redirects (to the default) without a second event.
    let res = logout(format!("session_id={sid2}")).await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.headers["location"], "https://app.example.com/home");
    assert_eq!(count(&app, "session.revoked").await, 2);

    assert_eq!(
        logout("".into()).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        logout("session_id=session_nope".into()).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn cors_origins_gate_browser_calls_to_the_public_endpoints() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    user(&app, "ada@example.com", true).await;
    let created = app
        .post(
            "/user_management/cors_origins",
            &json!({"origin": "HTTPS://App.Example.com/"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["object"], "cors_origin");
    assert_eq!(created.body["origin"], "https://app.example.com");
    let dup = app
        .post(
            "/user_management/cors_origins",
            &json!({"origin": "https://app.example.com"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.body["code"], "duplicate_cors_origin");
    let bad = app
        .post(
            "/user_management/cors_origins",
            &json!({"origin": "https://app.example.com/path"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["errors"][0]["property"], "origin");
    app.send(
        Method::POST,
        "/user_management/cors_origins",
        Some(&other.api_key),
        Some(&json!({"origin": "https://other.example.com"})),
    )
    .await;

    let call = |origin: &str, path: &str, body: serde_json::Value| {
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("origin", origin)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let app = &app;
        async move { app.send_request(req).await }
    };
    let password_body = json!({"grant_type": "password", "client_id": app.tenant.client_id,
        "client_secret": app.tenant.api_key, "email": "ada@example.com", "password": crate::um::PASSWORD});
    let ok = call(
        "https://app.example.com",
        "/user_management/authenticate",
        password_body.clone(),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(
        ok.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    let refused = call(
        "https://other.example.com",
        "/user_management/authenticate",
        password_body.clone(),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "another environment's origin"
    );
    assert_eq!(refused.body["error"], "access_denied");
    assert_eq!(count(&app, "authentication.password_succeeded").await, 1);
    let device = call(
        "https://evil.example",
        "/user_management/authorize/device",
        json!({"client_id": app.tenant.client_id}),
    )
    .await;
    assert_eq!(device.status, StatusCode::FORBIDDEN);
    let device = call(
        "https://app.example.com",
        "/user_management/authorize/device",
        json!({"client_id": app.tenant.client_id}),
    )
    .await;
    assert_eq!(device.status, StatusCode::OK, "{}", device.text);
    // Keystead's own origin is always allowed; no Origin means a server-side call.
    let own = call(
        "http://keystead.test",
        "/user_management/authenticate",
        password_body,
    )
    .await;
    assert_eq!(own.status, StatusCode::OK);

    let preflight = |origin: &str| {
        let req = Request::builder()
            .method(Method::OPTIONS)
            .uri("/user_management/authenticate")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .body(Body::empty())
            .unwrap();
        let app = &app;
        async move { app.send_request(req).await }
    };
    let yes = preflight("https://app.example.com").await;
    assert_eq!(yes.status, StatusCode::NO_CONTENT);
    assert_eq!(
        yes.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        yes.headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert_eq!(
        preflight("https://evil.example").await.status,
        StatusCode::FORBIDDEN
    );

    let list = app.get("/user_management/cors_origins").await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    let path = format!(
        "/user_management/cors_origins/{}",
        created.body["id"].as_str().unwrap()
    );
    let theirs = app
        .send(Method::DELETE, &path, Some(&other.api_key), None)
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&path).await.status, StatusCode::NO_CONTENT);
    let gone = call(
        "https://app.example.com",
        "/user_management/authorize/device",
        json!({"client_id": app.tenant.client_id}),
    )
    .await;
    assert_eq!(gone.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn identities_list_the_users_oauth_links() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    let u = user(&app, "ada@example.com", false).await;
    let id = u["id"].as_str().unwrap();
    let path = format!("/user_management/users/{id}/identities");
    let empty = app.get(&path).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.body, json!([]));
    let mut tx = app.pool.begin().await.unwrap();
    keystead::store::user_identities::link(
        &mut tx,
        &app.tenant.environment_id,
        &id.parse().unwrap(),
        "GoogleOAuth",
        "1234",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let one = app.get(&path).await;
    assert_eq!(
        one.body,
        json!([{"idp_id": "1234", "type": "OAuth", "provider": "GoogleOAuth"}])
    );
    assert_eq!(
        app.send(Method::GET, &path, Some(&other.api_key), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/user_management/users/user_nope/identities")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let _ = org(&app, "unused").await;
}
