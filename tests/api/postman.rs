//! The Postman collection (`postman/keystead.postman_collection.json`, format v2.1, which
//! Apidog imports too) and its environment (`postman/keystead.postman_environment.json`):
//!
//! - they are byte for byte what `scripts/gen-postman.py` writes from `openapi.yaml` (run with
//!   the pinned PyYAML of `tests/api/openapi.rs`), so they stay generated;
//! - they have the v2.1 shape: `info.schema`, folders of requests on `{{baseUrl}}`, bearer auth
//!   with `{{apiKey}}`, the environment's `baseUrl`, `apiKey` and `clientId`;
//! - newman (installed as `tests/sdk/locks/newman/` locks it, into `target/locks/newman/` on
//!   first use; a failed install fails the test; `scripts/bump-sdks tools` moves it) runs the collection against the real `keystead serve`: every
//!   request runs, every assertion holds (each checks its request's status, and the ids it
//!   captures flow into later requests), and no response is a 5xx.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::binary::Server;
use crate::support::TestApp;
use crate::support::command::{ok_or_explain, run, target_dir};
use crate::support::locks;
use crate::support::python::pinned_venv;

const COLLECTION: &str = "keystead.postman_collection.json";
const ENVIRONMENT: &str = "keystead.postman_environment.json";
const SCHEMA_V2_1: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

const API_KEY: &str = "sk_test_postman0123456789abcdefghijklm";
const CLIENT_ID: &str = "client_01POSTMAN000000000000000000";
const NEEDS: &str = "The staleness check needs python3 with venv and pip (Debian: python3-venv \
                     python3-pip) and the Python package registry once (PyYAML).";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The requests of a collection (items with a `request`), depth first.
fn requests(items: &Value, out: &mut Vec<Value>) {
    for item in items.as_array().expect("item array") {
        if item.get("request").is_some() {
            out.push(item.clone());
        } else {
            requests(&item["item"], out);
        }
    }
}

