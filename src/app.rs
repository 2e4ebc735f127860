//! Application state, the router with its middleware, and `serve`.
//!
//! [`App`] holds the pool, the vault, settings, the DNS resolver, the password hasher, the rate
//! limiter, the API-key cache and a cache of each environment's signing keys. [`router`]
//! composes the API-key routes (auth → rate limit → idempotency), the public routes (rate
//! limited per IP) and the operational routes (`/health`, `/ready`, `/metrics`), under request
//! ids, tracing, metrics, a request timeout and a body limit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use sqlx::PgPool;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::config::ServeArgs;
use crate::crypto::signing::SigningKey;
use crate::crypto::vault::Vault;
use crate::dns::{SystemResolver, TxtResolver};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::{self, ApiKeyCache};
use crate::http::idempotency::idempotency;
use crate::http::rate_limit::{self, RateLimiter, RateLimits};
use crate::password::Hasher;
use crate::store::environments::{self, Bootstrap};
use crate::{api, db, telemetry};

/// Settings the handlers and middleware read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Externally visible base URL, no trailing slash.
    pub public_url: String,
    /// Access-token lifetime.
    pub access_token_ttl: Duration,
    /// Session and refresh-token lifetime.
    pub session_ttl: Duration,
    /// How long a rotated refresh token may still be used.
    pub refresh_reuse_grace: Duration,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Requests taking longer are answered 408.
    pub request_timeout: Duration,
    /// Rate limits per route class.
    pub rate_limits: RateLimits,
    /// Redis URL for shared rate limits.
    pub redis_url: Option<String>,
    /// Proxies allowed to set `X-Forwarded-For`.
    pub trusted_proxies: Vec<IpNet>,
    /// Bearer token protecting `/metrics`.
    pub metrics_token: Option<String>,
    /// Webhook delivery settings.
    pub webhooks: crate::workers::webhooks::WebhookSettings,
    /// Enterprise SSO settings.
    pub sso: crate::protocols::SsoSettings,
    /// Sign-ins of users with an unverified email stop at `email_verification_required`.
    pub require_email_verification: bool,
    /// Email delivery settings.
    pub email: crate::workers::email::EmailSettings,
}

impl Settings {
    /// Settings from the `serve` options. Errors on malformed rate limits or proxy lists.
    pub fn from_args(args: &ServeArgs) -> anyhow::Result<Self> {
        Ok(Self {
            public_url: args.public_url(),
            access_token_ttl: Duration::from_secs(args.access_token_ttl),
            session_ttl: Duration::from_secs(args.session_ttl),
            refresh_reuse_grace: Duration::from_secs(args.refresh_reuse_grace),
            max_body_bytes: args.max_body_bytes,
            request_timeout: Duration::from_secs(args.request_timeout.max(1)),
            rate_limits: args
                .rate_limits
                .parse()
                .map_err(|e: String| anyhow::anyhow!("KEYSTEAD_RATE_LIMITS: {e}"))?,
            redis_url: args.redis_url.clone(),
            trusted_proxies: rate_limit::parse_trusted_proxies(&args.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("KEYSTEAD_TRUSTED_PROXIES: {e}"))?,
            metrics_token: args.metrics_token.clone(),
            webhooks: crate::workers::webhooks::WebhookSettings::from_args(&args.webhooks),
            sso: crate::protocols::SsoSettings {
                clock_skew: Duration::from_secs(args.sso.clock_skew),
                request_ttl: Duration::from_secs(args.sso.request_ttl),
                outbound_timeout: Duration::from_secs(args.sso.outbound_timeout),
                outbound_allow: args.sso.outbound_allow.clone(),
            },
            require_email_verification: args.require_email_verification,
            email: crate::workers::email::EmailSettings::from_args(&args.email)?,
        })
    }

    /// Defaults for tests and embedding: public URL `http://localhost`, default limits.
    pub fn for_tests(public_url: &str) -> Self {
        Self {
            public_url: public_url.to_string(),
            access_token_ttl: Duration::from_secs(300),
            session_ttl: Duration::from_secs(3600),
            refresh_reuse_grace: Duration::from_secs(2),
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            rate_limits: RateLimits::default(),
            redis_url: None,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            webhooks: crate::workers::webhooks::WebhookSettings::default(),
            sso: crate::protocols::SsoSettings::default(),
            require_email_verification: false,
            email: crate::workers::email::EmailSettings::default(),
        }
    }
}

/// Everything a handler needs; shared behind [`AppState`].
pub struct App {
    /// The connection pool.
    pub db: PgPool,
    /// Encrypts secrets at rest.
    pub vault: Vault,
    /// Settings.
    pub settings: Settings,
    /// TXT lookups for domain verification.
    pub dns: Arc<dyn TxtResolver>,
    /// Password hashing off the runtime.
    pub passwords: Hasher,
    /// Rate limits (in-process or Redis).
    pub limiter: Arc<RateLimiter>,
    /// Resolved API keys.
    pub api_keys: ApiKeyCache,
    /// SSO engines: outbound HTTP, XML security, OIDC provider cache.
    pub sso: crate::protocols::SsoRuntime,
    /// Sign-in hooks and access-token claims contributors ([`crate::auth::Extensions`]).
    pub auth: crate::auth::Extensions,
    keys: RwLock<HashMap<String, Arc<Vec<SigningKey>>>>,
}

