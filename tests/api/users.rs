//! `/user_management/users`: CRUD, password import, filters, events, tenancy.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn creating_a_user_returns_the_userland_user_shape_without_secrets() {
    let app = TestApp::new().await;
    let res = app
        .post(
            "/user_management/users",
            &json!({"email": "Ada@Example.com", "password": "correct horse battery", "first_name": "Ada", "metadata": {"team": "a"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let u = &res.body;
    assert_eq!(u["object"], "user");
    assert!(u["id"].as_str().unwrap().starts_with("user_01"));
    assert_eq!(u["email"], "ada@example.com");
    assert_eq!(u["email_verified"], false);
    assert_eq!(u["first_name"], "Ada");
    for key in [
        "last_name",
        "profile_picture_url",
        "external_id",
        "last_sign_in_at",
    ] {
        assert!(
            u.as_object().unwrap().contains_key(key),
            "{key} must be present"
        );
        assert!(u[key].is_null(), "{key} must be null");
    }
    assert_eq!(u["metadata"], json!({"team": "a"}));
    assert!(
        !res.text.contains("password"),
        "no password material in responses"
    );
    let stored: String = sqlx::query_scalar("select password_hash from users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!stored.contains("correct horse"));
    assert_eq!(app.event_names().await, ["user.created"]);
}

#[tokio::test]
async fn get_update_and_delete_a_user() {
    let app = TestApp::new().await;
    let u = app
        .post(
            "/user_management/users",
            &json!({"email": "a@b.co", "external_id": "u-1", "last_name": "L"}),
        )
        .await
        .body;
    let id = u["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/user_management/users/{id}")).await.body["email"],
        "a@b.co"
    );
    assert_eq!(
        app.get("/user_management/users/external_id/u-1").await.body["id"],
        id
    );

    let res = app
        .put(&format!("/user_management/users/{id}"), &json!({"first_name": "F", "last_name": null, "email_verified": true, "email": "New@B.co"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["first_name"], "F");
    assert!(res.body["last_name"].is_null());
    assert_eq!(res.body["email_verified"], true);
    assert_eq!(res.body["email"], "new@b.co");
    assert_eq!(res.body["external_id"], "u-1", "absent keys stay unchanged");

    let del = app.delete(&format!("/user_management/users/{id}")).await;
    assert_eq!(del.status, StatusCode::OK);
    assert_eq!(
        app.get(&format!("/user_management/users/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.event_names().await,
        ["user.created", "user.updated", "user.deleted"]
    );
}

#[tokio::test]
async fn user_errors_are_workos_shaped_and_write_nothing() {
    let app = TestApp::new().await;
    let cases = [
        (
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request_parameters",
        ),
        (
            json!({"email": "not-an-email"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request_parameters",
        ),
        (
            json!({"email": "a@b.co", "password": "short"}),
            StatusCode::BAD_REQUEST,
            "password_strength_error",
        ),
        (
            json!({"email": "a@b.co", "password": "long enough pw", "password_hash": "$2b$10$x", "password_hash_type": "bcrypt"}),
            StatusCode::BAD_REQUEST,
            "password_and_password_hash_provided",
        ),
        (
            json!({"email": "a@b.co", "password_hash": "$2b$10$x"}),
            StatusCode::BAD_REQUEST,
            "invalid_password_hash",
        ),
        (
            json!({"email": "a@b.co", "password_hash": "x", "password_hash_type": "md5"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request_parameters",
        ),
    ];
    for (body, status, code) in cases {
        let res = app.post("/user_management/users", &body).await;
        assert_eq!(res.status, status, "{body} → {}", res.text);
        assert_eq!(res.body["code"], code, "{body}");
    }
    assert!(app.event_names().await.is_empty());

    app.post("/user_management/users", &json!({"email": "a@b.co"}))
        .await;
    let dup = app
        .post("/user_management/users", &json!({"email": "A@B.CO"}))
        .await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);
    assert_eq!(dup.body["code"], "user_creation_error");
    assert_eq!(dup.body["errors"][0]["code"], "email_not_available");

    assert_eq!(
        app.get("/user_management/users/user_nope").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.put(
            "/user_management/users/user_nope",
            &json!({"first_name": "x"})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete("/user_management/users/user_nope").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/user_management/users/external_id/nope")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn users_are_listed_with_email_and_organization_filters() {
    let app = TestApp::new().await;
    let a = app
        .post("/user_management/users", &json!({"email": "a@x.co"}))
        .await
        .body;
    app.post("/user_management/users", &json!({"email": "b@x.co"}))
        .await;
    let org = app.post("/organizations", &json!({"name": "O"})).await.body;
    sqlx::query("insert into organization_memberships (id, environment_id, user_id, organization_id) values ('om_1', $1, $2, $3)")
        .bind(&app.tenant.environment_id)
        .bind(a["id"].as_str().unwrap())
        .bind(org["id"].as_str().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let all = app.get("/user_management/users").await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(all.body["data"][0]["email"], "b@x.co", "newest first");
    let by_email = app.get("/user_management/users?email=A@X.CO").await;
    assert_eq!(by_email.body["data"].as_array().unwrap().len(), 1);
    let by_org = app
        .get(&format!(
            "/user_management/users?organization_id={}",
            org["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(by_org.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(by_org.body["data"][0]["id"], a["id"]);
    let page = app.get("/user_management/users?limit=1").await;
    assert_eq!(
        page.body["list_metadata"]["after"],
        page.body["data"][0]["id"]
    );
}

#[tokio::test]
async fn another_environments_user_is_invisible() {
    let app = TestApp::new().await;
    let other = app.new_tenant("Other").await;
    let u = app
        .post(
            "/user_management/users",
            &json!({"email": "a@b.co", "external_id": "x"}),
        )
        .await
        .body;
    let id = u["id"].as_str().unwrap();
    let key = Some(other.api_key.as_str());
    for (method, path) in [
        (Method::GET, format!("/user_management/users/{id}")),
        (Method::DELETE, format!("/user_management/users/{id}")),
        (
            Method::GET,
            "/user_management/users/external_id/x".to_string(),
        ),
        (Method::GET, format!("/user_management/users/{id}/sessions")),
    ] {
        assert_eq!(
            app.send(method.clone(), &path, key, None).await.status,
            StatusCode::NOT_FOUND,
            "{method} {path}"
        );
    }
    let put = app
        .send(
            Method::PUT,
            &format!("/user_management/users/{id}"),
            key,
            Some(&json!({"first_name": "x"})),
        )
        .await;
    assert_eq!(put.status, StatusCode::NOT_FOUND);
    let list = app
        .send(Method::GET, "/user_management/users", key, None)
        .await;
    assert_eq!(list.body["data"], json!([]));
    // The same email is free in the other environment.
    let theirs = app
        .send(
            Method::POST,
            "/user_management/users",
            key,
            Some(&json!({"email": "a@b.co"})),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED);
}

#[tokio::test]
async fn imported_password_hashes_sign_in_and_are_upgraded_to_argon2id() {
    let app = TestApp::new().await;
    let bcrypt_hash = bcrypt::hash("hunter2 hunter2", 4).unwrap();
    let res = app
        .post(
            "/user_management/users",
            &json!({"email": "old@x.co", "password_hash": bcrypt_hash, "password_hash_type": "bcrypt"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);

    let wrong_type = app
        .post(
            "/user_management/users",
            &json!({"email": "bad@x.co", "password_hash": bcrypt_hash, "password_hash_type": "scrypt"}),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_type.body["code"], "invalid_password_hash");

    let sign_in = |password: &str| {
        json!({"grant_type": "password", "client_id": app.tenant.client_id, "client_secret": app.tenant.api_key,
               "email": "old@x.co", "password": password})
    };
    assert_eq!(
        app.post("/user_management/authenticate", &sign_in("wrong"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let ok = app
        .post("/user_management/authenticate", &sign_in("hunter2 hunter2"))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let stored: String =
        sqlx::query_scalar("select password_hash from users where email = 'old@x.co'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        stored.starts_with("$argon2id$"),
        "upgraded on sign-in: {stored}"
    );
    assert_eq!(
        app.post("/user_management/authenticate", &sign_in("hunter2 hunter2"))
            .await
            .status,
        StatusCode::OK
    );

    // Changing the password through PUT replaces the hash.
    let id = res.body["id"].as_str().unwrap();
    let put = app
        .put(
            &format!("/user_management/users/{id}"),
            &json!({"password": "a brand new password"}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(
        app.post("/user_management/authenticate", &sign_in("hunter2 hunter2"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.post(
            "/user_management/authenticate",
            &sign_in("a brand new password")
        )
        .await
        .status,
        StatusCode::OK
    );
}

/// Twenty concurrent PUTs, each setting its own metadata key, keep every key: the merge runs on
/// the row locked in the update's transaction, not on a copy read before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_metadata_updates_keep_every_key() {
    let app = TestApp::new().await;
    let user = app
        .post(
            "/user_management/users",
            &json!({"email": "race@example.com", "metadata": {"seed": "0"}}),
        )
        .await;
    assert_eq!(user.status, StatusCode::CREATED, "{}", user.text);
    let path = format!(
        "/user_management/users/{}",
        user.body["id"].as_str().unwrap()
    );
    let metadata = app.put_metadata_keys_concurrently(&path, 20).await;
    let mut want = json!({"seed": "0"});
    for i in 0..20 {
        want[format!("k{i}")] = json!(format!("v{i}"));
    }
    assert_eq!(metadata, want);
}
