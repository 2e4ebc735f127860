//! [`Moto`]: a real S3-compatible server for the tests, `moto_server` from the lock
//! `tests/sdk/locks/moto/` (moto[server] with boto3), on a free loopback port and killed on
//! drop. [`Moto::config`] gives an [`S3Config`] for Keystead's client; [`Moto::create_bucket`],
//! [`Moto::list`] and [`Moto::read`] go through boto3, an independent S3 client, so a test
//! checks what really landed in the bucket.
//!
//! Tests that start it are client-library tests: they return early under
//! `KEYSTEAD_SKIP_SDK_TESTS=1` (`support::skip`), like the SDK tests.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use keystead::storage::S3Config;

use super::command::{ok_or_explain, run};
use super::locks;

/// The access key moto accepts (it checks no signature by default).
pub const ACCESS_KEY_ID: &str = "testing";
/// The matching secret key.
pub const SECRET_ACCESS_KEY: &str = "testing-secret";

/// A running `moto_server`; killed on drop.
pub struct Moto {
    child: Child,
    python: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts `moto_server` on a free port (installing the lock on first use) and waits up to
    /// 30 s until it accepts connections.
    pub fn start() -> Self {
        let python = locks::python("moto");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = python.with_file_name("moto_server");
        let mut child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", server.display()));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                let _ = child.kill();
                panic!("moto_server did not listen on port {port} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            python,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Keystead's client configuration for `bucket` on this server (path-style).
    pub fn config(&self, bucket: &str) -> S3Config {
        S3Config {
            endpoint: Some(self.endpoint.clone()),
            region: "us-east-1".into(),
            bucket: bucket.into(),
            access_key_id: ACCESS_KEY_ID.into(),
            secret_access_key: SECRET_ACCESS_KEY.into(),
            path_style: true,
        }
    }

    /// Runs `code` with boto3's `s3` client bound to this server (`args` in `sys.argv[1:]`);
    /// returns its stdout.
    fn boto3(&self, code: &str, args: &[&str]) -> String {
        let script = format!(
            "import sys, base64, boto3\n\
             s3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-1',\n\
               aws_access_key_id='{ACCESS_KEY_ID}', aws_secret_access_key='{SECRET_ACCESS_KEY}')\n\
             {code}\n",
            self.endpoint
        );
        let out = run(Command::new(&self.python).arg("-c").arg(&script).args(args));
        ok_or_explain(&out, "boto3 against moto", "");
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Creates `bucket`.
    pub fn create_bucket(&self, bucket: &str) {
        self.boto3("s3.create_bucket(Bucket=sys.argv[1])", &[bucket]);
    }

    /// The keys under `prefix` in `bucket`, in key order.
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let code = "p = s3.get_paginator('list_objects_v2')\n\
                    for page in p.paginate(Bucket=sys.argv[1], Prefix=sys.argv[2]):\n\
                    \x20   for o in page.get('Contents', []): print(o['Key'])";
        let mut keys: Vec<String> = self
            .boto3(code, &[bucket, prefix])
            .lines()
            .map(str::to_string)
            .collect();
        keys.sort();
        keys
    }

    /// The bytes of object `key` in `bucket`.
    pub fn read(&self, bucket: &str, key: &str) -> Vec<u8> {
        let code = "body = s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2])['Body'].read()\n\
                    print(base64.b64encode(body).decode())";
        base64::engine::general_purpose::STANDARD
            .decode(self.boto3(code, &[bucket, key]).trim())
            .expect("base64 from boto3")
    }
}
