//! The hosted pages' defences: no redirect to unknown clients or unregistered URIs, OAuth error
//! redirects, cookie attributes, CSRF (origin check and form token), expired flows, rate limits
//! and the failed-attempt cap.

use axum::http::{Method, StatusCode as AxumStatus};
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;

use super::{CALLBACK, PASSWORD, Site};
use crate::support::TestApp;

#[tokio::test]
async fn unknown_clients_and_unregistered_redirect_uris_get_an_error_page_not_a_redirect() {
    let app = TestApp::new().await;
    let uri = |client: &str| {
        format!(
            "/user_management/authorize?client_id={client}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=code"
        )
    };
    let unknown = app.send(Method::GET, &uri("client_nope"), None, None).await;
    assert_eq!(unknown.status, AxumStatus::BAD_REQUEST);
    assert!(unknown.headers.get("location").is_none());
    assert!(
        unknown.text.contains("Unknown client_id"),
        "{}",
        unknown.text
    );
    assert!(
        unknown.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    // No redirect URI is registered in this environment.
    let client = app.tenant.client_id.clone();
    let res = app.send(Method::GET, &uri(&client), None, None).await;
    assert_eq!(res.status, AxumStatus::BAD_REQUEST);
    assert!(res.headers.get("location").is_none());
    assert!(res.text.contains("not registered"), "{}", res.text);
    let missing = app
        .send(Method::GET, "/user_management/authorize", None, None)
        .await;
    assert_eq!(missing.status, AxumStatus::BAD_REQUEST);
}

#[tokio::test]
async fn request_errors_go_back_to_a_trusted_redirect_uri_the_oauth_way() {
    let site = Site::start(&[]).await;
    let mut b = site.browser();
    let back = async |b: &mut super::Browser, params: &[(&str, &str)]| {
        let res = b.get(&site.authorize_path(params)).await;
        assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
        assert!(res.location().starts_with(CALLBACK), "{}", res.location());
        (
            res.location_param("error").unwrap_or_default(),
            res.location_param("state"),
        )
    };
    // `response_type` is given by authorize_path; a second, later value wins.
    let (error, state) = back(&mut b, &[("response_type", "token"), ("state", "s1")]).await;
    assert_eq!(
        (error.as_str(), state.as_deref()),
        ("unsupported_response_type", Some("s1"))
    );
    // SSO without a matching connection (see tests/api/sso_user_management.rs).
    let (error, _) = back(&mut b, &[("provider", "GoogleOAuth")]).await;
    assert_eq!(error, "connection_invalid");
    let (error, _) = back(&mut b, &[("organization_id", "org_unknown")]).await;
    assert_eq!(error, "invalid_request");
    let (error, _) = back(&mut b, &[("connection_id", "conn_123")]).await;
    assert_eq!(error, "connection_invalid");
    let (error, _) = back(&mut b, &[("domain_hint", "acme.test")]).await;
    assert_eq!(error, "invalid_request");

    for bad in [
        "javascript:alert(1)",
        "https://app.example.test/cb#fragment",
        "/relative",
    ] {
        let path = format!(
            "/user_management/authorize?client_id={}&response_type=code&redirect_uri={}",
            site.client_id,
            url::form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>()
        );
        let res = b.get(&path).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(res.headers.get("location").is_none());
    }
}

#[tokio::test]
async fn the_flow_cookie_is_private_http_only_and_same_site() {
    let site = Site::start(&[]).await;
    let res = site
        .http
        .get(format!(
            "{}{}",
            site.server.base_url,
            site.authorize_path(&[])
        ))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.starts_with("keystead_authkit="));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(cookie.contains("Path=/"));
    assert!(
        !cookie.contains("Secure"),
        "http public URL: no Secure flag"
    );
    let value = cookie.split(';').next().unwrap();
    let row_token: i64 = sqlx::query_scalar("select count(*) from authkit_flows")
        .fetch_one(&site.app.pool)
        .await
        .unwrap();
    assert_eq!(row_token, 1);
    assert!(
        value.len() > 60,
        "the value is encrypted, not the raw token"
    );

    let https = Site::start(&[("KEYSTEAD_PUBLIC_URL", "https://login.example.test")]).await;
    let res = https
        .http
        .get(format!(
            "{}{}",
            https.server.base_url,
            https.authorize_path(&[])
        ))
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
}

