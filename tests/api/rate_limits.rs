//! Rate limits through HTTP: headers, 429 with Retry-After, route classes, per-key, per-email
//! and per-IP keys, trusted proxies.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::support::TestApp;

fn header(res: &crate::support::TestResponse, name: &str) -> Option<u64> {
    res.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn limited_responses_carry_headers_and_the_excess_is_429_with_retry_after() {
    let app = TestApp::with(|s| s.rate_limits = "general=3/60".parse().unwrap()).await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let res = app.get("/organizations").await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(header(&res, "x-ratelimit-limit"), Some(3));
        assert!(header(&res, "x-ratelimit-reset").is_some());
        remaining.push(header(&res, "x-ratelimit-remaining").unwrap());
    }
    assert_eq!(remaining, [2, 1, 0]);
    let res = app.get("/organizations").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        res.body,
        json!({"code": "rate_limit_exceeded", "message": "Too many requests."})
    );
    let retry = header(&res, "retry-after").unwrap();
    assert!((1..=20).contains(&retry), "retry-after {retry}");
    assert_eq!(header(&res, "x-ratelimit-remaining"), Some(0));

    // Limits are per API key: another environment's key is unaffected.
    let other = app.new_tenant("Other").await;
    assert_eq!(
        app.send(Method::GET, "/organizations", Some(&other.api_key), None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn user_management_writes_have_their_own_class() {
    let app =
        TestApp::with(|s| s.rate_limits = "user_management_write=2/10".parse().unwrap()).await;
    for i in 0..2 {
        let res = app
            .post(
                "/user_management/users",
                &json!({"email": format!("u{i}@x.co")}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED);
    }
    let res = app
        .post("/user_management/users", &json!({"email": "u9@x.co"}))
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        app.get("/user_management/users").await.status,
        StatusCode::OK,
        "reads are a separate class"
    );
    assert_eq!(
        app.post("/organizations", &json!({"name": "x"}))
            .await
            .status,
        StatusCode::CREATED
    );
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 2, "a rejected request does not run");
}

#[tokio::test]
async fn password_guessing_is_throttled_per_email_failures_included() {
    let app = TestApp::with(|s| {
        s.rate_limits = "authenticate_email=2/60,authenticate_ip=3/60"
            .parse()
            .unwrap()
    })
    .await;
    for email in ["a@x.co", "b@x.co", "c@x.co"] {
        app.post(
            "/user_management/users",
            &json!({"email": email, "password": "correct horse battery"}),
        )
        .await;
    }
    let attempt = |email: &str, password: &str, ip: &str| {
        json!({"grant_type": "password", "client_id": app.tenant.client_id, "client_secret": app.tenant.api_key,
               "email": email, "password": password, "ip_address": ip})
    };
    for _ in 0..2 {
        let res = app
            .post(
                "/user_management/authenticate",
                &attempt("a@x.co", "wrong", "198.51.100.1"),
            )
            .await;
        assert_eq!(res.body["code"], "invalid_credentials");
    }
    let res = app
        .post(
            "/user_management/authenticate",
            &attempt("a@x.co", "correct horse battery", "198.51.100.2"),
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the right password is refused too once the email is throttled"
    );
    assert!(res.headers.get("retry-after").is_some());
    let res = app
        .post(
            "/user_management/authenticate",
            &attempt("b@x.co", "correct horse battery", "198.51.100.3"),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "other emails are unaffected");

    // Per end-user IP: the third attempt from one IP is refused whatever the email.
    for email in ["b@x.co", "c@x.co"] {
        app.post(
            "/user_management/authenticate",
            &attempt(email, "wrong", "203.0.113.5"),
        )
        .await;
    }
    app.post(
        "/user_management/authenticate",
        &attempt("c@x.co", "wrong", "203.0.113.5"),
    )
    .await;
    let res = app
        .post(
            "/user_management/authenticate",
            &attempt("c@x.co", "wrong", "203.0.113.5"),
        )
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
}

async fn jwks_from(app: &TestApp, peer: [u8; 4], forwarded: Option<&str>) -> StatusCode {
    let mut req = Request::builder().uri(format!("/sso/jwks/{}", app.tenant.client_id));
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    let mut req = req.body(Body::empty()).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((peer, 40000))));
    app.send_request(req).await.status
}

#[tokio::test]
async fn public_routes_are_limited_per_client_ip_honouring_only_trusted_proxies() {
    let app = TestApp::with(|s| {
        s.rate_limits = "public=2/60".parse().unwrap();
        s.trusted_proxies = keystead::http::rate_limit::parse_trusted_proxies("10.0.0.1").unwrap();
    })
    .await;
    assert_eq!(jwks_from(&app, [192, 0, 2, 1], None).await, StatusCode::OK);
    assert_eq!(jwks_from(&app, [192, 0, 2, 1], None).await, StatusCode::OK);
    assert_eq!(
        jwks_from(&app, [192, 0, 2, 1], None).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // An untrusted peer cannot escape its bucket with a forged header.
    assert_eq!(
        jwks_from(&app, [192, 0, 2, 1], Some("198.51.100.1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Through the trusted proxy, each forwarded client has its own bucket.
    assert_eq!(
        jwks_from(&app, [10, 0, 0, 1], Some("198.51.100.1")).await,
        StatusCode::OK
    );
    assert_eq!(
        jwks_from(&app, [10, 0, 0, 1], Some("198.51.100.2")).await,
        StatusCode::OK
    );
    // Probes are never limited.
    for _ in 0..5 {
        assert_eq!(app.get("/health").await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn limits_can_be_switched_off() {
    let app = TestApp::with(|s| s.rate_limits = "off".parse().unwrap()).await;
    let res = app.get("/organizations").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.headers.get("x-ratelimit-limit").is_none());
}
