//! Smoke tests with the official WorkOS SDKs: the Python (`workos`) and Node
//! (`@workos-inc/node`) packages, locked in `tests/sdk/locks/`, drive the real `keystead` binary
//! over HTTP.
//!
//! The SDKs are installed from their package registries into `target/locks/` on first use
//! ([`locks`]) and reused afterwards. The server runs with its own embedded
//! PostgreSQL in a temporary data dir, or, when `DATABASE_URL` is set, on a fresh database
//! created on that server. `tests/sdk/smoke.py` and `tests/sdk/smoke.mjs` must exit 0.
//!
//! Sealed sessions (`tests/sdk/sealed_session.py`) run with the oldest Python SDK we support and
//! the newest published one ([`PYTHON_OLDEST`], [`PYTHON_NEWEST`]), each in its own venv. The
//! Node smoke script and its sealed-session twin (`tests/sdk/sealed_session.mjs`) run with both
//! locked Node SDKs ([`NODE_OLDEST`], [`NODE_NEWEST`]), each under its own npm prefix.
//!
//! Set `KEYSTEAD_SKIP_SDK_TESTS=1` to skip (for machines without registry access); otherwise a
//! failed install fails the test with the installer's output.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

use crate::support::locks;

// The SDKs under test are the oldest we support and the newest published one of each, installed
// exactly as their lock files say (`tests/sdk/locks/{python,node}-{oldest,newest}/`). To bump
// deliberately: `scripts/bump-sdks newest`, read the changelogs for wire changes, run
// `scripts/test --test api sdk`, and fix Keystead or report what the new SDK expects. Raise
// the oldest locks (`scripts/bump-sdks oldest …`) only when that version is no longer supported.

/// The oldest Python SDK we support (10.7).
const PYTHON_OLDEST: &str = "python-oldest";
/// The newest published Python SDK (10.8 when locked): its session-cookie check requires an
/// integer `auth_time`.
const PYTHON_NEWEST: &str = "python-newest";
/// The oldest Node SDK we support (11.0).
const NODE_OLDEST: &str = "node-oldest";
/// The newest published Node SDK (12.3 when locked): its `verifyAccessToken` (behind
/// `authenticate`) requires `sid` and a numeric `auth_time` in the access token.
const NODE_NEWEST: &str = "node-newest";

const API_KEY: &str = "sk_test_sdksmoke0123456789abcdefghij";
const CLIENT_ID: &str = "client_01SDKSMOKE0000000000000000";

/// The package directory of the Node SDK that lock `name` installs.
fn node_sdk(name: &str) -> PathBuf {
    locks::node_modules(name).join("@workos-inc/node")
}

/// The running server; SIGTERM on drop (also when the test panics), then cleanup.
struct Server {
    child: Child,
    base_url: String,
    log: PathBuf,
    scratch: PathBuf,
    database: Option<(PgConnectOptions, String)>,
}

impl Server {
    fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the server with extra environment variables (e.g. settings under test).
    fn start_with(env: &[(&str, &str)]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let root = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let scratch = root.join(format!("keystead-sdk-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch).expect("scratch dir");
        let log = scratch.join("server.log");
        let log_file = File::create(&log).expect("log file");

        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keystead"));
        cmd.arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(scratch.join("data"))
            .env("KEYSTEAD_BOOTSTRAP_API_KEY", API_KEY)
            .env("KEYSTEAD_BOOTSTRAP_CLIENT_ID", CLIENT_ID)
            .env("KEYSTEAD_LOG", "info")
            .env("KEYSTEAD_LOG_FORMAT", "json")
            .env_remove("KEYSTEAD_PUBLIC_URL")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file);
        let database = std::env::var("DATABASE_URL")
            .ok()
            .map(|url| fresh_database(&url, port));
        match &database {
            Some((_, url)) => cmd.env("DATABASE_URL", url),
            None => cmd.env_remove("DATABASE_URL"),
        };
        let child = cmd.spawn().expect("spawn keystead");
        let mut server = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            log,
            scratch,
            database: database.map(|(admin, url)| {
                let name = url_database(&url);
                (admin, name)
            }),
        };
        server.wait_healthy(port);
        server
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_healthy(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "keystead exited ({status}) before /health answered:\n{}",
                    self.log_text()
                );
            }
            if health(port) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "keystead did not answer GET /health within 90 s:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.scratch);
        if let Some((admin, name)) = self.database.take() {
            drop_database(admin, &name);
        }
    }
}

/// `GET /health` answered 200, over a plain socket.
fn health(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}

fn url_database(url: &str) -> String {
    url::Url::parse(url)
        .expect("url")
        .path()
        .trim_start_matches('/')
        .to_string()
}

/// Creates `keystead_sdk_<pid>_<port>` on the server at `url`; returns (admin options, its URL).
fn fresh_database(url: &str, port: u16) -> (PgConnectOptions, String) {
    let admin: PgConnectOptions = url.parse().expect("DATABASE_URL");
    let name = format!("keystead_sdk_{}_{port}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut conn = admin.connect().await.expect("connect to DATABASE_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "drop database if exists {name}"
        )))
        .execute(&mut conn)
        .await
        .expect("drop database");
        sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
            .execute(&mut conn)
            .await
            .expect("create database");
    });
    let mut fresh = url::Url::parse(url).expect("DATABASE_URL is a URL");
    fresh.set_path(&format!("/{name}"));
    (admin, fresh.to_string())
}

