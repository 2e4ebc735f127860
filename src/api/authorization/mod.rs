//! `/authorization/*`: the Authorization area (spec tags `authorization`, `permissions`).
//!
//! - environment roles, `/authorization/roles…` (incl. their permissions): [`roles`];
//! - `/authorization/organizations/{organizationId}/roles…`: [`organization_roles`];
//! - `/authorization/permissions…`: [`permissions`];
//! - the Keystead extension `/authorization/resource_types…`: [`resource_types`];
//! - `/authorization/resources…` and resources by external id: [`resources`];
//! - role assignments of organization memberships: [`role_assignments`];
//! - access checks and discovery: [`access`].
//!
//! [`input`] holds the field rules they share.

pub mod access;
pub mod input;
pub mod organization_roles;
pub mod permissions;
pub mod resource_types;
pub mod resources;
pub mod role_assignments;
pub mod roles;

use axum::Router;

use crate::state::AppState;

/// API-key authenticated routes of Authorization.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(roles::router())
        .merge(organization_roles::router())
        .merge(permissions::router())
        .merge(resource_types::router())
        .merge(resources::router())
        .merge(role_assignments::router())
        .merge(access::router())
}
