//! Running the installers and tools some tests need: the cache directory they install into
//! ([`target_dir`]), [`run`], and [`ok_or_explain`] for a failed step.

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