fn drop_database(admin: PgConnectOptions, name: &str) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async {
        if let Ok(mut conn) = admin.connect().await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "drop database if exists {name} with (force)"
            )))
            .execute(&mut conn)
            .await;
        }
    });
}

/// Runs each labelled script against `server`, printing the outputs of those that pass, and
/// panics with every failure's report and the server log when any fails.
fn run_scripts<'a>(server: &Server, runs: impl IntoIterator<Item = (&'a str, Command)>) {
    let mut failures = Vec::new();
    for (label, cmd) in runs {
        match run_script(label, cmd, server) {
            Ok(output) => println!("{output}"),
            Err(report) => failures.push(report),
        }
    }
    if !failures.is_empty() {
        panic!(
            "{}\n--- server log\n{}",
            failures.join("\n\n"),
            server.log_text()
        );
    }
}

/// Runs one smoke script with a 5-minute limit; returns whether it passed and its output.
fn run_script(label: &str, mut cmd: Command, server: &Server) -> Result<String, String> {
    let out_path = server.scratch.join(format!("{label}.out"));
    let out = File::create(&out_path).expect("script output file");
    let mut child = cmd
        .env("KEYSTEAD_BASE_URL", &server.base_url)
        .env("KEYSTEAD_API_KEY", API_KEY)
        .env("KEYSTEAD_CLIENT_ID", CLIENT_ID)
        .env_remove("WORKOS_API_KEY")
        .env_remove("WORKOS_CLIENT_ID")
        .env_remove("WORKOS_BASE_URL")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("output"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("could not start the {label} smoke script: {e}"));
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    match status {
        Some(s) if s.success() => Ok(output),
        Some(s) => Err(format!("{label} smoke script exited with {s}:\n{output}")),
        None => Err(format!(
            "{label} smoke script timed out after 300 s:\n{output}"
        )),
    }
}

#[test]
fn official_sdks_drive_the_real_server() {
    if crate::support::skip("KEYSTEAD_SKIP_SDK_TESTS", "the WorkOS SDK smoke tests") {
        return;
    }
    let python = locks::python(PYTHON_OLDEST);
    let node_package = node_sdk(NODE_OLDEST);
    let node_newest = node_sdk(NODE_NEWEST);
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    let server = Server::start();

    let mut py = Command::new(&python);
    py.arg(scripts.join("smoke.py"));
    let node = |package: &Path| {
        let mut node = Command::new("node");
        node.arg(scripts.join("smoke.mjs"))
            .env("KEYSTEAD_NODE_SDK_DIR", package);
        node
    };

    run_scripts(
        &server,
        [
            ("python", py),
            ("node", node(&node_package)),
            ("node-newest", node(&node_newest)),
        ],
    );
}

/// The Python SDK drives every User Management flow (`tests/sdk/user_management.py`), including
/// the 403 pending-authentication steps, against a server that requires verified emails.
#[test]
fn official_python_sdk_drives_user_management() {
    if crate::support::skip(
        "KEYSTEAD_SKIP_SDK_TESTS",
        "the WorkOS SDK User Management test",
    ) {
        return;
    }
    let python = locks::python(PYTHON_OLDEST);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/user_management.py");
    let server = Server::start_with(&[("KEYSTEAD_REQUIRE_EMAIL_VERIFICATION", "true")]);
    let mut py = Command::new(&python);
    py.arg(script);
    match run_script("python-um", py, &server) {
        Ok(output) => println!("{output}"),
        Err(report) => panic!("{report}\n--- server log\n{}", server.log_text()),
    }
}

/// Both pinned Python SDKs seal a password sign-in into a session cookie, authenticate it
/// (`authenticate_with_session_cookie`, `load_sealed_session`), refresh it, and log out through
/// `get_logout_url` (`tests/sdk/sealed_session.py`).
#[test]
fn official_python_sdks_seal_refresh_and_log_out_sessions() {
    if crate::support::skip(
        "KEYSTEAD_SKIP_SDK_TESTS",
        "the WorkOS SDK sealed-session test",
    ) {
        return;
    }
    let oldest = locks::python(PYTHON_OLDEST);
    let newest = locks::python(PYTHON_NEWEST);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/sealed_session.py");
    let server = Server::start();
    let python = |venv: &Path| {
        let mut py = Command::new(venv);
        py.arg(&script);
        py
    };
    run_scripts(
        &server,
        [
            ("python-sealed-oldest", python(&oldest)),
            ("python-sealed-newest", python(&newest)),
        ],
    );
}

/// Both pinned Node SDKs seal a password sign-in into a session cookie
/// (`authenticateWithPassword` with `sealSession`), authenticate it (`authenticateWithSessionCookie`,
/// `loadSealedSession().authenticate()`), refresh it, and log out through `getLogoutUrl`
/// (`tests/sdk/sealed_session.mjs`).
#[test]
fn official_node_sdks_seal_refresh_and_log_out_sessions() {
    if crate::support::skip(
        "KEYSTEAD_SKIP_SDK_TESTS",
        "the WorkOS Node SDK sealed-session test",
    ) {
        return;
    }
    let oldest = node_sdk(NODE_OLDEST);
    let newest = node_sdk(NODE_NEWEST);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/sealed_session.mjs");
    let server = Server::start();
    let node = |package: &Path| {
        let mut node = Command::new("node");
        node.arg(&script).env("KEYSTEAD_NODE_SDK_DIR", package);
        node
    };
    run_scripts(
        &server,
        [
            ("node-sealed-oldest", node(&oldest)),
            ("node-sealed-newest", node(&newest)),
        ],
    );
}
