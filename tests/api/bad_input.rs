//! Bad input is never a 500: a NUL character (`\u0000` in JSON strings and keys, `%00` in a
//! form, query or path) is refused where the request is read, in the route's dialect, and a
//! connection-level database failure answers 503 with `Retry-After`.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};
use crate::um::{org, user};

/// What a refused request must answer.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// 422 `invalid_request_parameters` with `errors[0].field`.
    Field(&'static str),
    /// 400 `{error: "invalid_request", error_description}`.
    OAuth,
    /// The route's 404 for an unknown id or key: `{message: "<Entity> not found: …"}`.
    NotFound(&'static str),
}

/// How a case's body is sent.
#[derive(Debug, Clone)]
enum Payload {
    None,
    Json(Value),
    Form(&'static str),
}

struct Case {
    method: Method,
    path: String,
    api_key: bool,
    payload: Payload,
    origin: Option<&'static str>,
    expect: Expect,
}

fn case(method: Method, path: impl Into<String>, api_key: bool, expect: Expect) -> Case {
    Case {
        method,
        path: path.into(),
        api_key,
        payload: Payload::None,
        origin: None,
        expect,
    }
}

fn json_case(path: &str, api_key: bool, body: Value, expect: Expect) -> Case {
    Case {
        payload: Payload::Json(body),
        ..case(Method::POST, path, api_key, expect)
    }
}

async fn send(app: &TestApp, c: &Case) -> TestResponse {
    let mut req = Request::builder().method(c.method.clone()).uri(&c.path);
    if c.api_key {
        req = req.header("authorization", format!("Bearer {}", app.tenant.api_key));
    }
    if let Some(origin) = c.origin {
        req = req.header("origin", origin);
    }
    let req = match &c.payload {
        Payload::None => req.body(Body::empty()),
        Payload::Json(v) => req
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(v).unwrap())),
        Payload::Form(f) => req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(*f)),
    };
    app.send_request(req.unwrap()).await
}

