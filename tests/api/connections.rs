//! `/connections`: list/get/delete as WorkOS serves them, the `POST`/`PUT` extension, public SP
//! metadata, `connection.*` events, the SSRF guard on metadata URLs, and tenant isolation.

use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;

pub const IDP_METADATA: &str = include_str!("../fixtures/saml/idp-metadata.xml");
pub const IDP_CERT: &str = include_str!("../fixtures/saml/idp-cert.pem");
pub const OTHER_CERT: &str = include_str!("../fixtures/saml/other-cert.pem");

/// Serves `body` at every path of a loopback server; returns its base URL and a handle to
/// change the body.
pub async fn serve_text(body: &str) -> (String, Arc<Mutex<String>>) {
    let shared = Arc::new(Mutex::new(body.to_string()));
    let s = shared.clone();
    let app = axum::Router::new().fallback(move || {
        let s = s.clone();
        async move { s.lock().unwrap().clone() }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), shared)
}

pub async fn org(app: &TestApp, name: &str) -> String {
    let res = app.post("/organizations", &json!({ "name": name })).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body["id"].as_str().unwrap().to_string()
}

/// An organization with `domain` verified (SSO connections admit only its profiles).
pub async fn org_with_domain(app: &TestApp, name: &str, domain: &str) -> String {
    let res = app
        .post(
            "/organizations",
            &json!({ "name": name, "domain_data": [{ "domain": domain, "state": "verified" }] }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_saml_connection_is_created_from_metadata_and_served_like_workos() {
    let app = TestApp::new().await;
    let org_id = org(&app, "Foo Corp").await;
    let res = app
        .post(
            "/connections",
            &json!({
                "organization_id": org_id,
                "connection_type": "OktaSAML",
                "name": "Foo Okta",
                "domains": ["Foo-Corp.com"],
                "saml": { "idp_metadata_xml": IDP_METADATA }
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let c = &res.body;
    let id = c["id"].as_str().unwrap();
    assert!(id.starts_with("conn_"));
    assert_eq!(c["object"], "connection");
    assert_eq!(c["state"], "active");
    assert_eq!(c["status"], "linked");
    assert_eq!(c["domains"][0]["domain"], "foo-corp.com");
    assert_eq!(c["domains"][0]["object"], "connection_domain");
    assert!(
        c["options"]["signing_cert"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let metadata_url = c["sp"]["metadata_url"].as_str().unwrap();
    assert_eq!(c["sp"]["entity_id"], metadata_url);
    assert_eq!(
        c["sp"]["acs_url"],
        format!("http://keystead.test/sso/saml/acs/{id}")
    );

    // SP metadata is public and names the ACS and entity id.
    let path = metadata_url.trim_start_matches("http://keystead.test");
    let meta = app.send(Method::GET, path, None, None).await;
    assert_eq!(meta.status, StatusCode::OK);
    assert!(meta.text.contains(&format!("entityID=\"{metadata_url}\"")));
    assert!(meta.text.contains("use=\"encryption\""));

    let got = app.get(&format!("/connections/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["connection_type"], "OktaSAML");
    assert!(
        got.body.get("sp").is_none(),
        "GET is the plain WorkOS shape"
    );
    for q in [
        format!("organization_id={org_id}"),
        "connection_type=OktaSAML".into(),
        "domain=foo-corp.com".into(),
        "search=okta".into(),
    ] {
        let list = app.get(&format!("/connections?{q}")).await;
        assert_eq!(list.body["data"].as_array().unwrap().len(), 1, "{q}");
    }
    let none = app.get("/connections?connection_type=GenericOIDC").await;
    assert_eq!(none.body["data"].as_array().unwrap().len(), 0);

    // Deactivate, rotate certificates (two valid at once), reactivate.
    let res = app
        .put(
            &format!("/connections/{id}"),
            &json!({ "state": "inactive", "saml": { "idp_certificates": [IDP_CERT, OTHER_CERT] } }),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["state"], "inactive");
    let res = app
        .put(&format!("/connections/{id}"), &json!({ "state": "active" }))
        .await;
    assert_eq!(res.body["status"], "linked");

    // Another tenant cannot see it.
    let other = app.new_tenant("Other").await;
    let res = app
        .send(
            Method::GET,
            &format!("/connections/{id}"),
            Some(&other.api_key),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    let res = app.delete(&format!("/connections/{id}")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/connections/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let names: Vec<String> = app
        .event_names()
        .await
        .into_iter()
        .filter(|e| e.starts_with("connection."))
        .collect();
    assert_eq!(
        names,
        [
            "connection.activated",
            "connection.deactivated",
            "connection.activated",
            "connection.deleted"
        ]
    );
    let deleted: Value = sqlx::query_scalar(
        "select data from events where event = 'connection.deleted' and environment_id = $1",
    )
    .bind(&app.tenant.environment_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(deleted["id"], id);
    assert!(deleted.get("domains").is_none());
}

#[tokio::test]
async fn metadata_urls_are_read_and_re_read_through_the_ssrf_guard() {
    let app = TestApp::new().await;
    let org_id = org(&app, "Url Corp").await;
    let (base, served) = serve_text(IDP_METADATA).await;
    let res = app
        .post(
            "/connections",
            &json!({
                "organization_id": org_id, "connection_type": "GenericSAML", "name": "By URL",
                "saml": { "idp_metadata_url": format!("{base}/metadata") }
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let id = res.body["id"].as_str().unwrap().to_string();

    // The IdP moves its SSO endpoint; sending the URL again re-reads it.
    *served.lock().unwrap() = IDP_METADATA.replace("/sso/redirect", "/sso/v2");
    let res = app
        .put(
            &format!("/connections/{id}"),
            &json!({ "saml": { "idp_metadata_url": format!("{base}/metadata") } }),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let stored: Value = sqlx::query_scalar("select settings from connections where id = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored["idp_sso_url"], "https://idp.example.test/sso/v2");

    // Private, link-local and non-http destinations are refused.
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/metadata",
        "https://[fd00::1]/m",
        "file:///etc/passwd",
    ] {
        let res = app
            .post(
                "/connections",
                &json!({
                    "organization_id": org_id, "connection_type": "GenericSAML", "name": "SSRF",
                    "saml": { "idp_metadata_url": url }
                }),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        assert_eq!(res.body["errors"][0]["field"], "saml.idp_metadata_url");
    }
}

#[tokio::test]
async fn invalid_connection_input_gets_field_errors() {
    let app = TestApp::new().await;
    let org_id = org(&app, "Bad Corp").await;
    let cases = [
        (
            json!({"organization_id": org_id, "connection_type": "PigeonSAML2", "name": "x"}),
            "connection_type",
        ),
        (
            json!({"organization_id": org_id, "connection_type": "GenericSAML", "name": "x"}),
            "saml",
        ),
        (
            json!({"connection_type": "GenericSAML", "name": "x", "saml": {"idp_metadata_xml": IDP_METADATA}}),
            "organization_id",
        ),
        (
            json!({"organization_id": "org_missing", "connection_type": "GenericSAML", "name": "x",
                   "saml": {"idp_metadata_xml": IDP_METADATA}}),
            "organization_id",
        ),
        (
            json!({"organization_id": org_id, "connection_type": "GenericSAML", "name": "x",
                   "saml": {"idp_entity_id": "e", "idp_sso_url": "https://idp.test/sso", "idp_certificates": ["junk"]}}),
            "saml.idp_certificates",
        ),
        (
            json!({"organization_id": org_id, "connection_type": "GenericOIDC", "name": "x",
                   "oidc": {"discovery_endpoint": "https://idp.test", "client_id": "c"}}),
            "oidc.client_secret",
        ),
    ];
    for (body, field) in cases {
        let res = app.post("/connections", &body).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            res.text
        );
        assert_eq!(res.body["errors"][0]["field"], field, "{}", res.text);
    }
}

#[tokio::test]
async fn oidc_connections_hide_their_secret_and_name_their_redirect_uri() {
    let app = TestApp::new().await;
    let org_id = org(&app, "Oidc Corp").await;
    let res = app
        .post(
            "/connections",
            &json!({
                "organization_id": org_id, "connection_type": "GenericOIDC", "name": "OIDC",
                "oidc": {"discovery_endpoint": "https://idp.test/.well-known/openid-configuration",
                         "client_id": "client-1", "client_secret": "s3cret-value"}
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert!(!res.text.contains("s3cret-value"));
    assert!(res.body.get("options").is_none());
    let id = res.body["id"].as_str().unwrap();
    assert_eq!(
        res.body["sp"]["redirect_uri"],
        format!("http://keystead.test/sso/oidc/callback/{id}")
    );
    let sealed: Vec<u8> =
        sqlx::query_scalar("select client_secret_enc from connections where id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("s3cret"));
}
