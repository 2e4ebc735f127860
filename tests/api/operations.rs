//! Operations: readiness, metrics, request timeout, logs free of secrets, database outages, and
//! two replicas sharing Postgres and Redis (real `keystead serve` processes).

use std::time::Duration;

use axum::http::{Method, StatusCode};
use keystead::crypto::vault::Vault;
use keystead::db::embedded::{Durability, EmbeddedPostgres};
use keystead::dns::StaticResolver;
use keystead::password::Hasher;
use keystead::settings::Settings;
use keystead::state::AppState;
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::binary::Server;
use crate::support::TestApp;

#[tokio::test]
async fn ready_and_metrics_report_on_the_service() {
    let app = TestApp::with(|s| s.metrics_token = Some("scrape-me".into())).await;
    let ready = app.get("/ready").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["status"], "ready");

    app.get("/organizations").await;
    assert_eq!(
        app.send(Method::GET, "/metrics", None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.send(Method::GET, "/metrics", Some("wrong"), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let metrics = app
        .send(Method::GET, "/metrics", Some("scrape-me"), None)
        .await;
    assert_eq!(metrics.status, StatusCode::OK);
    for name in [
        "keystead_http_requests_total",
        "keystead_http_request_duration_seconds_bucket",
        "keystead_db_pool_connections",
    ] {
        assert!(
            metrics.text.contains(name),
            "missing {name} in:\n{}",
            metrics.text
        );
    }
    assert!(metrics.text.contains(r#"route="/organizations""#));
}

#[tokio::test]
async fn a_request_outliving_the_timeout_is_408() {
    let app = TestApp::with(|s| s.request_timeout = Duration::from_secs(1)).await;
    let mut blocker = app.pool.begin().await.unwrap();
    sqlx::query("lock table organizations in access exclusive mode")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let res = app.post("/organizations", &json!({"name": "slow"})).await;
    assert_eq!(res.status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(res.body["code"], "request_timeout");
    blocker.rollback().await.unwrap();
    assert_eq!(
        app.post("/organizations", &json!({"name": "fast"}))
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn requests_get_503_while_postgres_is_down_and_recover_without_a_restart() {
    let dir = std::env::temp_dir().join(format!("keystead-outage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let start = |dir: std::path::PathBuf| {
        std::thread::spawn(move || EmbeddedPostgres::start(&dir, Durability::Ephemeral).unwrap())
            .join()
            .unwrap()
    };
    let pg = start(dir.clone());
    keystead::db::ensure_database(&pg, "keystead")
        .await
        .unwrap();
    let pool = keystead::db::pool(pg.connect_options("keystead"))
        .await
        .unwrap();
    keystead::db::MIGRATOR.run(&pool).await.unwrap();
    let vault = Vault::new(&[7; 32]);
    let mut tx = pool.begin().await.unwrap();
    let env = keystead::store::environments::create(&mut tx, &vault, "x", false, None, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let state = AppState::new(
        pool,
        vault,
        Settings::for_tests("http://x"),
        std::sync::Arc::new(StaticResolver::default()),
        Hasher::new(1),
    )
    .unwrap();
    let router = keystead::app::router(state);
    let call = |path: &'static str| {
        let router = router.clone();
        let key = env.api_key.clone();
        async move {
            use tower::ServiceExt;
            let req = axum::http::Request::builder()
                .uri(path)
                .header("authorization", format!("Bearer {key}"))
                .body(axum::body::Body::empty())
                .unwrap();
            router.oneshot(req).await.unwrap().status()
        }
    };
    assert_eq!(call("/organizations").await, StatusCode::OK);

    drop(pg); // fast shutdown
    assert_eq!(call("/ready").await, StatusCode::SERVICE_UNAVAILABLE);
    // A cached API key still gets through auth; the query itself fails with 503.
    assert_eq!(
        call("/organizations").await,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let pg = start(dir.clone());
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        status = call("/organizations").await;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK, "the pool reconnects by itself");
    drop(pg);
    let _ = std::fs::remove_dir_all(&dir);
}

fn secret_key() -> String {
    format!("sk_test_{}", keystead::crypto::random_alphanumeric(32))
}

#[tokio::test]
async fn logs_carry_request_context_but_never_secrets() {
    let app = TestApp::new().await;
    let key = secret_key();
    let server = Server::start(&app, &key, "client_logs", &[("KEYSTEAD_LOG", "debug")]).await;
    let http = reqwest::Client::new();
    let password = "correct horse battery staple";
    let user: Value = server
        .request(&http, M::POST, "/user_management/users")
        .json(&json!({"email": "ada@example.com", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(user["id"].is_string(), "{user}");
    let auth: Value = http
        .post(format!("{}/user_management/authenticate", server.base_url))
        .json(&json!({"grant_type": "password", "client_id": "client_logs", "client_secret": key, "email": "ada@example.com", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh = auth["refresh_token"].as_str().unwrap().to_string();
    let access = auth["access_token"].as_str().unwrap().to_string();
    let refreshed: Value = http
        .post(format!("{}/user_management/authenticate", server.base_url))
        .json(&json!({"grant_type": "refresh_token", "client_id": "client_logs", "client_secret": key, "refresh_token": refresh}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = server
        .request(&http, M::GET, "/organizations")
        .header("x-request-id", "req-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "req-abc-123");
    let log = server.stop();

    let rotated = refreshed["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{refreshed}"));
    for secret in [
        key.as_str(),
        password,
        refresh.as_str(),
        access.as_str(),
        rotated,
    ] {
        assert!(!log.contains(secret), "a secret leaked into the logs");
    }
    // Structured lines with the request context.
    let line = log
        .lines()
        .find(|l| l.contains("req-abc-123") && l.contains("latency"))
        .unwrap_or_else(|| panic!("no response line for the request in:\n{log}"));
    let parsed: Value = serde_json::from_str(line).expect("JSON log lines");
    let span = &parsed["span"];
    assert_eq!(span["route"], "/organizations");
    assert_eq!(span["method"], "GET");
    assert!(
        span["environment_id"]
            .as_str()
            .unwrap()
            .starts_with("environment_")
    );
    assert_eq!(parsed["fields"]["status"], 200, "{line}");
}

#[tokio::test]
async fn two_replicas_share_rate_limits_through_redis_and_idempotency_through_postgres() {
    let app = TestApp::new().await;
    let key = secret_key();
    let redis = std::env::var("KEYSTEAD_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let env = [
        ("KEYSTEAD_REDIS_URL", redis.as_str()),
        ("KEYSTEAD_RATE_LIMITS", "general=6/60"),
    ];
    let a = Server::start(&app, &key, "client_replicas", &env).await;
    let b = Server::start(&app, &key, "client_replicas", &env).await;
    let http = reqwest::Client::new();

    // One idempotent POST through A, its retry through B.
    let post = |s: &Server| {
        s.request(&http, M::POST, "/organizations")
            .header("idempotency-key", "across-replicas")
            .json(&json!({"name": "Shared"}))
    };
    let first = post(&a).send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let replay = post(&b).send().await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay["id"], first["id"]);

    // 6 per minute in total, whichever replica answers: 4 more succeed, the next is refused.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let s = if i % 2 == 0 { &a } else { &b };
        statuses.push(
            s.request(&http, M::GET, "/organizations")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 429, 429],
        "limits are shared across replicas"
    );
}

#[tokio::test]
async fn an_unreachable_redis_fails_open() {
    let app = TestApp::new().await;
    let key = secret_key();
    let port = crate::binary::free_port().to_string();
    let url = format!("redis://127.0.0.1:{port}");
    let s = Server::start(
        &app,
        &key,
        "client_redis_down",
        &[
            ("KEYSTEAD_REDIS_URL", url.as_str()),
            ("KEYSTEAD_RATE_LIMITS", "general=1/60"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    for _ in 0..3 {
        assert_eq!(
            s.request(&http, M::GET, "/organizations")
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let metrics = http
        .get(format!("{}/metrics", s.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("keystead_rate_limit_backend_errors_total"),
        "{metrics}"
    );
    assert!(s.log().contains("failing open"));
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_then_exits() {
    let app = TestApp::new().await;
    let key = secret_key();
    let mut server = Server::start(&app, &key, "client_drain", &[]).await;
    let http = reqwest::Client::new();

    // Hold a lock so a create blocks inside the server.
    let mut blocker = app.pool.begin().await.unwrap();
    sqlx::query("lock table organizations in access exclusive mode")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let in_flight = tokio::spawn(
        server
            .request(&http, M::POST, "/organizations")
            .json(&json!({"name": "late"}))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    server.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !server.wait_exit(Duration::from_millis(10)),
        "still draining while a request is in flight"
    );
    let refused = reqwest::Client::new()
        .get(format!("{}/health", server.base_url))
        .send()
        .await;
    assert!(refused.is_err(), "no new connections once shutdown started");

    blocker.rollback().await.unwrap();
    let res = in_flight.await.unwrap().unwrap();
    assert_eq!(res.status(), 201, "the in-flight request completed");
    assert!(
        server.wait_exit(Duration::from_secs(10)),
        "exited after draining"
    );
    assert!(server.log().contains("stopped"));
}
