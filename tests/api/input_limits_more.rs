//! Lengths of the remaining client-supplied strings (issue 10 §2, `src/limits.rs`): URLs
//! (redirect URIs, CORS origins, webhook endpoints, connection IdP URLs), connection and
//! directory names, role slugs of memberships and invitations, TOTP labels, one-time codes; an
//! over-long value answers 422 `invalid_request_parameters` naming the field and writes nothing,
//! a value at the limit is kept. The OAuth endpoints answer `invalid_request` instead.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::connections::IDP_METADATA;
use crate::sso_saml::{APP_CALLBACK, location, register_redirect};
use crate::support::{TestApp, TestResponse};
use crate::um::{PASSWORD, org, user};

const URL_MAX: usize = 2048;
const NAME_MAX: usize = 256;
const ROLE_SLUG_MAX: usize = 48;
const TOKEN_MAX: usize = 1024;
const SIGN_IN_PASSWORD_MAX: usize = 1024;

async fn count(app: &TestApp, table: &str) -> i64 {
    let sql = match table {
        "redirect_uris" => "select count(*) from redirect_uris where environment_id = $1",
        "cors_origins" => "select count(*) from cors_origins where environment_id = $1",
        "webhook_endpoints" => "select count(*) from webhook_endpoints where environment_id = $1",
        "connections" => "select count(*) from connections where environment_id = $1",
        "directories" => "select count(*) from directories where environment_id = $1",
        "organization_memberships" => {
            "select count(*) from organization_memberships where environment_id = $1"
        }
        "invitations" => "select count(*) from invitations where environment_id = $1",
        "authentication_factors" => {
            "select count(*) from authentication_factors where environment_id = $1"
        }
        other => panic!("no count for {other}"),
    };
    sqlx::query_scalar(sql)
        .bind(&app.tenant.environment_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[track_caller]
fn assert_too_long(res: &TestResponse, field: &str) {
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{field}: {}",
        res.text
    );
    assert_eq!(
        res.body["code"], "invalid_request_parameters",
        "{}",
        res.text
    );
    assert_eq!(
        res.body["errors"][0],
        json!({"code": "too_long", "field": field}),
        "{}",
        res.text
    );
}

/// `https://example.com/aaa…` of exactly `len` characters.
fn url_of(len: usize) -> String {
    let base = "https://example.com/";
    format!("{base}{}", "a".repeat(len - base.len()))
}

#[tokio::test]
async fn over_long_urls_are_refused_and_urls_at_the_limit_kept() {
    let app = TestApp::new().await;
    let events = app.event_names().await;
    let long = url_of(URL_MAX + 1);
    let res = app
        .post("/user_management/redirect_uris", &json!({"uri": long}))
        .await;
    assert_too_long(&res, "uri");
    let origin = format!("https://{}.example.com", "a".repeat(URL_MAX));
    let res = app
        .post("/user_management/cors_origins", &json!({"origin": origin}))
        .await;
    assert_too_long(&res, "origin");
    let res = app
        .post(
            "/webhook_endpoints",
            &json!({"endpoint_url": long, "events": ["user.created"]}),
        )
        .await;
    assert_too_long(&res, "endpoint_url");
    for table in ["redirect_uris", "cors_origins", "webhook_endpoints"] {
        assert_eq!(count(&app, table).await, 0, "{table}");
    }
    assert_eq!(app.event_names().await, events);

    let at_limit = url_of(URL_MAX);
    let res = app
        .post("/user_management/redirect_uris", &json!({"uri": at_limit}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["uri"], at_limit);
    let res = app
        .post(
            "/webhook_endpoints",
            &json!({"endpoint_url": at_limit, "events": ["user.created"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["endpoint_url"], at_limit);
    let id = res.body["id"].as_str().unwrap().to_string();
    let res = app
        .send(
            Method::PATCH,
            &format!("/webhook_endpoints/{id}"),
            Some(&app.tenant.api_key),
            Some(&json!({"endpoint_url": long})),
        )
        .await;
    assert_too_long(&res, "endpoint_url");
    assert_eq!(
        app.get("/webhook_endpoints").await.body["data"][0]["endpoint_url"],
        at_limit
    );
}

#[tokio::test]
async fn over_long_connection_and_directory_fields_are_refused() {
    let app = TestApp::new().await;
    let o = org(&app, "Acme").await;
    let long_name = "n".repeat(NAME_MAX + 1);
    let saml = |name: &str| {
        json!({"organization_id": o["id"], "connection_type": "GenericSAML", "name": name,
               "saml": {"idp_metadata_xml": IDP_METADATA}})
    };
    assert_too_long(&app.post("/connections", &saml(&long_name)).await, "name");
    let res = app
        .post(
            "/connections",
            &json!({"organization_id": o["id"], "connection_type": "GenericSAML", "name": "x",
                    "saml": {"idp_entity_id": "urn:x", "idp_sso_url": url_of(URL_MAX + 1)}}),
        )
        .await;
    assert_too_long(&res, "saml.idp_sso_url");
    let res = app
        .post(
            "/connections",
            &json!({"organization_id": o["id"], "connection_type": "GenericOIDC", "name": "x",
                    "oidc": {"client_id": "c".repeat(TOKEN_MAX + 1), "client_secret": "s",
                             "discovery_endpoint": "https://idp.example.com"}}),
        )
        .await;
    assert_too_long(&res, "oidc.client_id");
    let res = app
        .post(
            "/directories",
            &json!({"organization_id": o["id"], "name": long_name}),
        )
        .await;
    assert_too_long(&res, "name");
    assert_eq!(count(&app, "connections").await, 0);
    assert_eq!(count(&app, "directories").await, 0);

    let at_limit = "é".repeat(NAME_MAX);
    let res = app.post("/connections", &saml(&at_limit)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["name"], at_limit);
    let id = res.body["id"].as_str().unwrap().to_string();
    let res = app
        .send(
            Method::PATCH,
            &format!("/connections/{id}"),
            Some(&app.tenant.api_key),
            Some(&json!({"name": long_name})),
        )
        .await;
    assert_too_long(&res, "name");
    let res = app
        .post(
            "/directories",
            &json!({"organization_id": o["id"], "name": at_limit}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["name"], at_limit);
}

#[tokio::test]
async fn over_long_role_slugs_labels_and_codes_are_refused() {
    let app = TestApp::new().await;
    let u = user(&app, "ada@example.com", true).await;
    let o = org(&app, "Acme").await;
    let long_slug = "r".repeat(ROLE_SLUG_MAX + 1);
    let membership = |roles: Value| {
        let mut body = json!({"user_id": u["id"], "organization_id": o["id"]});
        body.as_object_mut()
            .unwrap()
            .extend(roles.as_object().unwrap().clone());
        body
    };
    let path = "/user_management/organization_memberships";
    let res = app
        .post(path, &membership(json!({"role_slug": long_slug})))
        .await;
    assert_too_long(&res, "role_slug");
    let res = app
        .post(
            path,
            &membership(json!({"role_slugs": ["member", long_slug]})),
        )
        .await;
    assert_too_long(&res, "role_slugs");
    let res = app
        .post(
            "/user_management/invitations",
            &json!({"email": "bob@example.com", "organization_id": o["id"],
                    "role_slug": long_slug}),
        )
        .await;
    assert_too_long(&res, "role_slug");
    assert_eq!(count(&app, "organization_memberships").await, 0);
    assert_eq!(count(&app, "invitations").await, 0);

    // A slug at the limit names a role of the catalogue.
    let slug = "r".repeat(ROLE_SLUG_MAX);
    let res = app
        .post("/authorization/roles", &json!({"slug": slug, "name": "R"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let res = app
        .post(path, &membership(json!({"role_slug": slug})))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["role"]["slug"], slug);

    let uid = u["id"].as_str().unwrap();
    let factors = format!("/user_management/users/{uid}/auth_factors");
    let res = app
        .post(
            &factors,
            &json!({"type": "totp", "totp_issuer": "i".repeat(NAME_MAX + 1)}),
        )
        .await;
    assert_too_long(&res, "totp_issuer");
    let res = app
        .post(
            &factors,
            &json!({"type": "totp", "totp_user": "u".repeat(NAME_MAX + 1)}),
        )
        .await;
    assert_too_long(&res, "totp_user");
    assert_eq!(count(&app, "authentication_factors").await, 0);
    let res = app
        .post(
            &factors,
            &json!({"type": "totp", "totp_issuer": "i".repeat(NAME_MAX)}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);

    let res = app
        .post(
            &format!("/user_management/users/{uid}/email_verification/confirm"),
            &json!({"code": "1".repeat(TOKEN_MAX + 1)}),
        )
        .await;
    assert_too_long(&res, "code");
    let res = app
        .post(
            "/user_management/password_reset/confirm",
            &json!({"token": "t".repeat(TOKEN_MAX + 1), "new_password": PASSWORD}),
        )
        .await;
    assert_too_long(&res, "token");
    let res = app
        .post(
            "/user_management/magic_auth",
            &json!({"email": "ada@example.com", "invitation_token": "t".repeat(TOKEN_MAX + 1)}),
        )
        .await;
    assert_too_long(&res, "invitation_token");
    let magic: i64 = sqlx::query_scalar("select count(*) from magic_auths")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(magic, 0);
}

#[tokio::test]
async fn the_oauth_endpoints_refuse_over_long_fields_as_invalid_request() {
    let app = TestApp::new().await;
    user(&app, "ada@example.com", true).await;
    let client = app.tenant.client_id.clone();
    let secret = app.tenant.api_key.clone();
    let grant = |password: String| {
        json!({"grant_type": "password", "client_id": client, "client_secret": secret,
               "email": "ada@example.com", "password": password})
    };
    let res = app
        .send(
            Method::POST,
            "/user_management/authenticate",
            None,
            Some(&grant("p".repeat(SIGN_IN_PASSWORD_MAX + 1))),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(res.body["error"], "invalid_request", "{}", res.text);
    assert!(
        res.body["error_description"]
            .as_str()
            .unwrap()
            .contains("password")
    );
    assert!(
        !app.event_names()
            .await
            .iter()
            .any(|e| e.starts_with("authentication.")),
        "nothing was checked"
    );
    // At the limit the password is checked (and is wrong).
    let res = app
        .send(
            Method::POST,
            "/user_management/authenticate",
            None,
            Some(&grant("p".repeat(SIGN_IN_PASSWORD_MAX))),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(res.body["code"], "invalid_credentials", "{}", res.text);

    let res = app
        .send(
            Method::POST,
            "/user_management/authenticate",
            None,
            Some(&json!({"grant_type": "refresh_token", "client_id": client,
                         "refresh_token": "r".repeat(TOKEN_MAX + 1)})),
        )
        .await;
    assert_eq!(res.body["error"], "invalid_request", "{}", res.text);
    assert!(
        res.body["error_description"]
            .as_str()
            .unwrap()
            .contains("refresh_token")
    );

    let res = app
        .send(
            Method::POST,
            "/sso/token",
            None,
            Some(&json!({"client_id": client, "client_secret": secret,
                         "grant_type": "authorization_code", "code": "c".repeat(TOKEN_MAX + 1)})),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
    assert_eq!(res.body["error"], "invalid_request", "{}", res.text);

    // `/sso/authorize` sends an over-long `state` back to the application as `invalid_request`
    // before it picks a connection or stores anything.
    register_redirect(&app).await;
    let o = org(&app, "Acme").await;
    let cb = url::form_urlencoded::byte_serialize(APP_CALLBACK.as_bytes()).collect::<String>();
    let query = |state: &str| {
        format!(
            "/sso/authorize?client_id={client}&redirect_uri={cb}&response_type=code\
             &organization={}&state={state}",
            o["id"].as_str().unwrap()
        )
    };
    let res = app
        .send(Method::GET, &query(&"s".repeat(URL_MAX + 1)), None, None)
        .await;
    let back = location(&res);
    let error = back.query_pairs().find(|(k, _)| k == "error").unwrap().1;
    assert_eq!(error, "invalid_request");
    let res = app
        .send(Method::GET, &query(&"s".repeat(URL_MAX)), None, None)
        .await;
    let error = location(&res)
        .query_pairs()
        .find(|(k, _)| k == "error")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(
        error, "connection_invalid",
        "at the limit the request goes on"
    );
}

#[tokio::test]
async fn the_hosted_sign_in_page_refuses_an_over_long_password_with_a_form_error() {
    let site = crate::hosted_login::Site::start(&[]).await;
    site.user("ada@example.com", true).await;
    let mut b = site.browser();
    let start = b.authorize(&site, &[("provider", "authkit")]).await;
    let long = "p".repeat(SIGN_IN_PASSWORD_MAX + 1);
    let page = b
        .submit(&start, &[("email", "ada@example.com"), ("password", &long)])
        .await;
    assert_eq!(
        page.status,
        reqwest::StatusCode::BAD_REQUEST,
        "{}",
        page.body
    );
    assert!(page.body.contains("role=\"alert\""), "{}", page.body);
    assert!(
        page.body
            .contains("Password must be at most 1024 characters."),
        "{}",
        page.body
    );
    // At the limit the password is checked (and is wrong).
    let at_limit = "p".repeat(SIGN_IN_PASSWORD_MAX);
    let page = b
        .submit(
            &start,
            &[("email", "ada@example.com"), ("password", &at_limit)],
        )
        .await;
    assert_eq!(
        page.status,
        reqwest::StatusCode::UNAUTHORIZED,
        "{}",
        page.body
    );
    assert!(page.body.contains("Incorrect email or password."));
}
