//! The client libraries the tests run, installed exactly as their lock files under
//! `tests/sdk/locks/<name>/` say: a Python venv from `requirements.txt` ([`python`]) or an npm
//! tree from `package.json` + `package-lock.json` ([`node_modules`]). `scripts/bump-sdks`
//! writes the locks; CI installs what they name and nothing newer.
//!
//! Each lock installs into `target/locks/<name>/` on first use, again whenever its lock files
//! change, and is reused otherwise. Installs are serialised between concurrent test runs by
//! `target/locks/<name>/.lock`. A failed install panics with the installer's output.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::command::{ok_or_explain, run, target_dir};

/// What a failed install needs.
const HINT: &str = "Are the package registries reachable? Set KEYSTEAD_SKIP_SDK_TESTS=1 to skip \
                    the client-library tests.";

/// `tests/sdk/locks/<name>/`.
fn lock_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sdk/locks")
        .join(name)
}

/// Runs `install` in `target/locks/<name>/` unless the stamp there matches the lock files'
/// contents (`files`); returns that directory.
fn installed(name: &str, files: &[&str], install: impl FnOnce(&Path)) -> PathBuf {
    let dir = target_dir("locks").join(name);
    std::fs::create_dir_all(&dir).expect("create the lock's install directory");
    let lock = File::create(dir.join(".lock")).expect("lock file");
    lock.lock().expect("lock the install directory");
    let mut wanted = String::new();
    for file in files {
        let path = lock_dir(name).join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        wanted.push_str(&text);
    }
    let stamp = dir.join(".installed");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        let _ = std::fs::remove_file(&stamp);
        install(&dir);
        std::fs::write(&stamp, wanted).expect("write the install stamp");
    }
    drop(lock);
    dir
}

/// The interpreter of a venv holding exactly `tests/sdk/locks/<name>/requirements.txt`.
pub fn python(name: &str) -> PathBuf {
    let dir = installed(name, &["requirements.txt"], |dir| {
        let venv = dir.join("venv");
        let _ = std::fs::remove_dir_all(&venv);
        ok_or_explain(
            &run(Command::new("python3").args(["-m", "venv"]).arg(&venv)),
            "python3 -m venv",
            HINT,
        );
        ok_or_explain(
            &run(Command::new(venv.join("bin/python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-deps",
                    "-r",
                ])
                .arg(lock_dir(name).join("requirements.txt"))),
            &format!("pip install -r tests/sdk/locks/{name}/requirements.txt"),
            HINT,
        );
    });
    dir.join("venv/bin/python")
}

/// The `node_modules` directory of `npm ci` over `tests/sdk/locks/<name>/`.
pub fn node_modules(name: &str) -> PathBuf {
    let files = ["package.json", "package-lock.json"];
    let dir = installed(name, &files, |dir| {
        for file in files {
            std::fs::copy(lock_dir(name).join(file), dir.join(file))
                .unwrap_or_else(|e| panic!("copy tests/sdk/locks/{name}/{file}: {e}"));
        }
        ok_or_explain(
            &run(Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(dir)),
            &format!("npm ci (tests/sdk/locks/{name})"),
            HINT,
        );
    });
    dir.join("node_modules")
}
