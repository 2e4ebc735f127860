//! Real identity providers for the SSO tests, started on 127.0.0.1 by the test itself and
//! stopped when their guard drops: samlify's SAML IdP and panva's `oidc-provider`, pinned in
//! `tests/idp/package.json` and installed once into `target/sso-idp` with `npm ci`.
//!
//! When npm or node is unavailable the tests fail with the reason, unless
//! `KEYSTEAD_SKIP_IDP_TESTS=1` is set, which makes them return early (and say so).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// True when the real-IdP tests are to be skipped (explicit opt-out only).
pub fn skipped(test: &str) -> bool {
    crate::support::skip("KEYSTEAD_SKIP_IDP_TESTS", test)
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Path of a fixture under `tests/fixtures/saml`.
pub fn fixture_path(name: &str) -> String {
    manifest_dir()
        .join("tests/fixtures/saml")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

static INSTALL: OnceLock<Result<PathBuf, String>> = OnceLock::new();

fn installed_version(dir: &std::path::Path, pkg: &str) -> Option<String> {
    let text =
        std::fs::read_to_string(dir.join("node_modules").join(pkg).join("package.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["version"].as_str().map(String::from)
}

/// `target/sso-idp` with the pinned packages and the IdP scripts.
fn install() -> Result<PathBuf, String> {
    let src = manifest_dir().join("tests/idp");
    let dir = manifest_dir().join("target/sso-idp");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for f in [
        "package.json",
        "package-lock.json",
        "saml-idp.mjs",
        "oidc-op.mjs",
    ] {
        std::fs::copy(src.join(f), dir.join(f)).map_err(|e| format!("copying {f}: {e}"))?;
    }
    let wanted: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(src.join("package.json")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let current = wanted["dependencies"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(pkg, v)| installed_version(&dir, pkg).as_deref() == v.as_str());
    if !current {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .output()
            .map_err(|e| format!("running npm: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "npm ci failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    Ok(dir)
}

/// A running IdP process; killed on drop.
pub struct NodeIdp {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
}

impl Drop for NodeIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static START: Mutex<()> = Mutex::new(());

/// Starts `script` (from `tests/idp`) with `envs`; waits for its `LISTENING <port>` line.
pub fn start(script: &str, envs: &[(&str, String)]) -> NodeIdp {
    let _serial = START.lock().unwrap_or_else(|p| p.into_inner());
    let dir = match INSTALL.get_or_init(install) {
        Ok(d) => d.clone(),
        Err(e) => panic!(
            "the test identity providers could not be installed ({e}); \
             set KEYSTEAD_SKIP_IDP_TESTS=1 to skip these tests"
        ),
    };
    let mut cmd = Command::new("node");
    cmd.arg(dir.join(script))
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .expect("node must be installed to run the IdP tests");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(port) = line.strip_prefix("LISTENING ") {
                let _ = tx.send(port.trim().to_string());
            }
        }
    });
    let port = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(p) => p,
        Err(_) => {
            let _ = child.kill();
            panic!("{script} did not start within 30 s");
        }
    };
    NodeIdp {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// The values of an HTML auto-post form (`action`, hidden inputs).
pub fn form_fields(html: &str) -> (String, Vec<(String, String)>) {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let attr = |tag: &str, name: &str| {
        let key = format!("{name}=\"");
        tag.find(&key).map(|i| {
            let rest = &tag[i + key.len()..];
            unescape(&rest[..rest.find('"').unwrap_or(rest.len())])
        })
    };
    let form_start = html.find("<form").expect("a form");
    let form_tag = &html[form_start..form_start + html[form_start..].find('>').unwrap()];
    let action = attr(form_tag, "action").expect("form action");
    let mut fields = Vec::new();
    for chunk in html.split("<input").skip(1) {
        let tag = &chunk[..chunk.find('>').unwrap_or(chunk.len())];
        if let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value")) {
            fields.push((n, v));
        }
    }
    (action, fields)
}

/// Runs `tests/sdk/<script>` with the SDK's interpreter; returns stdout (panics on failure).
pub fn python(script: &str, args: &[&str]) -> String {
    // The oldest Python SDK we support, as locked in tests/sdk/locks/python-oldest.
    let python = crate::support::locks::python("python-oldest");
    let out = Command::new(python)
        .arg(manifest_dir().join("tests/sdk").join(script))
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
