//! The composition root: the router with its middleware, the background workers, and `serve`.
//!
//! [`router`] composes the API-key routes (auth → rate limit → idempotency), the public routes
//! (rate limited per IP) and the operational routes (`/health`, `/ready`, `/metrics`), under
//! request ids, tracing, metrics, a request timeout and a body limit. The shared state lives in
//! [`crate::state`], the settings in [`crate::settings`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::config::ServeArgs;
use crate::crypto::vault::Vault;
use crate::dns::{SystemResolver, TxtResolver};
use crate::error::ApiError;
use crate::http::auth;
use crate::http::idempotency::{Idempotency, idempotency};
use crate::http::rate_limit;
use crate::password::Hasher;
use crate::settings::Settings;
use crate::state::AppState;
use crate::store::environments::{self, Bootstrap};
use crate::{api, db, telemetry};

/// The complete router. Layers, outermost first: request id, tracing (method, route, request
/// id, environment, status, latency), body limit, metrics, request timeout; then per group:
/// API-key auth → rate limit → idempotency for API routes, per-IP rate limit for public ones,
/// and for the hosted pages ([`crate::pages`]) security headers → CSRF check → per-IP limit.
pub fn router(state: AppState) -> Router {
    extend(&state);
    let request_id = HeaderName::from_static("x-request-id");
    let authed = api::router()
        .route_layer(middleware::from_fn_with_state(
            Idempotency::new(state.clone(), api::idempotent_in_handler()),
            idempotency,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit_api,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_environment_key,
        ));
    let public = api::public_router()
        .merge(crate::idp::router())
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

/// Registers the areas' sign-in extensions on `state.auth` (once per state: [`router`] calls
/// it): the `feature_flags` access-token claim.
fn extend(state: &AppState) {
    state.auth.add_claims_contributor(std::sync::Arc::new(
        crate::auth::claims::feature_flags::FeatureFlagsClaim,
    ));
    state.auth.add_claims_contributor(std::sync::Arc::new(
        crate::auth::claims::permissions::PermissionsClaim,
    ));
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
    ApiError::not_found("Route", "unknown")
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
        crate::state::rate_limit::spawn_janitor(state.limiter.clone(), shutdown.clone()),
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
