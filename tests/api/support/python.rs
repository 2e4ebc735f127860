//! Pinned Python environments for the tests that run Python ([`pinned_venv`]), and the
//! command helpers they share ([`run`], [`ok_or_explain`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// `target/<name>`: a cache directory shared by the test runs of this target dir.
pub fn target_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join(name)
}

/// Runs `cmd` to completion with no stdin; panics when it cannot be started.
pub fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("could not run {shown}: {e}"))
}

/// Panics unless `out` succeeded, with `what`, `hint` (what the test needs) and the output.
pub fn ok_or_explain(out: &Output, what: &str, hint: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}). {hint}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

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
