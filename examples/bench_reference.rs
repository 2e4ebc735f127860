//! The bare reference `bench/run.sh` measures Keystead against (issue 18): a minimal axum +
//! sqlx server on the same database, with the same pool size and none of Keystead's middleware
//! (no API key, rate limit, idempotency, request ids, tracing, metrics or timeouts).
//!
//! `cargo run --release --example bench_reference -- <port>` with `DATABASE_URL` set. Routes:
//! - `GET /org/{id}`: one primary-key select of an `organizations` row (the columns
//!   `GET /organizations/{id}` returns), as JSON;
//! - `GET /events`: the newest 100 rows of `events`, as a JSON array.
//!
//! Both read any environment's rows and serialize them with serde: the reference does no
//! tenancy and keeps sqlx's pool defaults (it pings each connection it hands out, which
//! Keystead's pool does only after 10 s idle), so it is what a plain axum + sqlx read costs.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// Keystead's pool size (`db::pool`).
const POOL_SIZE: u32 = 20;

/// An `organizations` row, the columns `GET /organizations/{id}` reads.
#[derive(sqlx::FromRow, Serialize)]
struct Organization {
    id: String,
    name: String,
    external_id: Option<String>,
    metadata: Value,
    stripe_customer_id: Option<String>,
    allow_profiles_outside_organization: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// An `events` row.
#[derive(sqlx::FromRow, Serialize)]
struct Event {
    id: String,
    event: String,
    data: Value,
    created_at: DateTime<Utc>,
}

async fn org(
    State(db): State<PgPool>,
    Path(id): Path<String>,
) -> Result<Json<Organization>, StatusCode> {
    sqlx::query_as(
        "select id, name, external_id, metadata, stripe_customer_id,
                allow_profiles_outside_organization, created_at, updated_at
         from organizations where id = $1",
    )
    .bind(id)
    .fetch_optional(&db)
    .await
    .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
    .map(Json)
    .ok_or(StatusCode::NOT_FOUND)
}

async fn events(State(db): State<PgPool>) -> Result<Json<Vec<Event>>, StatusCode> {
    sqlx::query_as("select id, event, data, created_at from events order by id desc limit 100")
        .fetch_all(&db)
        .await
        .map(Json)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(18190);
    let url = std::env::var("DATABASE_URL")?;
    let db = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .connect(&url)
        .await?;
    let app = Router::new()
        .route("/org/{id}", get(org))
        .route("/events", get(events))
        .with_state(db);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
