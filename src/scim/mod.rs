//! The SCIM 2.0 service provider (RFC 7643, RFC 7644) of each directory, at
//! `<public-url>/scim/v2/{directory_id}`: `/Users`, `/Groups` (create, get, list with `filter`,
//! `POST /.search`, PUT, PATCH, DELETE), `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`.
//!
//! Not behind the API-key layer: each request carries the directory's own bearer token
//! ([`context::require_directory_token`]), resolved by its SHA-256 digest. Responses are
//! `application/scim+json`; errors are RFC 7644 §3.12 bodies
//! ([`crate::protocols::scim::error::ScimError`]). Writes map into directory users and groups and
//! record their `dsync.*` events in the same transaction.
//!
//! This file only declares the modules and composes the router; what the handlers share is in
//! [`context`].

pub mod context;
pub mod discovery;
pub mod groups;
pub mod query;
pub mod resource;
pub mod resources;
pub mod users;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{any, get, post};

use crate::protocols::scim::error::ScimError;
use crate::state::AppState;
use crate::store::directory_groups::GroupRecord;
use crate::store::directory_users::UserRecord;
use context::require_directory_token;

/// The SCIM routes, each behind the directory bearer-token check.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/scim/v2/{directory_id}/Users",
            get(resources::list::<UserRecord>).post(users::create),
        )
        .route(
            "/scim/v2/{directory_id}/Users/.search",
            post(resources::search::<UserRecord>),
        )
        .route(
            "/scim/v2/{directory_id}/Users/{id}",
            get(resources::get_one::<UserRecord>)
                .put(users::replace)
                .patch(users::modify)
                .delete(resources::remove::<UserRecord>),
        )
        .route(
            "/scim/v2/{directory_id}/Groups",
            get(resources::list::<GroupRecord>).post(groups::create),
        )
        .route(
            "/scim/v2/{directory_id}/Groups/.search",
            post(resources::search::<GroupRecord>),
        )
        .route(
            "/scim/v2/{directory_id}/Groups/{id}",
            get(resources::get_one::<GroupRecord>)
                .put(groups::replace)
                .patch(groups::modify)
                .delete(resources::remove::<GroupRecord>),
        )
        .route(
            "/scim/v2/{directory_id}/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/scim/v2/{directory_id}/Schemas", get(discovery::schemas))
        .route(
            "/scim/v2/{directory_id}/Schemas/{id}",
            get(discovery::schema),
        )
        .route(
            "/scim/v2/{directory_id}/ResourceTypes",
            get(discovery::resource_types),
        )
        .route(
            "/scim/v2/{directory_id}/ResourceTypes/{id}",
            get(discovery::resource_type),
        )
        .route("/scim/v2/{directory_id}/.search", post(root_search))
        .route("/scim/v2/{directory_id}/{*rest}", any(unknown))
        .route_layer(middleware::from_fn_with_state(
            state,
            require_directory_token,
        ))
}

/// `POST /.search` across resource types (RFC 7644 §3.4.3) is optional: 501.
async fn root_search() -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "Searching several resource types at once is not supported; use /Users/.search or /Groups/.search.",
    )
}

async fn unknown() -> ScimError {
    ScimError::new(StatusCode::NOT_FOUND, None, "No such SCIM endpoint.")
}
