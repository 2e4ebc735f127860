//! Measures the argon2id hash rate at Keystead's parameters (the ceiling for password logins):
//! `cargo run --release --example argon2_rate -- [threads] [seconds]`. Prints hashes/s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let stored = keystead::password::hash("correct horse battery").unwrap_or_default();
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let count = count.clone();
            let stored = stored.clone();
            std::thread::spawn(move || {
                while Instant::now() < deadline {
                    // A login verifies, which costs the same as hashing at these parameters.
                    let _ = keystead::password::verify("correct horse battery", &stored);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let rate = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!("{rate:.1}");
}
