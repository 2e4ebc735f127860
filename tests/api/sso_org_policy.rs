//! The organization side of SSO logins, against the real SAML IdP (samlify, via
//! `sso_saml::setup_in`): `authentication.sso_started` when `/sso/authorize` or
//! `/user_management/authorize` sends the browser to the IdP; the
//! `allow_profiles_outside_organization` policy (profiles must come from one of the
//! organization's verified domains); the membership a User Management SSO sign-in creates and
//! the `org_id` its access token carries; and the browser's IP address (through
//! `KEYSTEAD_TRUSTED_PROXIES`) and user agent on the events, the code and the session.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::idp::{self, form_fields};
use crate::sso_saml::{APP_CALLBACK, Saml, location, param, setup, setup_in, urlencode};
use crate::support::{TestApp, TestResponse};

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) KeysteadTest/1.0";

/// A browser request from `peer`, with our user agent and `extra` headers.
fn browser_request(
    method: Method,
    uri: &str,
    peer: &str,
    extra: &[(&str, &str)],
    form: Option<String>,
) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("user-agent", UA);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let mut req = match form {
        Some(f) => req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(f)),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let addr: SocketAddr = peer.parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}

/// `GET {path}?client_id=…&redirect_uri=…&response_type=code&{extra}` from `peer`.
async fn authorize_from(
    s: &Saml,
    path: &str,
    extra: &str,
    peer: &str,
    headers: &[(&str, &str)],
) -> TestResponse {
    let uri = format!(
        "{path}?client_id={}&redirect_uri={}&response_type=code&{extra}",
        s.app.tenant.client_id,
        urlencode(APP_CALLBACK)
    );
    s.app
        .send_request(browser_request(Method::GET, &uri, peer, headers, None))
        .await
}

/// Authorize (from `peer`) → IdP → ACS (from `acs_peer` with `acs_headers`); returns where
/// Keystead sent the browser.
async fn login_via(
    s: &Saml,
    path: &str,
    extra: &str,
    acs_peer: &str,
    acs_headers: &[(&str, &str)],
) -> url::Url {
    let res = authorize_from(s, path, extra, "192.0.2.10:50000", &[]).await;
    let idp_url = location(&res);
    assert!(idp_url.as_str().starts_with(&s.idp.base), "{idp_url}");
    let html = reqwest::get(idp_url.as_str())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (action, fields) = form_fields(&html);
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .finish();
    let path = action.trim_start_matches("http://keystead.test");
    let req = browser_request(Method::POST, path, acs_peer, acs_headers, Some(form));
    location(&s.app.send_request(req).await)
}

