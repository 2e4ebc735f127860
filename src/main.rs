//! The `keystead` binary: parses the command line and runs the server or a CLI command.

use clap::Parser;
use keystead::config::{Cli, Command};

fn main() {
    return_large_allocations_to_the_os();
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| {
            rt.block_on(async {
                match cli.command {
                    None => keystead::app::run(cli.serve).await,
                    Some(Command::Serve(args)) => keystead::app::run(*args).await,
                    Some(Command::Environments(cmd)) => keystead::cli::environments(cmd).await,
                    Some(Command::ApiKeys(cmd)) => keystead::cli::api_keys(cmd).await,
                    Some(Command::FeatureFlags(cmd)) => keystead::cli::feature_flags(cmd).await,
                }
            })
        });
    if let Err(e) = result {
        eprintln!("keystead: {e:#}");
        std::process::exit(1);
    }
}

/// Each argon2id hash works in a 19 MiB buffer. glibc's default raises its mmap threshold after
/// the first such buffer is freed, so later ones come from per-thread arenas that keep the
/// memory: RSS grew to hundreds of MB during a login flood. A fixed 1 MiB threshold makes every
/// large buffer an mmap that is returned on free (one mmap/munmap per hash).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(
    unsafe_code,
    reason = "mallopt(3) is called once, before any other thread exists"
)]
fn return_large_allocations_to_the_os() {
    // SAFETY: mallopt only changes allocator tuning; it is called before threads are spawned.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_allocations_to_the_os() {}
