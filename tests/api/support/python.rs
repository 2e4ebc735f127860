//! Pinned Python environments for the tests that run Python ([`pinned_venv`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::command::{ok_or_explain, run};

/// The python of the venv `dir/venv` with `requirement` (`name==version`) installed: made on
/// first use (or when another version is there) and reused afterwards. Installs are serialised
/// between concurrent test runs by the lock file `dir/.lock`. A failed step panics with its
/// output and `hint`.
pub fn pinned_venv(dir: &Path, requirement: &str, hint: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create the venv's directory");
    let lock = File::create(dir.join(".lock")).expect("lock file");
    lock.lock().expect("lock the venv's directory");
    let venv = dir.join("venv");
    let python = venv.join("bin").join("python");
    let (name, version) = requirement
        .split_once("==")
        .expect("a pinned requirement (name==version)");
    let probe = format!(
        "import importlib.metadata as m, sys; sys.exit(m.version('{name}') != '{version}')"
    );
    let installed = python.exists()
        && run(Command::new(&python).args(["-c", &probe]))
            .status
            .success();
    if !installed {
        let _ = std::fs::remove_dir_all(&venv);
        ok_or_explain(
            &run(Command::new("python3").args(["-m", "venv"]).arg(&venv)),
            "python3 -m venv",
            hint,
        );
        ok_or_explain(
            &run(Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                requirement,
            ])),
            &format!("pip install {requirement}"),
            hint,
        );
    }
    drop(lock);
    python
}
