//! Test support: one embedded PostgreSQL cluster per test binary (or the server at
//! `DATABASE_URL`), a migrated template database, and a fresh database per test
//! ([`database`]); the application over it ([`app`]); its background queues and the check that
//! a test leaves none of their jobs behind ([`jobs`]); the locked client libraries ([`locks`]),
//! pinned Python venvs and npm packages
//! ([`python`], [`node`], [`command`]); a local S3-compatible server ([`moto`]); and the `KEYSTEAD_SKIP_*` switches ([`skip`]).

mod app;
pub mod command;
mod concurrency;
mod database;
mod jobs;
pub mod locks;
pub mod moto;
pub mod node;
pub mod python;
mod skip;

pub use app::{TestApp, TestResponse};
pub use skip::skip;
