//! The SSO API's own rules, independent of any IdP: `/sso/authorize` validation and connection
//! selection, `/sso/token` inputs (JSON, form, query), client authentication, PKCE, single-use
//! codes, `/sso/profile` authentication, logout authorization, redirect URIs.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use keystead::store::sso::{self, NewProfile, TokenKind};
use serde_json::json;
use sha2::Digest;

use crate::connections::{IDP_METADATA, org};
use crate::sso_saml::{APP_CALLBACK, location, param, register_redirect, urlencode};
use crate::support::{TestApp, TestResponse};

async fn saml_connection(app: &TestApp, org_id: &str, state: &str) -> String {
    let res = app
        .post(
            "/connections",
            &json!({
                "organization_id": org_id, "connection_type": "GenericSAML", "name": "c", "state": state,
                "domains": ["initech.test"], "saml": { "idp_metadata_xml": IDP_METADATA }
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body["id"].as_str().unwrap().to_string()
}

/// A code for a fresh profile of `connection`, optionally bound to a PKCE challenge.
async fn code_for(app: &TestApp, connection: &str, challenge: Option<&str>) -> String {
    let env = &app.tenant.environment_id;
    let mut tx = app.pool.begin().await.unwrap();
    let profile = NewProfile {
        idp_id: "u-1".into(),
        email: "peter@initech.test".into(),
        ..NewProfile::default()
    };
    let connection: keystead::ids::ConnectionId = connection.parse().unwrap();
    let p = sso::upsert_profile(&mut tx, env, &connection, "GenericSAML", None, &profile)
        .await
        .unwrap();
    let code = sso::issue_token(
        &mut tx,
        env,
        TokenKind::Code,
        &p.id,
        Duration::from_secs(600),
        challenge,
        challenge.map(|_| "S256"),
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    code
}

async fn token(app: &TestApp, content_type: &str, body: String, query: &str) -> TestResponse {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/sso/token{query}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    app.send_request(req).await
}

#[tokio::test]
async fn the_token_endpoint_accepts_json_form_and_query_and_enforces_its_rules() {
    let app = TestApp::new().await;
    let org_id = org(&app, "Initech").await;
    let conn = saml_connection(&app, &org_id, "active").await;
    let (cid, key) = (app.tenant.client_id.clone(), app.tenant.api_key.clone());

    let code = code_for(&app, &conn, None).await;
    let body = json!({"client_id": cid, "client_secret": key, "code": code, "grant_type": "authorization_code"});
    let res = token(&app, "application/json", body.to_string(), "").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["profile"]["email"], "peter@initech.test");
    let res = token(&app, "application/json", body.to_string(), "").await;
    assert_eq!(res.body["error"], "invalid_grant", "single use");

    let code = code_for(&app, &conn, None).await;
    let q =
        format!("?client_id={cid}&client_secret={key}&code={code}&grant_type=authorization_code");
    let res = token(&app, "application/json", String::new(), &q).await;
    assert_eq!(res.status, StatusCode::OK, "query parameters: {}", res.text);

    let code = code_for(&app, &conn, None).await;
    let wrong = format!(
        "client_id={cid}&client_secret=sk_test_wrong&code={code}&grant_type=authorization_code"
    );
    let res = token(&app, "application/x-www-form-urlencoded", wrong, "").await;
    assert_eq!(res.body["error"], "invalid_client");
    let other = app.new_tenant("Other").await;
    let foreign = format!(
        "client_id={cid}&client_secret={}&code={code}&grant_type=authorization_code",
        other.api_key
    );
    let res = token(&app, "application/x-www-form-urlencoded", foreign, "").await;
    assert_eq!(
        res.body["error"], "invalid_client",
        "another environment's key"
    );
    let res = token(
        &app,
        "application/x-www-form-urlencoded",
        format!("client_id={cid}&client_secret={key}&code={code}&grant_type=password"),
        "",
    )
    .await;
    assert_eq!(res.body["error"], "unsupported_grant_type");
    let res = token(
        &app,
        "application/x-www-form-urlencoded",
        format!("client_id={cid}&code={code}&grant_type=authorization_code"),
        "",
    )
    .await;
    assert_eq!(res.body["error"], "invalid_client", "no secret and no PKCE");

    // PKCE public client: no secret, the verifier proves possession.
    let verifier = "a-very-long-random-code-verifier-with-enough-entropy-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let code = code_for(&app, &conn, Some(&challenge)).await;
    let bad =
        format!("client_id={cid}&code={code}&grant_type=authorization_code&code_verifier=nope");
    let res = token(&app, "application/x-www-form-urlencoded", bad, "").await;
    assert_eq!(res.body["error"], "invalid_grant");
    let code = code_for(&app, &conn, Some(&challenge)).await;
    let good = format!(
        "client_id={cid}&code={code}&grant_type=authorization_code&code_verifier={verifier}"
    );
    let res = token(&app, "application/x-www-form-urlencoded", good, "").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);

    // The access token reads the profile; anything else is 401.
    let access = res.body["access_token"].as_str().unwrap();
    for (auth, status) in [
        (format!("Bearer {access}"), StatusCode::OK),
        ("Bearer nope".to_string(), StatusCode::UNAUTHORIZED),
        (format!("Bearer {key}"), StatusCode::UNAUTHORIZED),
    ] {
        let req = Request::builder()
            .uri("/sso/profile")
            .header("authorization", auth)
            .body(Body::empty())
            .unwrap();
        let res = app.send_request(req).await;
        assert_eq!(res.status, status);
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(res.body["error"], "Unauthorized");
        }
    }

    // Logout is for GenericOIDC only.
    let res = app
        .post(
            "/sso/logout/authorize",
            &json!({"profile_id": res_profile_id(&app).await}),
        )
        .await;
    assert_eq!(res.body["error"], "connection_invalid");
}

async fn res_profile_id(app: &TestApp) -> String {
    sqlx::query_scalar("select id from sso_profiles where environment_id = $1 limit 1")
        .bind(&app.tenant.environment_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn authorize(app: &TestApp, query: &str) -> TestResponse {
    app.send(Method::GET, &format!("/sso/authorize?{query}"), None, None)
        .await
}

#[tokio::test]
async fn authorize_checks_the_client_and_redirect_uri_and_picks_a_connection() {
    let app = TestApp::new().await;
    let org_id = org(&app, "Initech").await;
    let cid = app.tenant.client_id.clone();
    let cb = urlencode(APP_CALLBACK);

    // No redirect to unregistered URIs, nor for unknown clients.
    let res = authorize(
        &app,
        &format!("client_id={cid}&redirect_uri={cb}&response_type=code&organization={org_id}"),
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["error"], "invalid_redirect_uri");
    register_redirect(&app).await;
    let res = authorize(
        &app,
        &format!("client_id=client_nope&redirect_uri={cb}&response_type=code"),
    )
    .await;
    assert_eq!(res.body["error"], "invalid_client");

    // Errors the application can handle go back to it.
    let res = authorize(
        &app,
        &format!(
            "client_id={cid}&redirect_uri={cb}&response_type=token&organization={org_id}&state=s"
        ),
    )
    .await;
    let back = location(&res);
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(param(&back, "state").as_deref(), Some("s"));
    let res = authorize(
        &app,
        &format!("client_id={cid}&redirect_uri={cb}&response_type=code"),
    )
    .await;
    assert_eq!(
        param(&location(&res), "error").as_deref(),
        Some("invalid_request")
    );
    let res = authorize(
        &app,
        &format!("client_id={cid}&redirect_uri={cb}&response_type=code&organization={org_id}"),
    )
    .await;
    assert_eq!(
        param(&location(&res), "error").as_deref(),
        Some("connection_invalid")
    );

    // An inactive connection is never used; the active one is, by organization or domain.
    let inactive = saml_connection(&app, &org_id, "inactive").await;
    let res = authorize(
        &app,
        &format!("client_id={cid}&redirect_uri={cb}&response_type=code&connection={inactive}"),
    )
    .await;
    assert_eq!(
        param(&location(&res), "error").as_deref(),
        Some("connection_invalid")
    );
    saml_connection(&app, &org_id, "active").await;
    for selector in [
        format!("organization={org_id}"),
        "domain=initech.test".to_string(),
    ] {
        let res = authorize(
            &app,
            &format!("client_id={cid}&redirect_uri={cb}&response_type=code&{selector}&state=x"),
        )
        .await;
        let to = location(&res);
        assert!(
            to.as_str()
                .starts_with("https://idp.example.test/sso/redirect?"),
            "{to}"
        );
        assert!(param(&to, "SAMLRequest").is_some() && param(&to, "Signature").is_some());
        assert!(param(&to, "RelayState").unwrap().starts_with("sso_req_"));
    }

    // Duplicate redirect URIs are refused.
    let res = app
        .post(
            "/user_management/redirect_uris",
            &json!({ "uri": APP_CALLBACK }),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
}
