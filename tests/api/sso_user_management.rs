//! SSO logins through User Management against the real SAML IdP (samlify, via
//! `sso_saml::setup`): `/user_management/authorize?connection_id=…` (or `organization_id`) →
//! IdP → ACS → `redirect_uri?code=…&state=…` → `POST /user_management/authenticate` with
//! `grant_type=authorization_code` → a Keystead user linked by identity; and the connections
//! such a login refuses.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::idp::{self, form_fields};
use crate::sso_saml::{APP_CALLBACK, Saml, location, param, post_acs, setup, urlencode};
use crate::support::{TestApp, TestResponse};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// `GET /user_management/authorize` with `client_id`, our redirect URI and `extra`.
async fn um_authorize(app: &TestApp, client_id: &str, extra: &str) -> TestResponse {
    app.send(
        Method::GET,
        &format!(
            "/user_management/authorize?client_id={client_id}&redirect_uri={}&response_type=code&{extra}",
            urlencode(APP_CALLBACK)
        ),
        None,
        None,
    )
    .await
}

/// Through the IdP and the ACS; returns where Keystead sent the browser.
async fn through_idp(s: &Saml, extra: &str) -> url::Url {
    let res = um_authorize(&s.app, &s.app.tenant.client_id, extra).await;
    let idp_url = location(&res);
    assert!(idp_url.as_str().starts_with(&s.idp.base), "{idp_url}");
    let html = reqwest::get(idp_url.as_str())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (action, fields) = form_fields(&html);
    location(&post_acs(&s.app, &action, &fields).await)
}

async fn authenticate(app: &TestApp, body: Value) -> TestResponse {
    let mut body = body;
    body["client_id"] = json!(app.tenant.client_id);
    body["grant_type"] = json!("authorization_code");
    app.send(
        Method::POST,
        "/user_management/authenticate",
        None,
        Some(&body),
    )
    .await
}

async fn count_events(app: &TestApp, event: &str) -> usize {
    app.event_names()
        .await
        .iter()
        .filter(|e| e.as_str() == event)
        .count()
}

#[tokio::test]
async fn a_user_management_sso_login_creates_a_user_linked_by_identity_and_reuses_it() {
    if idp::skipped("um sso saml") {
        return;
    }
    let s = setup(None, false).await;
    let back = through_idp(&s, &format!("connection_id={}&state=um-1", s.connection_id)).await;
    assert!(back.as_str().starts_with(APP_CALLBACK), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("um-1"));
    let code = param(&back, "code").expect("a code");

    // Not an SSO code: /sso/token does not know it.
    let sso = crate::sso_saml::exchange(&s.app, &code).await;
    assert_eq!(sso.body["error"], "invalid_grant", "{}", sso.text);

    let res = authenticate(
        &s.app,
        json!({ "code": code, "client_secret": s.app.tenant.api_key }),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let user = &res.body["user"];
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["email_verified"], true);
    assert_eq!(user["first_name"], "Alice");
    assert_eq!(user["last_name"], "Liddell");
    assert_eq!(res.body["authentication_method"], "SSO");
    assert_eq!(res.body["organization_id"], s.organization_id);
    assert!(res.body["access_token"].as_str().is_some());
    assert!(res.body["refresh_token"].as_str().is_some());
    let user_id = user["id"].as_str().unwrap().to_string();
    let auth_method: String = sqlx::query_scalar(
        "select auth_method from sessions where environment_id = $1 and user_id = $2",
    )
    .bind(&s.app.tenant.environment_id)
    .bind(&user_id)
    .fetch_one(&s.app.pool)
    .await
    .unwrap();
    assert_eq!(auth_method, "sso");
    assert_eq!(count_events(&s.app, "user.created").await, 1);
    assert_eq!(
        count_events(&s.app, "authentication.sso_succeeded").await,
        1
    );

    // Codes are single use.
    let again = authenticate(
        &s.app,
        json!({ "code": code, "client_secret": s.app.tenant.api_key }),
    )
    .await;
    assert_eq!(again.body["error"], "invalid_grant", "{}", again.text);

    // A second login, this time chosen by organization and bound to PKCE (a public client),
    // finds the same user through the identity.
    let back = through_idp(
        &s,
        &format!(
            "organization_id={}&state=um-2&code_challenge={CHALLENGE}&code_challenge_method=S256",
            s.organization_id
        ),
    )
    .await;
    assert_eq!(param(&back, "state").as_deref(), Some("um-2"));
    let code = param(&back, "code").expect("a code");
    let wrong = authenticate(
        &s.app,
        json!({ "code": code, "code_verifier": "x".repeat(43) }),
    )
    .await;
    assert_eq!(wrong.body["error"], "invalid_grant", "{}", wrong.text);
    let back = through_idp(
        &s,
        &format!(
            "organization_id={}&state=um-3&code_challenge={CHALLENGE}&code_challenge_method=S256",
            s.organization_id
        ),
    )
    .await;
    let code = param(&back, "code").expect("a code");
    let res = authenticate(&s.app, json!({ "code": code, "code_verifier": VERIFIER })).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["user"]["id"], user_id.as_str());
    assert_eq!(count_events(&s.app, "user.created").await, 1);

    let ids = s
        .app
        .get(&format!("/user_management/users/{user_id}/identities"))
        .await;
    assert_eq!(ids.status, StatusCode::OK, "{}", ids.text);
    assert_eq!(
        ids.body,
        json!([{ "idp_id": "alice@example.com", "type": "SSO", "provider": "GenericSAML" }])
    );
    crate::openapi::assert_matches_schema(
        "/paths/~1user_management~1users~1%7Bid%7D~1identities/get/responses/200/content/application~1json/schema",
        &ids.body,
    );
}