#[test]
fn postman_files_are_what_gen_postman_writes() {
    let python = pinned_venv(
        &target_dir("pyyaml"),
        &format!("pyyaml=={}", crate::openapi::PYYAML),
        NEEDS,
    );
    let out_dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("gen-postman-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    ok_or_explain(
        &run(Command::new(&python)
            .current_dir(root())
            .arg("scripts/gen-postman.py")
            .arg("openapi.yaml")
            .arg(&out_dir)),
        "scripts/gen-postman.py",
        NEEDS,
    );
    for name in [COLLECTION, ENVIRONMENT] {
        let want = std::fs::read_to_string(out_dir.join(name)).expect("generated file");
        let have = std::fs::read_to_string(root().join("postman").join(name)).unwrap_or_default();
        assert!(
            want == have,
            "postman/{name} differs from what scripts/gen-postman.py writes: do not edit it by \
             hand; change the script's PLAN (or openapi.yaml's sources) and run \
             `python3 scripts/gen-postman.py`"
        );
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn the_collection_is_postman_v2_1_with_the_environment_variables() {
    let collection = read_json(&root().join("postman").join(COLLECTION));
    assert_eq!(collection["info"]["schema"], SCHEMA_V2_1);
    assert!(collection["info"]["name"].is_string());
    assert_eq!(collection["auth"]["type"], "bearer");
    assert_eq!(collection["auth"]["bearer"][0]["value"], "{{apiKey}}");
    let mut items = Vec::new();
    requests(&collection["item"], &mut items);
    assert!(items.len() > 50, "{} requests", items.len());
    for item in &items {
        let name = item["name"].as_str().expect("name");
        let request = &item["request"];
        assert!(
            ["GET", "POST", "PUT", "PATCH", "DELETE"]
                .contains(&request["method"].as_str().unwrap_or("")),
            "{name}: method"
        );
        let raw = request["url"]["raw"].as_str().expect("url.raw");
        assert!(raw.starts_with("{{baseUrl}}/"), "{name}: {raw}");
        if let Some(body) = request.get("body") {
            assert_eq!(body["mode"], "raw", "{name}");
            let _: Value = serde_json::from_str(body["raw"].as_str().expect("raw body"))
                .unwrap_or_else(|e| panic!("{name}: the body is not JSON: {e}"));
        }
        let tests = item["event"]
            .as_array()
            .expect("events")
            .iter()
            .find(|e| e["listen"] == "test")
            .unwrap_or_else(|| panic!("{name}: no test script"));
        let script = tests["script"]["exec"].as_array().expect("exec");
        assert!(
            script
                .iter()
                .any(|l| l.as_str().is_some_and(|l| l.contains("to.have.status("))),
            "{name}: its test does not check the status"
        );
    }
    let environment = read_json(&root().join("postman").join(ENVIRONMENT));
    let keys: Vec<&str> = environment["values"]
        .as_array()
        .expect("values")
        .iter()
        .filter_map(|v| v["key"].as_str())
        .collect();
    assert_eq!(keys, ["baseUrl", "apiKey", "clientId"]);
}

/// The `newman` script of the locked install.
fn newman() -> PathBuf {
    locks::node_modules("newman").join("newman/bin/newman.js")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newman_runs_the_collection_against_keystead_serve() {
    let newman = newman();
    let app = TestApp::new().await;
    app.allow_pending_jobs();
    let server = Server::start(
        &app,
        API_KEY,
        CLIENT_ID,
        &[
            ("KEYSTEAD_RATE_LIMITS", "off"),
            ("KEYSTEAD_WEBHOOK_WORKER_DISABLED", "true"),
            ("KEYSTEAD_AUDIT_LOG_STREAM_WORKER_DISABLED", "true"),
        ],
    )
    .await;
    let scratch =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("newman-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let report = scratch.join("report.json");
    let dir = root().join("postman");
    let out = run(Command::new("node")
        .arg(&newman)
        .arg("run")
        .arg(dir.join(COLLECTION))
        .arg("-e")
        .arg(dir.join(ENVIRONMENT))
        .args(["--env-var", &format!("baseUrl={}", server.base_url)])
        .args(["--env-var", &format!("apiKey={API_KEY}")])
        .args(["--env-var", &format!("clientId={CLIENT_ID}")])
        .args(["--reporters", "cli,json", "--reporter-json-export"])
        .arg(&report)
        .args(["--color", "off", "--timeout-request", "30000"]));
    let cli = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = server.stop();
    let result = std::fs::read_to_string(&report).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&scratch);
    let result: Value = serde_json::from_str(&result)
        .unwrap_or_else(|e| panic!("newman wrote no JSON report ({e}):\n{cli}"));
    let summary = &result["run"];

    let mut items = Vec::new();
    requests(&read_json(&dir.join(COLLECTION))["item"], &mut items);
    let executions = summary["executions"].as_array().expect("executions");
    let server_errors: Vec<String> = executions
        .iter()
        .filter(|e| e["response"]["code"].as_u64().is_some_and(|c| c >= 500))
        .map(|e| format!("{} -> {}", e["item"]["name"], e["response"]["code"]))
        .collect();
    let failures: Vec<String> = summary["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|f| {
            format!(
                "{}: {} ({})",
                f["source"]["name"], f["error"]["test"], f["error"]["message"]
            )
        })
        .collect();
    let stats = &summary["stats"];
    eprintln!(
        "newman: {} requests, {} assertions ({} failed)",
        stats["requests"]["total"], stats["assertions"]["total"], stats["assertions"]["failed"]
    );
    assert!(
        server_errors.is_empty(),
        "5xx responses: {server_errors:?}\n{log}"
    );
    assert!(
        failures.is_empty(),
        "newman failures:\n{}\n{cli}",
        failures.join("\n")
    );
    assert_eq!(stats["assertions"]["failed"], 0, "{cli}");
    assert_eq!(
        executions.len(),
        items.len(),
        "newman ran {} of the collection's {} requests:\n{cli}",
        executions.len(),
        items.len()
    );
    assert_eq!(
        stats["requests"]["total"].as_u64(),
        Some(items.len() as u64)
    );
    assert_eq!(stats["requests"]["failed"], 0, "{cli}");
    assert!(
        stats["assertions"]["total"].as_u64().unwrap_or(0) >= items.len() as u64,
        "every request asserts its status:\n{cli}"
    );
    assert!(out.status.success(), "newman exited {}:\n{cli}", out.status);
}
