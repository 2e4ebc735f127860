//! Bad input to the SCIM server (RFC 7644 §3.12): a NUL character in a body (`\u0000`), a query
//! (`%00`) or a path id answers SCIM's error shape (400 `invalidValue`, or the 404 of an unknown
//! id), never WorkOS's JSON and never a 500; over-long strings answer 400 `invalidValue` and
//! write nothing.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::directories::{Dir, new_directory, scim};
use crate::support::{TestApp, TestResponse};

const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

fn assert_scim_error(res: &TestResponse, status: StatusCode, scim_type: Option<&str>) {
    assert_eq!(res.status, status, "{}", res.text);
    assert_eq!(res.body["schemas"], json!([ERROR_SCHEMA]), "{}", res.text);
    assert_eq!(
        res.body["status"],
        status.as_u16().to_string(),
        "{}",
        res.text
    );
    if let Some(t) = scim_type {
        assert_eq!(res.body["scimType"], t, "{}", res.text);
    }
    assert!(res.body["detail"].is_string(), "{}", res.text);
    assert_eq!(
        res.headers["content-type"], "application/scim+json",
        "{}",
        res.text
    );
}

async fn rows(app: &TestApp) -> (i64, i64) {
    let users: i64 = sqlx::query_scalar("select count(*) from directory_users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let groups: i64 = sqlx::query_scalar("select count(*) from directory_groups")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    (users, groups)
}

async fn create_user(app: &TestApp, dir: &Dir) -> String {
    let res = scim(
        app,
        dir,
        Method::POST,
        "/Users",
        Some(json!({"userName": "ada@a.io", "emails": [{"value": "ada@a.io", "primary": true}]})),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_nul_character_answers_scims_error_shape() {
    let app = TestApp::new().await;
    let dir = new_directory(&app, "generic scim v2.0").await;
    let user = create_user(&app, &dir).await;
    let before = rows(&app).await;

    let bodies: [(Method, String, Value); 7] = [
        (
            Method::POST,
            "/Users".into(),
            json!({"userName": "a\u{0}b"}),
        ),
        (
            Method::POST,
            "/Users".into(),
            json!({"userName": "b@a.io", "name": {"givenName\u{0}": "B"}}),
        ),
        (
            Method::POST,
            "/Groups".into(),
            json!({"displayName": "Eng\u{0}"}),
        ),
        (
            Method::PUT,
            format!("/Users/{user}"),
            json!({"userName": "ada@a.io", "displayName": "\u{0}"}),
        ),
        (
            Method::PATCH,
            format!("/Users/{user}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": "displayName", "value": "x\u{0}"}]}),
        ),
        (
            Method::POST,
            "/Users/.search".into(),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "filter": "userName eq \"a\u{0}\""}),
        ),
        (
            Method::POST,
            "/Groups/.search".into(),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "attributes": ["displayName\u{0}"]}),
        ),
    ];
    for (method, path, body) in bodies {
        let res = scim(&app, &dir, method.clone(), &path, Some(body)).await;
        assert_scim_error(&res, StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert!(
            res.body["detail"].as_str().unwrap().contains("NUL"),
            "{method} {path}"
        );
    }

    for path in [
        "/Users?filter=userName%20eq%20%22a%00%22",
        "/Groups?attributes=%00",
        "/Users?count%00=1",
        &format!("/Users/{user}?excludedAttributes=emails%00"),
    ] {
        let res = scim(&app, &dir, Method::GET, path, None).await;
        assert_scim_error(&res, StatusCode::BAD_REQUEST, Some("invalidValue"));
    }

    // A path id with a NUL names no resource: SCIM's 404.
    for (method, path) in [
        (Method::GET, format!("/Users/{user}%00")),
        (Method::GET, "/Groups/%00".to_string()),
        (Method::DELETE, format!("/Users/{user}%00")),
        (Method::GET, "/Schemas/%00".to_string()),
        (Method::GET, "/ResourceTypes/User%00".to_string()),
        // Nor does one that is not UTF-8.
        (Method::GET, "/Users/%FF".to_string()),
        (Method::DELETE, "/Groups/%C3".to_string()),
        (Method::GET, "/Schemas/%FF".to_string()),
    ] {
        let res = scim(&app, &dir, method.clone(), &path, None).await;
        assert_scim_error(&res, StatusCode::NOT_FOUND, None);
    }
    let res = scim(
        &app,
        &dir,
        Method::PUT,
        &format!("/Users/{user}%00"),
        Some(json!({"userName": "ada@a.io"})),
    )
    .await;
    assert_scim_error(&res, StatusCode::NOT_FOUND, None);

    assert_eq!(rows(&app).await, before, "nothing was written");
    let res = scim(&app, &dir, Method::GET, &format!("/Users/{user}"), None).await;
    assert_eq!(res.body["userName"], "ada@a.io");
}

#[tokio::test]
async fn over_long_scim_strings_answer_400_and_write_nothing() {
    let app = TestApp::new().await;
    let dir = new_directory(&app, "generic scim v2.0").await;
    let user = create_user(&app, &dir).await;
    let before = rows(&app).await;
    // Past the b-tree row limit even compressed (PostgreSQL would answer an error, a 500).
    let long: String = (0..4000u32)
        .map(|i| char::from(b'a' + (i.wrapping_mul(2_654_435_761) >> 27) as u8 % 26))
        .collect();
    let bodies: [(Method, String, Value); 5] = [
        (
            Method::POST,
            "/Users".into(),
            json!({"userName": format!("{long}@a.io")}),
        ),
        (
            Method::POST,
            "/Users".into(),
            json!({"userName": "b@a.io", "externalId": long}),
        ),
        (Method::POST, "/Groups".into(), json!({"displayName": long})),
        (
            Method::POST,
            "/Groups".into(),
            json!({"displayName": "Eng", "externalId": long}),
        ),
        (
            Method::PATCH,
            format!("/Users/{user}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": "userName", "value": long}]}),
        ),
    ];
    for (method, path, body) in bodies {
        let res = scim(&app, &dir, method.clone(), &path, Some(body)).await;
        assert_scim_error(&res, StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    let res = scim(
        &app,
        &dir,
        Method::GET,
        &format!("/Users?filter=userName%20eq%20%22{long}%22"),
        None,
    )
    .await;
    assert!(
        res.status.is_client_error() || res.status == StatusCode::OK,
        "{}",
        res.text
    );
    assert_eq!(rows(&app).await, before, "nothing was written");

    // At the limit (512 characters, not bytes) a userName is kept.
    let at_limit = format!("{}@a.io", "é".repeat(507));
    let res = scim(
        &app,
        &dir,
        Method::POST,
        "/Users",
        Some(json!({"userName": at_limit})),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["userName"], at_limit);
}
