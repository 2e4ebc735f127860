//! Keystead: a self-hosted, multi-tenant identity API server that speaks the WorkOS REST API.
//!
//! Layout (see `docs/architecture.md`): [`api`] holds the HTTP handlers of each WorkOS area over
//! [`store`], which holds all SQL; [`http`] has the shared extractors, API-key auth and
//! pagination; [`app`] composes the router and runs the server; [`db`] owns the pool, migrations
//! and the embedded PostgreSQL cluster; [`pages`] serves the hosted login (HTML); [`email`]
//! queues the emails [`workers`] send.

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
pub mod ids;
pub mod pages;
pub mod password;
pub mod protocols;
pub mod scim;
pub mod settings;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod timestamp;
pub mod workers;
