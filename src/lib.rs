//! Keystead: a self-hosted, multi-tenant identity API server that speaks the WorkOS REST API.
//!
//! Layout, top to bottom (the layers and who may import whom: `docs/architecture.md`, checked by
//! `tests/api/layers.rs`): [`app`] composes the routers, serves and spawns the [`workers`]; the
//! entry points are [`api`] (REST, API key), [`pages`] (hosted HTML, cookie), [`idp`] (the
//! routes identity providers call: SAML ACS and SP metadata, OIDC callback) and [`scim`] (the
//! SCIM 2.0 server, directory token); they call the sign-in domain [`auth`] (grants, sessions,
//! tokens, the SSO login flow); [`http`] holds the extractors and middleware (API-key auth,
//! rate limit, idempotency, CORS); [`state`] holds `AppState` and what it owns (rate limiter
//! engine, environment-key cache); [`store`] holds all SQL; at the bottom are [`protocols`] (pure
//! engines: SAML, OIDC, SCIM filter/PATCH grammar, profiles), [`settings`] (one file per area),
//! [`email`], [`storage`] (S3-compatible buckets), [`db`], [`crypto`], [`password`], [`ids`] and [`error`].

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod dns;
pub mod email;
pub mod error;
pub mod http;
pub mod idp;
pub mod ids;
pub mod limits;
pub mod pages;
pub mod password;
pub mod protocols;
pub mod scim;
pub mod settings;
pub mod state;
pub mod storage;
pub mod store;
pub mod telemetry;
pub mod timestamp;
pub mod workers;
