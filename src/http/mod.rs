//! HTTP plumbing shared by every area: extractors (the request's [`Client`] among them),
//! API-key auth and pagination.

pub mod auth;
pub mod client;
pub mod cors;
pub mod extract;
pub mod idempotency;
pub mod pagination;
pub mod rate_limit;

pub use auth::{AuthContext, Env};
pub use client::Client;
pub use extract::{AppJson, IdPath, OAuthJson, OAuthQuery, Patch, QueryMap};
pub use pagination::{List, ListParams, Order};
