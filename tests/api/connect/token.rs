//! `POST /oauth2/token` with the client-credentials grant: a token verified against the
//! environment's JWKS with the claims WorkOS issues, `client_secret_basic` and `_post`, narrowed
//! scopes, and the RFC 6749 §5.2 errors.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{create, third_party};
use crate::support::TestApp;
use crate::um::org;

/// An M2M application (scopes `billing:read`, `billing:write`) with one secret: (app, secret).
async fn m2m_with_secret(app: &TestApp) -> (Value, String) {
    let acme = org(app, "Acme").await;
    let m2m = create(
        app,
        json!({"name": "Sync", "application_type": "m2m", "organization_id": acme["id"],
               "scopes": ["billing:read", "billing:write"]}),
    )
    .await;
    let res = app
        .post(
            &format!(
                "/connect/applications/{}/client_secrets",
                m2m["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    (m2m, res.body["secret"].as_str().unwrap().to_string())
}

/// `POST /oauth2/token` with a form body and optional Basic credentials.
async fn token(
    app: &TestApp,
    basic: Option<(&str, &str)>,
    form: &str,
) -> crate::support::TestResponse {
    use base64::Engine;
    let mut req = axum::http::Request::post("/oauth2/token")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        let raw = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        req = req.header("authorization", format!("Basic {raw}"));
    }
    app.send_request(req.body(axum::body::Body::from(form.to_string())).unwrap())
        .await
}

#[tokio::test]
async fn an_m2m_application_gets_a_signed_token_with_client_credentials() {
    let app = TestApp::new().await;
    let (m2m, secret) = m2m_with_secret(&app).await;
    let client_id = m2m["client_id"].as_str().unwrap();
    let res = token(
        &app,
        Some((client_id, &secret)),
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.headers["cache-control"], "no-store");
    assert_eq!(res.body["token_type"], "Bearer");
    assert_eq!(res.body["scope"], "billing:read billing:write");
    assert!(res.body["expires_in"].as_u64().unwrap() > 0);
    let jwt = res.body["access_token"].as_str().unwrap();

    // Verified with the environment's JWKS, by its `kid`.
    let jwks = app
        .send(
            Method::GET,
            &format!("/sso/jwks/{}", app.tenant.client_id),
            None,
            None,
        )
        .await;
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.body).unwrap();
    let kid = jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap();
    let jwk = set.find(&kid).expect("kid in the JWKS");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[&app.tenant.client_id]);
    validation.set_issuer(&["http://keystead.test"]);
    let claims = jsonwebtoken::decode::<Value>(
        jwt,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .expect("a valid token")
    .claims;
    assert_eq!(claims["sub"], client_id);
    assert_eq!(claims["client_id"], client_id);
    assert_eq!(claims["org_id"], m2m["organization_id"]);
    assert_eq!(claims["scope"], "billing:read billing:write");
    assert!(claims["jti"].is_string() && claims["iat"].is_i64() && claims["exp"].is_i64());
    assert!(claims.get("sid").is_none());

    // client_secret_post, narrowed scope.
    let form = format!(
        "grant_type=client_credentials&client_id={client_id}&client_secret={secret}&scope=billing:read"
    );
    let res = token(&app, None, &form).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["scope"], "billing:read");
    let used: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select last_used_at from connect_client_secrets")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(used.is_some());
}

#[tokio::test]
async fn the_token_endpoint_answers_rfc_6749_errors() {
    let app = TestApp::new().await;
    let (m2m, secret) = m2m_with_secret(&app).await;
    let id = m2m["client_id"].as_str().unwrap();
    let grant = "grant_type=client_credentials";
    for (basic, form) in [
        (Some((id, "wrong")), grant.to_string()),
        (Some(("client_unknown", secret.as_str())), grant.to_string()),
        (None, grant.to_string()),
        (None, format!("{grant}&client_id={id}")),
        (None, format!("{grant}&client_id={id}&client_secret=wrong")),
    ] {
        let res = token(&app, basic, &form).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{form}: {}", res.text);
        assert_eq!(res.body["error"], "invalid_client", "{}", res.text);
    }
    for (basic, form, error) in [
        (
            Some((id, secret.as_str())),
            format!("{grant}&client_id={id}&client_secret={secret}"),
            "invalid_request",
        ),
        (
            Some((id, secret.as_str())),
            String::new(),
            "invalid_request",
        ),
        (
            Some((id, secret.as_str())),
            "grant_type=password".into(),
            "unsupported_grant_type",
        ),
        (
            Some((id, secret.as_str())),
            format!("{grant}&scope=admin"),
            "invalid_scope",
        ),
    ] {
        let res = token(&app, basic, &form).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{form}: {}", res.text);
        assert_eq!(res.body["error"], error, "{form}: {}", res.text);
        assert!(res.body["error_description"].is_string());
    }
    // An OAuth application may not use the grant.
    let acme = org(&app, "Globex").await;
    let oauth = create(&app, third_party(&acme)).await;
    let s = app
        .post(
            &format!(
                "/connect/applications/{}/client_secrets",
                oauth["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await
        .body["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let res = token(
        &app,
        Some((oauth["client_id"].as_str().unwrap(), &s)),
        grant,
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(res.body["error"], "unauthorized_client");
    // A deleted secret no longer authenticates.
    let secrets = app
        .get(&format!("/connect/applications/{id}/client_secrets"))
        .await;
    let sid = secrets.body[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.delete(&format!("/connect/client_secrets/{sid}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let res = token(&app, Some((id, &secret)), grant).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text);
}
