//! The `KEYSTEAD_SKIP_*` switches of tests that need a package registry or a browser.

/// Whether to skip `what` because `var` is set to `1` (any other value runs it); says so on
/// stderr when skipping.
pub fn skip(var: &str, what: &str) -> bool {
    let skip = std::env::var(var).is_ok_and(|v| v == "1");
    if skip {
        eprintln!("{var}=1: skipping {what}");
    }
    skip
}