/// Cheaply clonable handle to the [`App`] (`State<AppState>` in handlers).
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl AppState {
    /// Builds the state. Errors when the Redis URL is malformed.
    pub fn new(
        db: PgPool,
        vault: Vault,
        settings: Settings,
        dns: Arc<dyn TxtResolver>,
        passwords: Hasher,
    ) -> anyhow::Result<Self> {
        telemetry::metrics_handle();
        let limiter = Arc::new(RateLimiter::new(
            settings.rate_limits.clone(),
            settings.redis_url.as_deref(),
        )?);
        let sso = crate::protocols::SsoRuntime::new(&settings.sso);
        Ok(Self(Arc::new(App {
            db,
            vault,
            settings,
            dns,
            passwords,
            limiter,
            api_keys: ApiKeyCache::default(),
            sso,
            auth: crate::auth::Extensions::default(),
            keys: RwLock::new(HashMap::new()),
        })))
    }

    /// The environment's active signing keys (newest first), decrypted once and cached.
    pub async fn signing_keys(&self, env: &str) -> ApiResult<Arc<Vec<SigningKey>>> {
        if let Some(k) = self.keys.read().ok().and_then(|m| m.get(env).cloned()) {
            return Ok(k);
        }
        let loaded = Arc::new(environments::signing_keys(&self.db, &self.vault, env).await?);
        if loaded.is_empty() {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "environment {env} has no signing key"
            )));
        }
        if let Ok(mut m) = self.keys.write() {
            m.insert(env.to_string(), loaded.clone());
        }
        Ok(loaded)
    }
}

/// The complete router. Layers, outermost first: request id, tracing (method, route, request
/// id, environment, status, latency), body limit, metrics, request timeout; then per group:
/// API-key auth → rate limit → idempotency for API routes, per-IP rate limit for public ones,
/// and for the hosted pages ([`crate::pages`]) security headers → CSRF check → per-IP limit.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let authed = api::router()
        .route_layer(middleware::from_fn_with_state(state.clone(), idempotency))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit_api,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_api_key,
        ));
    let public = api::public_router()
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::http::cors::enforce,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit_public,
        ));
    Router::new()
        .merge(authed)
        .merge(public)
        .merge(api::ops_router())
        .merge(crate::scim::router(state.clone()))
        .merge(crate::pages::router(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), timeout))
        .layer(middleware::from_fn(record_metrics))
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", |p| p.as_str());
                    let request_id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        route,
                        request_id,
                        environment_id = tracing::field::Empty,
                    )
                })
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Millis),
                ),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Answers 408 (WorkOS-shaped) when a request outlives `request_timeout`.
async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.settings.request_timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// Counts requests by route, method and status, and observes their latency.
async fn record_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().to_string();
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("keystead_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("keystead_http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    res
}

async fn not_found() -> ApiError {
    ApiError::NotFound {
        entity: "Route",
        id: "unknown".into(),
    }
}

async fn method_not_allowed() -> (axum::http::StatusCode, axum::Json<serde_json::Value>) {
    (
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(serde_json::json!({ "message": "Method not allowed for this route." })),
    )
}

/// Background tasks every server runs; each stops when `shutdown` turns true.
pub fn spawn_workers(
    state: &AppState,
    shutdown: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut workers = vec![
        auth::spawn_revocation_listener(state.clone(), shutdown.clone()),
        rate_limit::spawn_janitor(state.limiter.clone(), shutdown.clone()),
        crate::store::idempotency::spawn_purger(state.db.clone(), shutdown.clone()),
    ];
    workers.extend(crate::workers::spawn(state.clone(), shutdown.clone()));
    workers
}

/// `keystead serve`: open the database (embedded unless `DATABASE_URL`), migrate, bootstrap the
/// default environment, listen, and on SIGINT/SIGTERM stop accepting, drain in-flight requests
/// for up to `KEYSTEAD_SHUTDOWN_GRACE` seconds, stop the workers and the embedded cluster.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    telemetry::init(&args.log, args.log_format);
    let settings = Settings::from_args(&args)?;
    let database = db::open(&args.db).await?;
    let vault = Vault::load(args.db.encryption_key.as_deref(), &args.db.data_dir)?;
    match environments::bootstrap(
        &database.pool,
        &vault,
        args.bootstrap_api_key.as_deref(),
        args.bootstrap_client_id.as_deref(),
    )
    .await?
    {
        Bootstrap::Created(created) => {
            println!(
                "Created the default environment {}.",
                created.environment.id
            );
            println!("  client id: {}", created.environment.client_id);
            println!(
                "  API key:   {}   (shown once; store it now)",
                created.api_key
            );
        }
        Bootstrap::Ensured(env) => {
            tracing::info!(environment = %env.id, client_id = %env.client_id, "bootstrap environment ready")
        }
        Bootstrap::Existing => {}
    }
    let dns: Arc<dyn TxtResolver> = Arc::new(SystemResolver::new(args.dns_server)?);
    let state = AppState::new(
        database.pool.clone(),
        vault,
        settings,
        dns,
        Hasher::new(args.password_hash_concurrency),
    )?;
    telemetry::metrics_handle();
    if !state.settings.email.enabled() {
        tracing::info!("KEYSTEAD_SMTP_URL is not set: no email will be sent");
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workers = spawn_workers(&state, &stop_rx);

    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    tracing::info!(addr = %listener.local_addr()?, public_url = %state.settings.public_url, "keystead listening");
    let mut draining = stop_rx.clone();
    let server = axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested; draining in-flight requests");
        let _ = stop_tx.send(true);
    });
    let grace = Duration::from_secs(args.shutdown_grace);
    tokio::select! {
        r = server => r?,
        () = async {
            let _ = draining.wait_for(|stop| *stop).await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!("in-flight requests did not finish within {grace:?}; exiting anyway"),
    }
    for w in workers {
        let _ = tokio::time::timeout(Duration::from_secs(5), w).await;
    }
    database.pool.close().await;
    drop(database);
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
