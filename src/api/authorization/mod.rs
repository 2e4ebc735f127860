//! `/authorization/*`: the Authorization area (spec tag `authorization`). Served today: the
//! environment role catalogue, `/authorization/roles` (list, create, get by slug; [`roles`]).
//! The area's other operations (permissions, organization roles, resources, access checks) are
//! not served yet; each arrives as a file here merged by [`router`].

pub mod roles;

use axum::Router;

use crate::state::AppState;

/// API-key authenticated routes of Authorization.
pub fn router() -> Router<AppState> {
    Router::new().merge(roles::router())
}
