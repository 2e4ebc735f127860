//! Database access: the pool, migrations and the transaction type every mutation runs in.
//!
//! With `DATABASE_URL` Keystead uses that server; without it, the embedded cluster
//! ([`embedded`]) under `<data-dir>/postgres` and a database named `keystead` in it.

pub mod embedded;

use sqlx::AssertSqlSafe;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use crate::config::DbArgs;
use embedded::{Durability, EmbeddedPostgres};

/// The transaction every mutating store function takes (`&mut Tx`).
pub type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

/// Migrations from `migrations/*.sql`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// A connected, migrated database, plus the embedded cluster when Keystead runs its own.
#[derive(Debug, Clone)]
pub struct Database {
    /// The connection pool.
    pub pool: PgPool,
    /// The embedded cluster; dropping the last clone stops it.
    pub embedded: Option<Arc<EmbeddedPostgres>>,
}

/// Connects (starting the embedded cluster if `DATABASE_URL` is unset) and runs migrations.
pub async fn open(args: &DbArgs) -> anyhow::Result<Database> {
    let (options, embedded) = match &args.database_url {
        Some(url) => (
            url.parse::<PgConnectOptions>()
                .context("parsing DATABASE_URL")?,
            None,
        ),
        None => {
            let base = args.data_dir.join("postgres");
            let pg = tokio::task::spawn_blocking(move || {
                EmbeddedPostgres::start(&base, Durability::Durable)
            })
            .await??;
            ensure_database(&pg, "keystead").await?;
            (pg.connect_options("keystead"), Some(Arc::new(pg)))
        }
    };
    let pool = pool(options).await?;
    MIGRATOR.run(&pool).await.context("running migrations")?;
    Ok(Database { pool, embedded })
}

/// A pooled connection idle longer than this is pinged before it is handed out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(10);

/// A pool with Keystead's settings (statement logging off: bodies may hold secrets).
///
/// sqlx pings every connection before handing it out unless told otherwise — a round trip per
/// request. Keystead pings only a connection idle for [`PING_AFTER_IDLE`] or more (one that
/// may have been dropped by a restarted server or a pooler); a busy connection that breaks
/// fails its query and is discarded.
pub async fn pool(options: PgConnectOptions) -> anyhow::Result<PgPool> {
    let options = options.disable_statement_logging();
    PgPoolOptions::new()
        .max_connections(20)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .context("connecting to PostgreSQL")
}

/// Creates database `name` on the embedded cluster if it does not exist yet.
pub async fn ensure_database(pg: &EmbeddedPostgres, name: &str) -> anyhow::Result<()> {
    let mut conn = pg.connect_options("postgres").connect().await?;
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        sqlx::query(AssertSqlSafe(format!("create database \"{name}\"")))
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}
