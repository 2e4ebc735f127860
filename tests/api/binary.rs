//! Runs the real `keystead serve` binary against a test's database, for tests that need real
//! sockets, several replicas or the process's log output.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::TestApp;

/// A running `keystead serve`; killed (SIGKILL) on drop if still running.
pub struct Server {
    pub base_url: String,
    pub api_key: String,
    pub log_path: PathBuf,
    child: Child,
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Server {
    /// Starts the binary on the app's database with a bootstrap key and client id of its own
    /// and the given extra environment; waits until `/health` answers (30 s at most).
    pub async fn start(
        app: &TestApp,
        api_key: &str,
        client_id: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let port = free_port();
        let log_path =
            std::env::temp_dir().join(format!("keystead-test-{}-{port}.log", std::process::id()));
        let log = std::fs::File::create(&log_path).expect("log file");
        let data_dir =
            std::env::temp_dir().join(format!("keystead-test-data-{}-{port}", std::process::id()));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keystead"));
        cmd.args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(&data_dir)
            .env("DATABASE_URL", &app.database_url)
            .env("KEYSTEAD_ENCRYPTION_KEY", crate::cli::TEST_ENCRYPTION_KEY)
            .env("KEYSTEAD_BOOTSTRAP_API_KEY", api_key)
            .env("KEYSTEAD_BOOTSTRAP_CLIENT_ID", client_id)
            .env("KEYSTEAD_LOG_FORMAT", "json")
            .env_remove("KEYSTEAD_REDIS_URL")
            .env_remove("KEYSTEAD_RATE_LIMITS")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn keystead");
        let server = Self {
            base_url: format!("http://127.0.0.1:{port}"),
            api_key: api_key.to_string(),
            log_path,
            child,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let healthy = http.get(format!("{}/health", server.base_url)).send().await;
            if healthy.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "keystead did not start: {}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (10 s at most) for the process to exit; returns its log.
    pub fn stop(mut self) -> String {
        self.terminate();
        self.wait_exit(Duration::from_secs(10));
        self.log()
    }

    /// Sends SIGTERM and asserts the process shut down gracefully (exit status 0) within 10 s.
    pub fn stop_cleanly(mut self) {
        self.terminate();
        assert!(
            self.wait_exit(Duration::from_secs(10)),
            "no exit: {}",
            self.log()
        );
        let status = self.child.try_wait().ok().flatten();
        assert!(
            status.is_some_and(|s| s.success()),
            "graceful shutdown: {status:?}\n{}",
            self.log()
        );
    }

    /// Sends SIGTERM without waiting.
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Waits up to `limit` for the process to exit; true when it did.
    pub fn wait_exit(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// A request builder with this server's API key.
    pub fn request(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        http.request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.api_key)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log_path);
    }
}
