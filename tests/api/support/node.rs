//! Pinned npm packages for the tests that run Node ([`pinned_npm_package`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::command::{ok_or_explain, run};

/// The directory of the npm package `name` at exactly `version`, installed under the prefix
/// `dir/node` on first use (or when another version is there) and reused afterwards. Installs
/// are serialised between concurrent test runs by the lock file `dir/.lock`. A failed install
/// panics with its output and `hint`.
pub fn pinned_npm_package(dir: &Path, name: &str, version: &str, hint: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create the package's directory");
    let lock = File::create(dir.join(".lock")).expect("lock file");
    lock.lock().expect("lock the package's directory");
    let prefix = dir.join("node");
    let package = prefix.join("node_modules").join(name);
    let installed = std::fs::read_to_string(package.join("package.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .is_some_and(|p| p["version"] == version);
    if !installed {
        let spec = format!("{name}@{version}");
        ok_or_explain(
            &run(Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--prefix",
                ])
                .arg(&prefix)
                .arg(&spec)),
            &format!("npm install {spec}"),
            hint,
        );
    }
    drop(lock);
    package
}