#[tokio::test]
async fn nul_characters_are_refused_in_the_route_dialect_never_a_500() {
    let app = TestApp::new().await;
    let client = app.tenant.client_id.clone();
    let secret = app.tenant.api_key.clone();
    let o = org(&app, "Acme").await;
    let u = user(&app, "ada@example.com", true).await;
    let (org_id, user_id) = (o["id"].as_str().unwrap(), u["id"].as_str().unwrap());
    let nul = "a\u{0}b";

    let cases = vec![
        // The unauthenticated routes.
        case(
            Method::GET,
            format!(
                "/sso/authorize?client_id={client}&redirect_uri=https://a.test/cb&response_type=code&state=%00"
            ),
            false,
            Expect::OAuth,
        ),
        case(
            Method::GET,
            "/sso/authorize?client_id=%00",
            false,
            Expect::OAuth,
        ),
        case(
            Method::GET,
            format!(
                "/user_management/authorize?client_id={client}&redirect_uri=https://a.test/%00&response_type=code"
            ),
            false,
            Expect::OAuth,
        ),
        case(
            Method::GET,
            "/sso/jwks/client_%00",
            false,
            Expect::NotFound("Client"),
        ),
        case(
            Method::GET,
            "/sso/saml/metadata/conn_%00",
            false,
            Expect::NotFound("Connection"),
        ),
        case(
            Method::GET,
            "/user_management/sessions/logout?session_id=session_%00",
            false,
            Expect::Field("session_id"),
        ),
        json_case(
            "/user_management/authorize/device",
            false,
            json!({"client_id": nul}),
            Expect::OAuth,
        ),
        Case {
            origin: Some("https://app.example.test"),
            ..json_case(
                "/user_management/authorize/device",
                false,
                json!({"client_id": nul}),
                Expect::OAuth,
            )
        },
        json_case(
            "/user_management/authenticate",
            false,
            json!({"client_id": client, "client_secret": secret, "grant_type": "password",
                   "email": "ada@example.com", "password": nul}),
            Expect::OAuth,
        ),
        json_case(
            "/user_management/authenticate",
            false,
            json!({"client_id": nul, "grant_type": "refresh_token", "refresh_token": "x"}),
            Expect::OAuth,
        ),
        Case {
            payload: Payload::Form("grant_type=authorization_code&client_id=client%00&code=x"),
            origin: Some("https://app.example.test"),
            ..case(
                Method::POST,
                "/user_management/authenticate",
                false,
                Expect::OAuth,
            )
        },
        json_case(
            "/sso/token",
            false,
            json!({"client_id": client, "client_secret": secret,
                   "grant_type": "authorization_code", "code": nul}),
            Expect::OAuth,
        ),
        Case {
            payload: Payload::Form(
                "client_id=x&client_secret=y&grant_type=authorization_code&code=%00",
            ),
            ..case(Method::POST, "/sso/token", false, Expect::OAuth)
        },
        case(
            Method::POST,
            "/sso/token?client_id=%00&grant_type=authorization_code",
            false,
            Expect::OAuth,
        ),
        // A sample of the API-key routes: bodies (strings, nested metadata values and keys,
        // arrays), queries and paths.
        json_case(
            "/organizations",
            true,
            json!({"name": nul}),
            Expect::Field("name"),
        ),
        json_case(
            "/organizations",
            true,
            json!({"name": "Ok", "metadata": {"tier": nul}}),
            Expect::Field("metadata.tier"),
        ),
        json_case(
            "/organizations",
            true,
            json!({"name": "Ok", "metadata": {"ti\u{0}er": "gold"}}),
            Expect::Field("metadata.ti\\u0000er"),
        ),
        json_case(
            "/organizations",
            true,
            json!({"name": "Ok", "domain_data": [{"domain": "a.test", "state": "verified"},
                                                 {"domain": nul, "state": "verified"}]}),
            Expect::Field("domain_data[1].domain"),
        ),
        Case {
            method: Method::PUT,
            ..json_case(
                &format!("/organizations/{org_id}"),
                true,
                json!({"name": nul}),
                Expect::Field("name"),
            )
        },
        json_case(
            "/user_management/users",
            true,
            json!({"email": "n\u{0}@example.com"}),
            Expect::Field("email"),
        ),
        Case {
            method: Method::PUT,
            ..json_case(
                &format!("/user_management/users/{user_id}"),
                true,
                json!({"metadata": {"k": nul}}),
                Expect::Field("metadata.k"),
            )
        },
        json_case(
            "/user_management/magic_auth",
            true,
            json!({"email": "ada@example.com", "invitation_token": nul}),
            Expect::Field("invitation_token"),
        ),
        json_case(
            "/user_management/organization_memberships",
            true,
            json!({"user_id": user_id, "organization_id": format!("{org_id}\u{0}")}),
            Expect::Field("organization_id"),
        ),
        case(
            Method::GET,
            "/organizations?after=%00",
            true,
            Expect::Field("after"),
        ),
        case(
            Method::GET,
            "/user_management/users?email=a%00@example.com",
            true,
            Expect::Field("email"),
        ),
        case(
            Method::GET,
            "/events?events=%00",
            true,
            Expect::Field("events"),
        ),
        case(
            Method::GET,
            "/organizations/org_%00",
            true,
            Expect::NotFound("Organization"),
        ),
        case(
            Method::GET,
            "/user_management/users/user_01%00",
            true,
            Expect::NotFound("User"),
        ),
        case(
            Method::GET,
            "/organizations/external_id/x%00",
            true,
            Expect::NotFound("Organization"),
        ),
        case(
            Method::GET,
            "/user_management/users/external_id/x%00",
            true,
            Expect::NotFound("User"),
        ),
        case(
            Method::GET,
            "/user_management/invitations/by_token/t%00",
            true,
            Expect::NotFound("Invitation"),
        ),
        case(
            Method::GET,
            "/authorization/roles/a%00",
            true,
            Expect::NotFound("Role"),
        ),
    ];

    for c in &cases {
        let res = send(&app, c).await;
        let what = format!("{} {} → {} {}", c.method, c.path, res.status, res.text);
        assert!(!res.status.is_server_error(), "{what}");
        match c.expect {
            Expect::Field(field) => {
                assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}");
                assert_eq!(res.body["code"], "invalid_request_parameters", "{what}");
                assert_eq!(
                    res.body["errors"][0],
                    json!({"code": "invalid", "field": field}),
                    "{what}"
                );
                assert!(
                    res.body["message"].as_str().unwrap().contains("NUL"),
                    "{what}"
                );
            }
            Expect::OAuth => {
                assert_eq!(res.status, StatusCode::BAD_REQUEST, "{what}");
                assert_eq!(res.body["error"], "invalid_request", "{what}");
                assert!(
                    res.body["error_description"]
                        .as_str()
                        .unwrap()
                        .contains("NUL"),
                    "{what}"
                );
            }
            Expect::NotFound(entity) => {
                assert_eq!(res.status, StatusCode::NOT_FOUND, "{what}");
                let message = res.body["message"].as_str().unwrap();
                assert!(
                    message.starts_with(&format!("{entity} not found: ")),
                    "{what}"
                );
            }
        }
    }

    // Nothing was written by a refused request.
    let names = app.event_names().await;
    assert_eq!(names, ["organization.created", "user.created"], "{names:?}");
}

