//! SCIM protocol behaviour beyond the IdP runs: filters, paging, projection, ETags, errors,
//! discovery; and scim2-tester (a third-party compliance checker) against a live directory.

use axum::http::{Method, StatusCode};
use keystead::state::AppState;
use serde_json::{Value, json};

use crate::directories::{new_directory, scim};
use crate::support::TestApp;

#[tokio::test]
async fn filters_paging_projection_etags_and_errors() {
    let app = TestApp::new().await;
    let dir = new_directory(&app, "generic scim v2.0").await;
    for (i, (user, dept, active)) in [
        ("alice@a.io", "Eng", true),
        ("bob@b.io", "Ops", false),
        ("carol@a.io", "Eng", true),
    ]
    .into_iter()
    .enumerate()
    {
        let res = scim(
            &app,
            &dir,
            Method::POST,
            "/Users",
            Some(json!({
                "userName": user, "externalId": format!("x{i}"), "active": active,
                "emails": [{"value": user, "type": if i == 1 { "home" } else { "work" }}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": dept}
            })),
        )
        .await;
        assert_eq!(res.status, StatusCode::CREATED);
        assert!(
            res.headers["location"]
                .to_str()
                .unwrap()
                .ends_with(res.body["id"].as_str().unwrap())
        );
    }
    let count = |res: &crate::support::TestResponse| res.body["totalResults"].as_i64().unwrap();
    let q = |f: &str| {
        format!(
            "/Users?filter={}",
            url::form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>()
        )
    };
    for (filter, n) in [
        (r#"userName eq "ALICE@a.io""#, 1),
        (r#"userName ne "alice@a.io""#, 2),
        (r#"userName co "@a.""#, 2),
        (r#"userName sw "b""#, 1),
        (r#"userName ew ".io""#, 3),
        ("title pr", 0),
        ("externalId pr", 3),
        (r#"externalId gt "x0""#, 2),
        (r#"externalId le "x1""#, 2),
        (r#"active eq true and userName ew "a.io""#, 2),
        (r#"active eq false or userName eq "alice@a.io""#, 2),
        (r#"not (active eq true)"#, 1),
        (r#"emails[type eq "work"]"#, 2),
        (r#"emails[type eq "work" and value co "carol"]"#, 1),
        (r#"emails.value eq "bob@b.io""#, 1),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Eng""#,
            2,
        ),
        (r#"meta.lastModified gt "2000-01-01T00:00:00Z""#, 3),
        (r#"meta.lastModified lt "2000-01-01T00:00:00Z""#, 0),
    ] {
        let res = scim(&app, &dir, Method::GET, &q(filter), None).await;
        assert_eq!(res.status, StatusCode::OK, "{filter}: {}", res.text);
        assert_eq!(count(&res), n, "{filter}");
        assert_eq!(res.body["itemsPerPage"].as_i64().unwrap(), n.min(100));
    }
    let bad = scim(&app, &dir, Method::GET, &q("userName eq"), None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["scimType"], "invalidFilter");
    assert_eq!(bad.body["status"], "400");
    assert_eq!(bad.headers["content-type"], "application/scim+json");

    let page = scim(&app, &dir, Method::GET, "/Users?startIndex=2&count=1", None).await;
    assert_eq!(
        (
            count(&page),
            page.body["startIndex"].as_i64(),
            page.body["itemsPerPage"].as_i64()
        ),
        (3, Some(2), Some(1))
    );
    assert_eq!(page.body["Resources"][0]["userName"], "bob@b.io");
    let none = scim(&app, &dir, Method::GET, "/Users?count=0", None).await;
    assert_eq!(
        (count(&none), none.body["itemsPerPage"].as_i64()),
        (3, Some(0))
    );
    let past = scim(&app, &dir, Method::GET, "/Users?startIndex=10", None).await;
    assert_eq!(past.body["Resources"], json!([]));
    let search = scim(
        &app,
        &dir,
        Method::POST,
        "/Users/.search",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName sw \"c\"", "attributes": ["userName"], "startIndex": 1, "count": 10
        })),
    )
    .await;
    assert_eq!(search.status, StatusCode::OK, "{}", search.text);
    let r = &search.body["Resources"][0];
    assert_eq!(r["userName"], "carol@a.io");
    assert!(r.get("emails").is_none() && r["id"].is_string());
    let lean = scim(
        &app,
        &dir,
        Method::GET,
        "/Users?excludedAttributes=emails,meta",
        None,
    )
    .await;
    assert!(lean.body["Resources"][0].get("emails").is_none());

    // ETags and If-Match.
    let id = page.body["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let got = scim(&app, &dir, Method::GET, &format!("/Users/{id}"), None).await;
    let etag = got.headers["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, got.body["meta"]["version"]);
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "title", "value": "X"}]});
    let mut req = axum::http::Request::builder()
        .method(Method::PATCH)
        .uri(format!("{}/Users/{id}", dir.base))
        .header("authorization", format!("Bearer {}", dir.token))
        .header("if-match", "W/\"999\"")
        .body(axum::body::Body::from(patch.to_string()))
        .unwrap();
    assert_eq!(
        app.send_request(req).await.status,
        StatusCode::PRECONDITION_FAILED
    );
    req = axum::http::Request::builder()
        .method(Method::PATCH)
        .uri(format!("{}/Users/{id}", dir.base))
        .header("authorization", format!("Bearer {}", dir.token))
        .header("if-match", &etag)
        .body(axum::body::Body::from(patch.to_string()))
        .unwrap();
    let res = app.send_request(req).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_ne!(res.headers["etag"].to_str().unwrap(), etag);

    // Errors.
    for (method, path, body, status, scim_type) in [
        (
            Method::POST,
            "/Users",
            Some(json!({"displayName": "no userName"})),
            400,
            Some("invalidValue"),
        ),
        (
            Method::POST,
            "/Users",
            Some(json!({"userName": "x", "active": "maybe"})),
            400,
            Some("invalidValue"),
        ),
        (
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "G", "members": [{"value": "directory_user_nope"}]})),
            400,
            Some("invalidValue"),
        ),
        (
            Method::PATCH,
            "/Users/directory_user_nope",
            Some(patch.clone()),
            404,
            None,
        ),
        (
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"Operations": [{"op": "remove"}]})),
            400,
            Some("noTarget"),
        ),
        (
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"Operations": [{"op": "explode", "path": "x"}]})),
            400,
            Some("invalidSyntax"),
        ),
        (
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"Operations": [{"op": "add", "path": "emails[type eq", "value": 1}]})),
            400,
            Some("invalidPath"),
        ),
        (
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"Operations": [{"op": "remove", "path": "userName"}]})),
            400,
            Some("invalidValue"),
        ),
        (Method::GET, "/Bulk", None, 404, None),
    ] {
        let res = scim(&app, &dir, method, path, body).await;
        assert_eq!(res.status.as_u16(), status, "{path}: {}", res.text);
        assert_eq!(res.body["scimType"].as_str(), scim_type, "{path}");
        assert_eq!(
            res.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
    }
    let res = app
        .send_request(
            axum::http::Request::builder()
                .method(Method::POST)
                .uri(format!("{}/Users", dir.base))
                .header("authorization", format!("Bearer {}", dir.token))
                .body(axum::body::Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(res.body["scimType"], "invalidSyntax");
    // Another directory's token does not open this one; nor does an API key.
    let other = new_directory(&app, "generic scim v2.0").await;
    let crossed = crate::directories::Dir {
        token: other.token.clone(),
        ..new_directory(&app, "generic scim v2.0").await
    };
    assert_eq!(
        scim(&app, &crossed, Method::GET, "/Users", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let with_key = crate::directories::Dir {
        token: app.tenant.api_key.clone(),
        ..other
    };
    assert_eq!(
        scim(&app, &with_key, Method::GET, "/Users", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn discovery_endpoints_describe_users_groups_and_the_enterprise_extension() {
    let app = TestApp::new().await;
    let dir = new_directory(&app, "generic scim v2.0").await;
    let spc = scim(&app, &dir, Method::GET, "/ServiceProviderConfig", None)
        .await
        .body;
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["filter"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(spc["etag"]["supported"], true);
    let types = scim(&app, &dir, Method::GET, "/ResourceTypes", None)
        .await
        .body;
    assert_eq!(types["totalResults"], 2);
    let user = scim(&app, &dir, Method::GET, "/ResourceTypes/User", None)
        .await
        .body;
    assert_eq!(
        user["schemaExtensions"][0]["schema"],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
    let schemas = scim(&app, &dir, Method::GET, "/Schemas", None).await.body;
    let ids: Vec<&Value> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["id"])
        .collect();
    assert_eq!(ids.len(), 3);
    let group = scim(
        &app,
        &dir,
        Method::GET,
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group",
        None,
    )
    .await;
    assert_eq!(group.status, StatusCode::OK);
    assert_eq!(group.body["attributes"][0]["name"], "displayName");
    assert_eq!(
        scim(&app, &dir, Method::GET, "/Schemas/nope", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn scim2_tester_passes_against_a_live_directory() {
    if crate::support::skip("KEYSTEAD_SKIP_SCIM2_TESTER", "scim2-tester") {
        return;
    }
    let app = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut settings = app.state.settings.clone();
    settings.public_url = format!("http://{addr}");
    let state = AppState::new(
        app.pool.clone(),
        app.state.vault.clone(),
        settings,
        app.state.dns.clone(),
        keystead::password::Hasher::new(1),
    )
    .expect("state");
    let router = keystead::app::router(state);
    tokio::spawn(async move { axum::serve(listener, router).await });
    let dir = new_directory(&app, "generic scim v2.0").await;
    let url = format!("http://{addr}/scim/v2/{}", dir.id);
    let script = format!(
        "{}/tests/scim/run-scim2-tester.sh",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = tokio::process::Command::new("bash")
        .arg(script)
        .arg(&url)
        .arg(&dir.token)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "scim2-tester failed (set KEYSTEAD_SKIP_SCIM2_TESTER=1 to skip):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