/// The `data` of this environment's events named `event`, oldest first.
async fn event_data(app: &TestApp, event: &str) -> Vec<Value> {
    sqlx::query_scalar(
        "select data from events where environment_id = $1 and event = $2 order by id",
    )
    .bind(&app.tenant.environment_id)
    .bind(event)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(&app.tenant.environment_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Every event of the environment, validated against the `EventList` schema.
async fn assert_events_match_the_spec(app: &TestApp) {
    let page = app.get("/events?limit=100&order=asc").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    crate::openapi::assert_matches_schema("/components/schemas/EventList", &page.body);
}

async fn authenticate(app: &TestApp, code: &str) -> TestResponse {
    app.send(
        Method::POST,
        "/user_management/authenticate",
        None,
        Some(&json!({
            "client_id": app.tenant.client_id, "client_secret": app.tenant.api_key,
            "grant_type": "authorization_code", "code": code,
        })),
    )
    .await
}

/// The claims of a JWT (unverified: the authenticate tests check signatures).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn sso_started_is_recorded_with_the_request_when_a_login_goes_to_the_idp() {
    if idp::skipped("sso started") {
        return;
    }
    let s = setup(None, false).await;
    let res = authorize_from(
        &s,
        "/sso/authorize",
        &format!("connection={}&state=st", s.connection_id),
        "203.0.113.7:41000",
        &[("x-forwarded-for", "198.51.100.1")],
    )
    .await;
    assert!(location(&res).as_str().starts_with(&s.idp.base));
    let started = event_data(&s.app, "authentication.sso_started").await;
    assert_eq!(started.len(), 1);
    assert_eq!(
        started[0],
        json!({
            "type": "sso", "status": "started",
            // The peer is not a trusted proxy: its X-Forwarded-For is ignored.
            "ip_address": "203.0.113.7", "user_agent": UA,
            "user_id": null, "email": null,
            "sso": { "organization_id": s.organization_id, "connection_id": s.connection_id, "session_id": null },
        })
    );

    // Through User Management, chosen by organization.
    let res = authorize_from(
        &s,
        "/user_management/authorize",
        &format!("organization_id={}", s.organization_id),
        "203.0.113.8:41000",
        &[],
    )
    .await;
    assert!(location(&res).as_str().starts_with(&s.idp.base));
    let started = event_data(&s.app, "authentication.sso_started").await;
    assert_eq!(started.len(), 2);
    assert_eq!(started[1]["ip_address"], "203.0.113.8");
    assert_eq!(started[1]["sso"]["connection_id"], s.connection_id.as_str());

    // A login that never reaches the IdP starts nothing; each started login has its request.
    let res = authorize_from(
        &s,
        "/sso/authorize",
        "connection=conn_nope",
        "203.0.113.7:1",
        &[],
    )
    .await;
    assert_eq!(
        param(&location(&res), "error").as_deref(),
        Some("connection_invalid")
    );
    assert_eq!(
        event_data(&s.app, "authentication.sso_started").await.len(),
        2
    );
    assert_eq!(
        count(
            &s.app,
            "select count(*) from sso_requests where environment_id = $1"
        )
        .await,
        2
    );
    assert_events_match_the_spec(&s.app).await;
}

#[tokio::test]
async fn profiles_outside_the_organizations_verified_domains_are_refused_unless_allowed() {
    if idp::skipped("sso org domains") {
        return;
    }
    let s = setup(None, false).await;
    let org_path = format!("/organizations/{}", s.organization_id);
    // example.com (the IdP user's domain) only pending: not enough. (A domain set keeps the
    // state of domains it already has, so drop example.com first.)
    for set in [
        json!([{ "domain": "example.org", "state": "verified" }]),
        json!([
            { "domain": "example.org", "state": "verified" },
            { "domain": "example.com", "state": "pending" },
        ]),
    ] {
        let res = s.app.put(&org_path, &json!({ "domain_data": set })).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    }
    let res = s.app.get(&org_path).await;
    assert_eq!(
        res.body["domains"][1]["domain"], "example.com",
        "{}",
        res.text
    );
    assert_eq!(res.body["domains"][1]["state"], "pending", "{}", res.text);
    assert_eq!(res.body["allow_profiles_outside_organization"], false);

    let back = login_via(
        &s,
        "/sso/authorize",
        &format!("connection={}&state=out-1", s.connection_id),
        "203.0.113.9:1000",
        &[],
    )
    .await;
    assert!(back.as_str().starts_with(APP_CALLBACK), "{back}");
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("profile_not_allowed_outside_organization")
    );
    assert!(
        param(&back, "error_description")
            .unwrap()
            .contains("domain")
    );
    assert_eq!(param(&back, "state").as_deref(), Some("out-1"));
    assert!(param(&back, "code").is_none());
    let failed = event_data(&s.app, "authentication.sso_failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0]["error"]["code"],
        "profile_not_allowed_outside_organization"
    );
    assert_eq!(failed[0]["email"], "alice@example.com");
    assert_eq!(failed[0]["ip_address"], "203.0.113.9");
    assert_eq!(failed[0]["user_agent"], UA);
    assert_eq!(
        failed[0]["sso"]["organization_id"],
        s.organization_id.as_str()
    );
    let profiles = "select count(*) from sso_profiles where environment_id = $1";
    assert_eq!(count(&s.app, profiles).await, 0);

    // The same refusal through User Management: no user is created.
    let back = login_via(
        &s,
        "/user_management/authorize",
        &format!("connection_id={}&state=out-2", s.connection_id),
        "203.0.113.9:1000",
        &[],
    )
    .await;
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("profile_not_allowed_outside_organization")
    );
    assert_eq!(param(&back, "state").as_deref(), Some("out-2"));
    assert!(
        !s.app
            .event_names()
            .await
            .contains(&"user.created".to_string())
    );

    // Verified, the domain admits the profile.
    for set in [
        json!([]),
        json!([{ "domain": "example.com", "state": "verified" }]),
    ] {
        let res = s.app.put(&org_path, &json!({ "domain_data": set })).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    }
    let back = login_via(
        &s,
        "/sso/authorize",
        &format!("connection={}", s.connection_id),
        "203.0.113.9:1",
        &[],
    )
    .await;
    assert!(param(&back, "code").is_some(), "{back}");

    // An organization that allows profiles outside it admits any email.
    let res = s
        .app
        .put(
            &org_path,
            &json!({ "domain_data": [], "allow_profiles_outside_organization": true }),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["allow_profiles_outside_organization"], true);
    let back = login_via(
        &s,
        "/sso/authorize",
        &format!("connection={}&state=in", s.connection_id),
        "203.0.113.9:1000",
        &[],
    )
    .await;
    assert_eq!(param(&back, "state").as_deref(), Some("in"));
    let code = param(&back, "code").expect("a code");
    let token = crate::sso_saml::exchange(&s.app, &code).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    assert_eq!(token.body["profile"]["email"], "alice@example.com");
    assert_eq!(
        event_data(&s.app, "authentication.sso_failed").await.len(),
        2
    );
    assert_events_match_the_spec(&s.app).await;
}

