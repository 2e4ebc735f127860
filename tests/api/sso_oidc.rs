//! GenericOIDC and an OAuth provider (GoogleOAuth with its endpoints pointed at the local OP)
//! end to end against a real OpenID provider (oidc-provider, started by the test on loopback):
//! discovery, code + PKCE, ID-token validation, user info, `/sso/token`, RP-initiated logout.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::connections::org_with_domain;
use crate::idp::{self, NodeIdp};
use crate::sso_saml::{APP_CALLBACK, exchange, location, param, register_redirect, urlencode};
use crate::support::{TestApp, TestResponse};

struct Oidc {
    app: TestApp,
    op: NodeIdp,
    oidc_connection: String,
    organization_id: String,
}

async fn setup() -> Oidc {
    let app = TestApp::new().await;
    let op = idp::start("oidc-op.mjs", &[]);
    let organization_id = org_with_domain(&app, "Globex", "example.com").await;
    let res = app
        .post(
            "/connections",
            &json!({
                "organization_id": organization_id, "connection_type": "GenericOIDC", "name": "Globex OIDC",
                "oidc": {
                    "discovery_endpoint": format!("{}/.well-known/openid-configuration", op.base),
                    "client_id": "keystead-oidc", "client_secret": "oidc-secret-value"
                }
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let oidc_connection = res.body["id"].as_str().unwrap().to_string();
    let oidc_redirect = res.body["sp"]["redirect_uri"].as_str().unwrap().to_string();
    let res = app
        .post(
            "/connections",
            &json!({
                "connection_type": "GoogleOAuth", "name": "Google",
                "oauth": {
                    "client_id": "keystead-oauth", "client_secret": "oauth-secret-value",
                    "authorization_endpoint": format!("{}/auth", op.base),
                    "token_endpoint": format!("{}/token", op.base),
                    "userinfo_endpoint": format!("{}/me", op.base)
                }
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let oauth_redirect = res.body["sp"]["redirect_uri"].as_str().unwrap().to_string();
    let clients = json!({ "clients": [
        { "client_id": "keystead-oidc", "client_secret": "oidc-secret-value", "redirect_uris": [oidc_redirect],
          "grant_types": ["authorization_code"], "response_types": ["code"],
          "token_endpoint_auth_method": "client_secret_basic",
          "post_logout_redirect_uris": [APP_CALLBACK] },
        { "client_id": "keystead-oauth", "client_secret": "oauth-secret-value", "redirect_uris": [oauth_redirect],
          "grant_types": ["authorization_code"], "response_types": ["code"],
          "token_endpoint_auth_method": "client_secret_post" },
    ]});
    let r = reqwest::Client::new()
        .post(format!("{}/configure", op.base))
        .json(&clients)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    register_redirect(&app).await;
    Oidc {
        app,
        op,
        oidc_connection,
        organization_id,
    }
}

/// Follows the provider's redirects like a browser (with cookies) until it sends the browser
/// back to Keystead, whose answer is returned.
async fn browse(app: &TestApp, start: url::Url) -> TestResponse {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut cookies: HashMap<String, String> = HashMap::new();
    let mut url = start;
    for _ in 0..12 {
        if url.host_str() == Some("keystead.test") {
            let path = &url[url::Position::BeforePath..];
            return app.send(Method::GET, path, None, None).await;
        }
        let cookie = cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let res = client
            .get(url.clone())
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        for c in res.headers().get_all("set-cookie") {
            let pair = c.to_str().unwrap().split(';').next().unwrap();
            if let Some((k, v)) = pair.split_once('=') {
                cookies.insert(k.to_string(), v.to_string());
            }
        }
        assert!(
            res.status().is_redirection(),
            "the provider stopped at {url}: {}",
            res.text().await.unwrap()
        );
        let next = res.headers()["location"].to_str().unwrap();
        url = url.join(next).unwrap();
    }
    panic!("too many redirects");
}

async fn authorize(app: &TestApp, selector: &str) -> url::Url {
    let res = app
        .send(
            Method::GET,
            &format!(
                "/sso/authorize?client_id={}&redirect_uri={}&response_type=code&state=s-1&{selector}",
                app.tenant.client_id,
                urlencode(APP_CALLBACK)
            ),
            None,
            None,
        )
        .await;
    location(&res)
}

#[tokio::test]
async fn generic_oidc_login_against_a_real_provider_yields_a_profile_and_logs_out() {
    if idp::skipped("oidc") {
        return;
    }
    let s = setup().await;
    let to_op = authorize(&s.app, &format!("connection={}", s.oidc_connection)).await;
    assert!(to_op.as_str().starts_with(&s.op.base));
    assert_eq!(
        param(&to_op, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(param(&to_op, "nonce").is_some());
    let res = browse(&s.app, to_op).await;
    let back = location(&res);
    assert!(back.as_str().starts_with(APP_CALLBACK), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("s-1"));
    let token = exchange(&s.app, &param(&back, "code").expect("code")).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    let p = &token.body["profile"];
    assert_eq!(p["idp_id"], "bob-0001");
    assert_eq!(p["email"], "bob@example.com");
    assert_eq!(p["first_name"], "Bob");
    assert_eq!(p["last_name"], "Builder");
    assert_eq!(p["name"], "Bob Builder");
    assert_eq!(p["groups"], json!(["Ops", "Oncall"]));
    assert_eq!(p["connection_type"], "GenericOIDC");
    assert_eq!(p["organization_id"], s.organization_id);

    // RP-initiated logout through the provider's end_session_endpoint.
    let res = s
        .app
        .post("/sso/logout/authorize", &json!({ "profile_id": p["id"] }))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let logout_url = url::Url::parse(res.body["logout_url"].as_str().unwrap()).unwrap();
    let res = s
        .app
        .send(
            Method::GET,
            &logout_url[url::Position::BeforePath..],
            None,
            None,
        )
        .await;
    let to = location(&res);
    assert!(
        to.as_str()
            .starts_with(&format!("{}/session/end", s.op.base)),
        "{to}"
    );

    // A callback for no pending request, and a provider error for a pending one.
    let res = s
        .app
        .send(
            Method::GET,
            &format!(
                "/sso/oidc/callback/{}?code=x&state=sso_req_forged",
                s.oidc_connection
            ),
            None,
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["error"], "unsolicited_response");
    let to_op = authorize(&s.app, &format!("connection={}", s.oidc_connection)).await;
    let state = param(&to_op, "state").unwrap();
    let res = s
        .app
        .send(
            Method::GET,
            &format!(
                "/sso/oidc/callback/{}?error=access_denied&error_description=nope&state={state}",
                s.oidc_connection
            ),
            None,
            None,
        )
        .await;
    let back = location(&res);
    assert_eq!(param(&back, "error").as_deref(), Some("idp_error"));
    assert_eq!(param(&back, "state").as_deref(), Some("s-1"));
}

#[tokio::test]
async fn an_oauth_provider_pointed_at_the_local_provider_signs_in_with_provider_tokens() {
    if idp::skipped("oauth") {
        return;
    }
    let s = setup().await;
    let to_op = authorize(&s.app, "provider=GoogleOAuth").await;
    assert!(
        to_op.as_str().starts_with(&format!("{}/auth", s.op.base)),
        "{to_op}"
    );
    let res = browse(&s.app, to_op).await;
    let back = location(&res);
    let token = exchange(&s.app, &param(&back, "code").expect("code")).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    let p = &token.body["profile"];
    assert_eq!(p["connection_type"], "GoogleOAuth");
    assert_eq!(p["email"], "bob@example.com");
    assert!(p["organization_id"].is_null());
    let t = &token.body["oauth_tokens"];
    assert_eq!(t["provider"], "GoogleOAuth");
    assert!(t["access_token"].as_str().is_some_and(|a| !a.is_empty()));
    assert!(t["expires_at"].as_i64().unwrap() > chrono::Utc::now().timestamp());
}

#[tokio::test]
async fn user_management_authorize_with_an_oauth_provider_signs_in_a_linked_user() {
    if idp::skipped("um oauth") {
        return;
    }
    let s = setup().await;
    let res = s
        .app
        .send(
            Method::GET,
            &format!(
                "/user_management/authorize?client_id={}&redirect_uri={}&response_type=code&state=g-1&provider=GoogleOAuth",
                s.app.tenant.client_id,
                urlencode(APP_CALLBACK)
            ),
            None,
            None,
        )
        .await;
    let to_op = location(&res);
    assert!(
        to_op.as_str().starts_with(&format!("{}/auth", s.op.base)),
        "{to_op}"
    );
    let back = location(&browse(&s.app, to_op).await);
    assert_eq!(param(&back, "state").as_deref(), Some("g-1"));
    let body = json!({
        "client_id": s.app.tenant.client_id, "client_secret": s.app.tenant.api_key,
        "grant_type": "authorization_code", "code": param(&back, "code").expect("code"),
    });
    let res = s
        .app
        .send(
            Method::POST,
            "/user_management/authenticate",
            None,
            Some(&body),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["user"]["email"], "bob@example.com");
    assert_eq!(res.body["authentication_method"], "SSO");
    assert!(res.body["organization_id"].is_null());
    let ids = s
        .app
        .get(&format!(
            "/user_management/users/{}/identities",
            res.body["user"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(ids.body[0]["provider"], "GoogleOAuth", "{}", ids.text);
    assert_eq!(ids.body[0]["type"], "OAuth");
}
