//! `/user_management/*`: users, authentication and sessions (spec tags `user-management.*`).

pub mod auth_factors;
pub mod authenticate;
pub mod cors_origins;
pub mod device;
pub mod email_change;
pub mod email_verification;
pub mod grants;
pub mod identities;
pub mod invitations;
pub mod jwt_template;
pub mod logout;
pub mod magic_auth;
pub mod organization_memberships;
pub mod password_reset;
pub mod redirect_uris;
pub mod sessions;
pub mod users;

use axum::Router;

use crate::state::AppState;

/// API-key authenticated routes of User Management.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(users::router())
        .merge(sessions::router())
        .merge(organization_memberships::router())
        .merge(invitations::router())
        .merge(magic_auth::router())
        .merge(email_verification::router())
        .merge(password_reset::router())
        .merge(email_change::router())
        .merge(auth_factors::router())
        .merge(identities::router())
        .merge(jwt_template::router())
        .merge(redirect_uris::router())
        .merge(cors_origins::router())
}

/// Public routes of User Management (client credentials travel in the body).
pub fn public_router() -> Router<AppState> {
    Router::new()
        .merge(authenticate::public_router())
        .merge(logout::public_router())
        .merge(device::public_router())
}
