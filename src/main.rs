//! The `keystead` binary: parses the command line and runs the server or a CLI command.

use clap::Parser;
use keystead::config::{Cli, Command};

/// mimalloc instead of the system allocator: a request allocates and frees many small
/// buffers (JSON, headers, sqlx rows), and glibc's malloc and free were about 15 % of the
/// server's CPU time under write load (`perf record` during `POST /audit_logs/events`,
/// BENCHMARKS.md). Memory it frees is returned to the OS after a short delay, so the 19 MiB
/// argon2id buffers of a login flood do not pile up.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// Allocations that bypass the global allocator (C libraries such as aws-lc call malloc
/// directly) still use glibc's. Each argon2id hash worked in a 19 MiB buffer from it before
/// mimalloc, and glibc's default raises its mmap threshold after
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