#[tokio::test]
async fn a_malformed_path_id_with_nul_answers_like_an_unknown_one() {
    let app = TestApp::new().await;
    let unknown = app.get("/organizations/org_unknown").await;
    let nul = app.get("/organizations/org_unknown%00").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(nul.status, StatusCode::NOT_FOUND);
    assert_eq!(
        nul.body["message"],
        "Organization not found: 'org_unknown\u{0}'."
    );
}

/// The real router over a pool whose database cannot be reached (nothing listens on port 1).
fn router_without_database() -> axum::Router {
    use std::sync::Arc;

    let options = sqlx::postgres::PgConnectOptions::new()
        .host("127.0.0.1")
        .port(1)
        .username("keystead")
        .database("keystead");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(2))
        .connect_lazy_with(options);
    let state = keystead::state::AppState::new(
        pool,
        keystead::crypto::vault::Vault::new(&[7; 32]),
        keystead::settings::Settings::for_tests("http://keystead.test"),
        Arc::new(keystead::dns::StaticResolver::default()),
        keystead::password::Hasher::new(2),
    )
    .unwrap();
    keystead::app::router(state)
}

#[tokio::test]
async fn an_unreachable_database_is_a_503_with_retry_after() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let router = router_without_database();
    let requests = [
        Request::get("/organizations")
            .header("authorization", "Bearer sk_test_unknown")
            .body(Body::empty()),
        Request::post("/user_management/authorize/device")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"client_id": "client_x"}"#)),
        Request::get("/sso/jwks/client_x").body(Body::empty()),
    ];
    for req in requests {
        let req = req.unwrap();
        let what = format!("{} {}", req.method(), req.uri());
        let res = router.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
        assert_eq!(res.headers()["retry-after"], "1", "{what}");
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["code"], "service_unavailable", "{what}: {body}");
        assert!(body["message"].is_string(), "{what}: {body}");
    }
}

#[tokio::test]
async fn a_hosted_page_form_with_nul_is_a_400_page() {
    let app = TestApp::new().await;
    for body in [
        "csrf_token=x&email=ada%00@example.com&password=p",
        "csrf_token=x&email=ada@example.com&password=p&ext%00ra=1",
    ] {
        let req = Request::post("/authkit/sign-in")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let res = app.send_request(req).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.text);
        assert!(res.text.contains("not allowed"), "{body}: {}", res.text);
    }
}

/// Every operation of `openapi.yaml`, with and without the API key: path parameters `x%00`, a
/// query of `%00` values, and a JSON body whose common fields (and a metadata key) hold NUL.
#[tokio::test]
async fn no_route_of_the_openapi_answers_nul_with_a_5xx() {
    let app = TestApp::new().await;
    let spec: Value =
        yaml_serde::from_str(&std::fs::read_to_string("openapi.yaml").unwrap()).unwrap();
    let body = json!({
        "name": "\u{0}", "email": "a\u{0}@example.com", "client_id": "\u{0}",
        "grant_type": "\u{0}", "code": "\u{0}", "organization_id": "org_\u{0}",
        "user_id": "user_\u{0}", "url": "https://a.test/\u{0}", "metadata": {"a\u{0}": "b"}
    });
    let (mut sent, mut server_errors) = (0, Vec::new());
    for (path, operations) in spec["paths"].as_object().unwrap() {
        let with_nul: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x%00" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let plain = path.replace(['{', '}'], "");
        for method in operations.as_object().unwrap().keys() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            if !matches!(
                method,
                Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE
            ) {
                continue;
            }
            let mut variants = vec![(format!("{plain}?q=%00&client_id=%00&email=%00"), None)];
            variants.push((plain.clone(), Some(body.clone())));
            if path.contains('{') {
                variants.push((with_nul.clone(), None));
            }
            for (uri, payload) in variants {
                for api_key in [true, false] {
                    let c = Case {
                        method: method.clone(),
                        path: uri.clone(),
                        api_key,
                        payload: payload.clone().map_or(Payload::None, Payload::Json),
                        origin: None,
                        expect: Expect::OAuth,
                    };
                    let res = send(&app, &c).await;
                    sent += 1;
                    if res.status.is_server_error() {
                        server_errors
                            .push(format!("{method} {uri} (key: {api_key}) → {}", res.status));
                    }
                }
            }
        }
    }
    assert!(sent > 500, "the spec lists the routes ({sent} requests)");
    assert!(server_errors.is_empty(), "{}", server_errors.join("\n"));
}
