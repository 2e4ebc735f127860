//! [`TestApp`]: the real router over a fresh database with a new environment and API key;
//! requests go through it in-process (`oneshot`), or over a socket with [`TestApp::serve`].

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use keystead::crypto::vault::Vault;
use keystead::dns::StaticResolver;
use keystead::password::Hasher;
use keystead::settings::Settings;
use keystead::state::AppState;
use keystead::store::environments;
use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
use tower::ServiceExt;

use super::database::{server, template};

/// A response, with the body parsed as JSON (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestResponse {
    /// The `field` of each entry of a WorkOS 422 body's `errors`, in order.
    pub fn error_fields(&self) -> Vec<&str> {
        self.body["errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default()
    }
}

/// The caller's credentials in an environment.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub environment_id: keystead::ids::EnvironmentId,
    pub client_id: String,
    pub api_key: String,
}

/// The application over a fresh database, with one environment.
///
/// Dropping it checks that no webhook delivery or email is still queued (see
/// [`TestApp::allow_pending_jobs`]).
pub struct TestApp {
    /// Stops the background workers when the app is dropped.
    _stop: tokio::sync::watch::Sender<bool>,
    /// A `postgres://` URL of this test's database (for the CLI and the real binary).
    pub database_url: String,
    pub state: AppState,
    pub router: Router,
    pub pool: PgPool,
    pub dns: StaticResolver,
    pub tenant: Tenant,
    /// This test's database, for the queue check on drop (a connection of its own).
    pub(super) db_options: PgConnectOptions,
    /// Set by [`TestApp::allow_pending_jobs`].
    pub(super) pending_jobs_allowed: AtomicBool,
}

impl TestApp {
    /// A fresh database (cloned from the migrated template) and a new environment.
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// Like [`TestApp::new`], with settings adjusted by `configure`.
    pub async fn with(configure: impl FnOnce(&mut Settings)) -> Self {
        let server = server();
        let name = format!("t_{}", ulid::Ulid::new().to_string().to_lowercase());
        let mut admin = server.options("postgres").connect().await.expect("connect");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "create database {name} template {}",
            template()
        )))
        .execute(&mut admin)
        .await
        .expect("create test database");
        let pool = keystead::db::pool(server.options(&name))
            .await
            .expect("pool");
        let dns = StaticResolver::default();
        let mut settings = Settings::for_tests("http://keystead.test");
        settings.webhooks = keystead::settings::WebhookSettings {
            retry_base: std::time::Duration::from_millis(50),
            timeout: std::time::Duration::from_secs(2),
            allow_http: Some(true),
            worker_enabled: false,
            ..Default::default()
        };
        settings.sso = keystead::settings::SsoSettings {
            outbound_allow: vec!["127.0.0.0/8".parse().expect("net")],
            ..Default::default()
        };
        settings.email = keystead::settings::EmailSettings {
            retry_base: std::time::Duration::from_millis(50),
            timeout: std::time::Duration::from_secs(2),
            worker_enabled: false,
            ..Default::default()
        };
        configure(&mut settings);
        let state = AppState::new(
            pool.clone(),
            Vault::new(&[7; 32]),
            settings,
            Arc::new(dns.clone()),
            Hasher::new(2),
        )
        .expect("state");
        let router = keystead::app::router(state.clone());
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        keystead::app::spawn_workers(&state, &stop_rx);
        let mut app = Self {
            _stop: stop,
            database_url: server.url(&name),
            db_options: server.options(&name),
            pending_jobs_allowed: AtomicBool::new(false),
            state,
            router,
            pool,
            dns,
            tenant: Tenant {
                environment_id: "environment_0".parse().expect("placeholder id"),
                client_id: String::new(),
                api_key: String::new(),
            },
        };
        app.tenant = app.new_tenant("Test").await;
        app
    }

    /// Another environment in the same database (for tenant-isolation tests).
    pub async fn new_tenant(&self, name: &str) -> Tenant {
        let mut tx = self.pool.begin().await.expect("begin");
        let created = environments::create(&mut tx, &self.state.vault, name, false, None, None)
            .await
            .expect("create environment");
        tx.commit().await.expect("commit");
        Tenant {
            environment_id: created.environment.id,
            client_id: created.environment.client_id,
            api_key: created.api_key,
        }
    }

    /// Sends a request with the given API key (or none) and JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> TestResponse {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(b).expect("json"))),
            None => req.body(Body::empty()),
        }
        .expect("request");
        self.send_request(req).await
    }

    /// Sends a prepared request through the router.
    pub async fn send_request(&self, req: Request<Body>) -> TestResponse {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse {
            status,
            headers,
            body,
            text,
        }
    }

    /// GET with this app's API key.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Method::GET, path, Some(&self.tenant.api_key), None)
            .await
    }

    /// POST JSON with this app's API key.
    pub async fn post(&self, path: &str, body: &Value) -> TestResponse {
        self.send(Method::POST, path, Some(&self.tenant.api_key), Some(body))
            .await
    }

    /// PUT JSON with this app's API key.
    pub async fn put(&self, path: &str, body: &Value) -> TestResponse {
        self.send(Method::PUT, path, Some(&self.tenant.api_key), Some(body))
            .await
    }

    /// DELETE with this app's API key.
    pub async fn delete(&self, path: &str) -> TestResponse {
        self.send(Method::DELETE, path, Some(&self.tenant.api_key), None)
            .await
    }

    /// The names of this environment's events, oldest first.
    pub async fn event_names(&self) -> Vec<String> {
        sqlx::query_scalar("select event from events where environment_id = $1 order by id")
            .bind(&self.tenant.environment_id)
            .fetch_all(&self.pool)
            .await
            .expect("events")
    }

    /// How many rows of `table` belong to this app's environment (for "nothing was written"
    /// checks). `table` is a literal table name with an `environment_id` column.
    pub async fn count_rows(&self, table: &str) -> i64 {
        assert!(
            table.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "not a table name: {table}"
        );
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from {table} where environment_id = $1"
        )))
        .bind(&self.tenant.environment_id)
        .fetch_one(&self.pool)
        .await
        .expect("count rows")
    }

    /// Serves the router on `127.0.0.1:<random>`; returns the base URL.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = self.router.clone();
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await;
        });
        format!("http://{addr}")
    }
}
