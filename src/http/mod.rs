//! HTTP plumbing shared by every area: extractors (the request's [`Client`] among them),
//! API-key auth, pagination, CORS and AuthKit's production-mode session cookies.

pub mod auth;
pub mod client;
pub mod cors;
pub mod extract;
pub mod idempotency;
pub mod pagination;
pub mod rate_limit;
pub mod session_cookie;

pub use auth::{AuthContext, Env};
pub use client::Client;
pub use extract::{AppJson, IdPath, OAuthJson, OAuthQuery, Patch, QueryMap};
pub use pagination::{List, ListParams, Order};
