//! The database server of the test binary: an embedded PostgreSQL cluster started once per
//! binary (or the server at `DATABASE_URL`), a migrated template database, and one database
//! per test cloned from it.

use std::path::PathBuf;
use std::sync::OnceLock;

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

use keystead::db::embedded::{Durability, EmbeddedPostgres};

const TEMPLATE: &str = "keystead_test_template";

/// The per-binary database server: connection options for any database name.
pub(super) struct Server {
    embedded: Option<EmbeddedPostgres>,
    url: Option<String>,
}

impl Server {
    pub(super) fn url(&self, db: &str) -> String {
        match (&self.embedded, &self.url) {
            (Some(pg), _) => pg.url(db),
            (None, Some(url)) => {
                let mut u = url::Url::parse(url).expect("DATABASE_URL");
                u.set_path(db);
                u.to_string()
            }
            (None, None) => unreachable!(),
        }
    }

    pub(super) fn options(&self, db: &str) -> PgConnectOptions {
        match (&self.embedded, &self.url) {
            (Some(pg), _) => pg.connect_options(db),
            (None, Some(url)) => url
                .parse::<PgConnectOptions>()
                .expect("DATABASE_URL")
                .database(db),
            (None, None) => unreachable!(),
        }
    }
}

static SERVER: OnceLock<Server> = OnceLock::new();

pub(super) fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        // Start and migrate on a dedicated thread with its own runtime: the cluster must outlive
        // every test's runtime, and its spawner thread is the cluster's PDEATHSIG parent.
        std::thread::spawn(|| {
            let server = match std::env::var("DATABASE_URL") {
                Ok(url) => Server {
                    embedded: None,
                    url: Some(url),
                },
                Err(_) => {
                    let base = test_cluster_dir();
                    let pg = EmbeddedPostgres::start(&base, Durability::Ephemeral)
                        .expect("embedded postgres");
                    Server {
                        embedded: Some(pg),
                        url: None,
                    }
                }
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut admin = server
                    .options("postgres")
                    .connect()
                    .await
                    .expect("connect postgres db");
                // Each process uses its own template name so parallel binaries do not collide.
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "drop database if exists {TEMPLATE}_{}",
                    std::process::id()
                )))
                .execute(&mut admin)
                .await
                .expect("drop template");
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "create database {TEMPLATE}_{}",
                    std::process::id()
                )))
                .execute(&mut admin)
                .await
                .expect("create template");
                let pool = keystead::db::pool(server.options(&template()))
                    .await
                    .expect("template pool");
                keystead::db::MIGRATOR
                    .run(&pool)
                    .await
                    .expect("migrate template");
                pool.close().await;
            });
            server
        })
        .join()
        .expect("test database set-up")
    })
}

pub(super) fn template() -> String {
    format!("{TEMPLATE}_{}", std::process::id())
}

/// `/dev/shm/keystead-test-<pid>` (tmpfs: initdb in 0.4 s), removing dirs of dead test runs.
fn test_cluster_dir() -> PathBuf {
    let root = if PathBuf::from("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    if let Ok(entries) = std::fs::read_dir(&root) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(pid) = name.strip_prefix("keystead-test-")
                && !PathBuf::from(format!("/proc/{pid}")).exists()
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    root.join(format!("keystead-test-{}", std::process::id()))
}