#[tokio::test]
async fn a_user_management_sso_login_links_an_existing_user_by_email() {
    if idp::skipped("um sso saml link") {
        return;
    }
    let s = setup(None, false).await;
    let created = s
        .app
        .post(
            "/user_management/users",
            &json!({ "email": "Alice@Example.com", "first_name": "Al" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let back = through_idp(&s, &format!("connection_id={}", s.connection_id)).await;
    let code = param(&back, "code").expect("a code");
    let res = authenticate(
        &s.app,
        json!({ "code": code, "client_secret": s.app.tenant.api_key }),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["user"]["id"], created.body["id"]);
    assert_eq!(count_events(&s.app, "user.created").await, 1);
    let ids = s
        .app
        .get(&format!(
            "/user_management/users/{}/identities",
            created.body["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(ids.body[0]["idp_id"], "alice@example.com");
}

#[tokio::test]
async fn user_management_sso_refuses_unknown_inactive_and_foreign_connections() {
    if idp::skipped("um sso saml errors") {
        return;
    }
    let s = setup(None, false).await;
    let client = s.app.tenant.client_id.clone();
    let refused = |res: &TestResponse| {
        let back = location(res);
        assert!(back.as_str().starts_with(APP_CALLBACK), "{back}");
        assert_eq!(param(&back, "error").as_deref(), Some("connection_invalid"));
        assert_eq!(param(&back, "state").as_deref(), Some("e-1"));
        param(&back, "error_description").unwrap()
    };

    let res = um_authorize(&s.app, &client, "connection_id=conn_nope&state=e-1").await;
    assert!(refused(&res).contains("not found"));
    let res = um_authorize(&s.app, &client, "provider=GoogleOAuth&state=e-1").await;
    refused(&res);

    // Another environment cannot start a login through this one's connection.
    let other = s.app.new_tenant("Other").await;
    let reg = s
        .app
        .send(
            Method::POST,
            "/user_management/redirect_uris",
            Some(&other.api_key),
            Some(&json!({ "uri": APP_CALLBACK })),
        )
        .await;
    assert_eq!(reg.status, StatusCode::CREATED, "{}", reg.text);
    let res = um_authorize(
        &s.app,
        &other.client_id,
        &format!("connection_id={}&state=e-1", s.connection_id),
    )
    .await;
    assert!(refused(&res).contains("not found"));

    // An inactive connection is refused; its organization falls back to the hosted pages.
    let res = s
        .app
        .put(
            &format!("/connections/{}", s.connection_id),
            &json!({ "state": "inactive" }),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = um_authorize(
        &s.app,
        &client,
        &format!("connection_id={}&state=e-1", s.connection_id),
    )
    .await;
    assert!(refused(&res).contains("not active"));
    let res = um_authorize(
        &s.app,
        &client,
        &format!("organization_id={}&state=e-1", s.organization_id),
    )
    .await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.text);
    assert_eq!(res.headers["location"], "/authkit/sign-in");
    let pending: i64 = sqlx::query_scalar(
        "select count(*) from sso_requests where environment_id = $1 and user_management",
    )
    .bind(&s.app.tenant.environment_id)
    .fetch_one(&s.app.pool)
    .await
    .unwrap();
    assert_eq!(pending, 0);
}