#[tokio::test]
async fn a_user_management_sso_sign_in_joins_the_organization_and_records_the_browser() {
    if idp::skipped("um sso membership") {
        return;
    }
    let app = TestApp::with(|s| s.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()]).await;
    let s = setup_in(app, None, false).await;
    let via_proxy = [("x-forwarded-for", "198.51.100.23")];
    let back = login_via(
        &s,
        "/user_management/authorize",
        &format!("connection_id={}&state=m-1", s.connection_id),
        "10.1.2.3:443",
        &via_proxy,
    )
    .await;
    assert_eq!(param(&back, "state").as_deref(), Some("m-1"));
    let code = param(&back, "code").expect("a code");
    let res = authenticate(&s.app, &code).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["organization_id"], s.organization_id.as_str());
    let user_id = res.body["user"]["id"].as_str().unwrap().to_string();
    let c = claims(res.body["access_token"].as_str().unwrap());
    assert_eq!(c["org_id"], s.organization_id.as_str());
    assert_eq!(c["role"], "member");

    let list = s
        .app
        .get(&format!(
            "/user_management/organization_memberships?user_id={user_id}"
        ))
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let data = list.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{}", list.text);
    assert_eq!(data[0]["organization_id"], s.organization_id.as_str());
    assert_eq!(data[0]["status"], "active");
    assert_eq!(data[0]["role"]["slug"], "member");
    let created = event_data(&s.app, "organization_membership.created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["user_id"], user_id.as_str());

    // The browser, as seen through the trusted proxy, on the event, the code and the session.
    let ok = event_data(&s.app, "authentication.sso_succeeded").await;
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0]["ip_address"], "198.51.100.23");
    assert_eq!(ok[0]["user_agent"], UA);
    assert_eq!(ok[0]["user_id"], user_id.as_str());
    assert_eq!(ok[0]["email"], "alice@example.com");
    let (ip, ua): (Option<String>, Option<String>) = sqlx::query_as(
        "select ip_address, user_agent from sessions where environment_id = $1 and user_id = $2",
    )
    .bind(&s.app.tenant.environment_id)
    .bind(&user_id)
    .fetch_one(&s.app.pool)
    .await
    .unwrap();
    assert_eq!(ip.as_deref(), Some("198.51.100.23"));
    assert_eq!(ua.as_deref(), Some(UA));
    let codes = "select count(*) from authorization_codes where environment_id = $1 \
                 and ip_address = '198.51.100.23' and user_agent is not null";
    assert_eq!(count(&s.app, codes).await, 1);
    let sessions = s
        .app
        .get(&format!("/user_management/users/{user_id}/sessions"))
        .await;
    assert_eq!(sessions.status, StatusCode::OK, "{}", sessions.text);
    assert_eq!(sessions.body["data"][0]["ip_address"], "198.51.100.23");
    assert_eq!(sessions.body["data"][0]["user_agent"], UA);

    // A second sign-in reuses the membership.
    let back = login_via(
        &s,
        "/user_management/authorize",
        &format!("organization_id={}", s.organization_id),
        "10.1.2.3:443",
        &via_proxy,
    )
    .await;
    let res = authenticate(&s.app, &param(&back, "code").unwrap()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["organization_id"], s.organization_id.as_str());
    assert_eq!(
        event_data(&s.app, "organization_membership.created")
            .await
            .len(),
        1
    );

    // A deactivated member is not reactivated, and the session is not scoped to the
    // organization.
    let membership = data[0]["id"].as_str().unwrap();
    let res = s
        .app
        .put(
            &format!("/user_management/organization_memberships/{membership}/deactivate"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let back = login_via(
        &s,
        "/user_management/authorize",
        &format!("connection_id={}", s.connection_id),
        "10.1.2.3:443",
        &via_proxy,
    )
    .await;
    let res = authenticate(&s.app, &param(&back, "code").unwrap()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert!(
        res.body.get("organization_id").is_none_or(Value::is_null),
        "{}",
        res.text
    );
    assert!(claims(res.body["access_token"].as_str().unwrap())["org_id"].is_null());
    let m = s
        .app
        .get(&format!(
            "/user_management/organization_memberships/{membership}"
        ))
        .await;
    assert_eq!(m.body["status"], "inactive");
    assert_events_match_the_spec(&s.app).await;

    // Another environment cannot see the membership.
    let other = s.app.new_tenant("Other").await;
    let res = s
        .app
        .send(
            Method::GET,
            &format!("/user_management/organization_memberships/{membership}"),
            Some(&other.api_key),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}
