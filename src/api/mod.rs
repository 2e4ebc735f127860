//! The WorkOS REST surface, one module per area. [`router`] is the API's table of contents
//! (API-key routes); [`public_router`] holds the routes browsers and JWT libraries call without
//! an API key; [`ops_router`] the probes and metrics.

pub mod api_keys;
pub mod audit_logs;
pub mod authorization;
pub mod connect;
pub mod connections;
pub mod directories;
pub mod directory_groups;
pub mod directory_users;
pub mod environment;
pub mod events;
pub mod feature_flags;
pub mod health;
pub mod mfa;
pub mod organization_domains;
pub mod organizations;
pub mod radar;
pub mod sso;
pub mod user_management;
pub mod validate;
pub mod vault;
pub mod webhook_endpoints;

use axum::Router;

use crate::http::idempotency::InHandlerRoute;
use crate::state::AppState;

/// Every API-key authenticated route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(organizations::router())
        .merge(organization_domains::router())
        .merge(events::router())
        .merge(user_management::router())
        .merge(directories::router())
        .merge(directory_users::router())
        .merge(directory_groups::router())
        .merge(webhook_endpoints::router())
        .merge(connections::router())
        .merge(sso::router())
        .merge(mfa::router())
        .merge(authorization::router())
        .merge(environment::router())
        .merge(audit_logs::router())
        .merge(radar::router())
        .merge(feature_flags::router())
        .merge(vault::router())
        .merge(api_keys::router())
        .merge(connect::router())
}

/// The routes whose handlers claim their `Idempotency-Key` in their own transaction
/// (`http::idempotency::IdempotentTx`); each area lists its own in `IDEMPOTENT_IN_HANDLER`.
pub fn idempotent_in_handler() -> Vec<InHandlerRoute> {
    [
        organizations::IDEMPOTENT_IN_HANDLER,
        audit_logs::IDEMPOTENT_IN_HANDLER,
    ]
    .concat()
}

/// Every public route (no API key).
pub fn public_router() -> Router<AppState> {
    Router::new()
        .merge(user_management::public_router())
        .merge(sso::public_router())
        .merge(audit_logs::public_router())
        .merge(connect::public_router())
}

/// Operational routes (`/health`, `/ready`, `/metrics`), never rate limited.
pub fn ops_router() -> Router<AppState> {
    health::ops_router()
}