#[tokio::test]
async fn cross_site_posts_stale_forms_and_lost_flows_are_refused() {
    let site = Site::start(&[]).await;
    site.user("csrf@example.com", true).await;
    let mut b = site.browser();
    let start = b.authorize(&site, &[]).await;
    let csrf = b.get(&start).await.csrf();
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("email", "csrf@example.com"),
        ("password", PASSWORD),
    ];

    // A cross-site form post (what a browser sends from another origin).
    let cross = site
        .http
        .post(format!("{}/authkit/sign-in", site.server.base_url))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    assert!(cross.text().await.unwrap().contains("another site"));

    // A same-origin post with a wrong CSRF token.
    let stale = b
        .post(
            &start,
            &[
                ("csrf_token", "0000"),
                ("email", "csrf@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);

    // Not a form.
    let json = site
        .http
        .post(format!("{}/authkit/sign-in", site.server.base_url))
        .json(&serde_json::json!({"email": "csrf@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::BAD_REQUEST);

    // Without the cookie the flow is gone.
    b.clear_cookies();
    let lost = b.post(&start, &fields).await;
    assert_eq!(lost.status, StatusCode::BAD_REQUEST);
    assert!(lost.body.contains("expired"), "{}", lost.body);
    assert!(lost.headers.get("location").is_none());
}

#[tokio::test]
async fn password_guessing_on_the_page_is_rate_limited() {
    let site = Site::start(&[("KEYSTEAD_RATE_LIMITS", "authenticate_email=3/60")]).await;
    site.user("guess@example.com", true).await;
    let mut b = site.browser();
    let start = b.authorize(&site, &[]).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let res = b
            .submit(
                &start,
                &[("email", "guess@example.com"), ("password", "wrong guess!")],
            )
            .await;
        statuses.push(res.status);
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.body.contains("Too many attempts"), "{}", res.body);
        }
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

#[tokio::test]
async fn ten_wrong_codes_end_the_flow() {
    let site = Site::start(&[("KEYSTEAD_RATE_LIMITS", "authenticate_ip=100/60")]).await;
    let user = site.user("cap@example.com", true).await;
    site.totp_factor(user["id"].as_str().unwrap()).await;
    let mut b = site.browser();
    let start = b.authorize(&site, &[]).await;
    let mfa = b
        .submit(
            &start,
            &[("email", "cap@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(mfa.location(), "/authkit/mfa");
    let csrf = b.get("/authkit/mfa").await.csrf();
    for _ in 0..10 {
        let res = b
            .post("/authkit/mfa", &[("csrf_token", &csrf), ("code", "000000")])
            .await;
        assert!(res.status == StatusCode::BAD_REQUEST || res.status == StatusCode::SEE_OTHER);
    }
    let gone = b.get("/authkit/mfa").await;
    assert_eq!(gone.status, StatusCode::BAD_REQUEST, "{}", gone.body);
    assert!(gone.body.contains("expired"));
}

#[tokio::test]
async fn request_values_are_escaped_on_the_pages() {
    let site = Site::start(&[]).await;
    let mut b = site.browser();
    let hint = "\"><script>alert(1)</script>";
    let start = b.authorize(&site, &[("login_hint", hint)]).await;
    let page = b.get(&start).await;
    assert!(!page.body.contains("<script>"), "{}", page.body);
    assert!(page.body.contains("&#60;script&#62;"), "{}", page.body);
    let taken = b
        .submit("/authkit/magic-code", &[("email", "a<b@example.com")])
        .await;
    assert_eq!(taken.status, StatusCode::BAD_REQUEST);
    assert!(taken.body.contains("Enter a valid email address."));
    assert!(!taken.body.contains("a<b@"));
}
