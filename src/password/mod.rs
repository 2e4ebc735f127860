//! Password hashing for `POST /user_management/users` and `PUT /user_management/users/{id}`
//! (`password`, or `password_hash` + `password_hash_type`) and for the password grant of
//! `POST /user_management/authenticate` (`openapi.yaml` tags `user-management.users` and
//! `user-management.authentication`).
//!
//! - New passwords are hashed with argon2id at the OWASP parameters (m = 19456 KiB, t = 2,
//!   p = 1, the argon2 crate defaults) into a PHC string: [`hash`].
//! - Imported hashes (`password_hash_type` ∈ `bcrypt`, `firebase-scrypt`, `ssha`, `scrypt`,
//!   `pbkdf2`, `argon2`) are validated and normalised by [`import()`]; the accepted formats are
//!   listed on [`HashType`].
//! - [`verify`] recognises every stored format by its prefix and compares in constant time;
//!   [`needs_rehash`] tells the login path to upgrade anything that is not current argon2id.
//! - [`Hasher`] runs all of this on a fixed set of threads, so a login flood cannot starve other
//!   requests, and spends one dummy argon2id verification on unknown users. Each of its threads
//!   verifies argon2 hashes in one reused working buffer, released after a quiet spell.

mod argon;
mod encoding;
mod firebase;
mod import;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher};

pub use import::{HashType, InvalidHash, import};

/// Fewest characters (Unicode scalar values) a new password may have.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Most bytes (UTF-8) a new password may have.
pub const MAX_PASSWORD_BYTES: usize = 256;

/// A fixed argon2id hash at the current parameters (of a random password nobody knows), verified
/// against when the user is unknown or has no password, so that costs as much as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$rI9QBdIgNXmWURbKfPvymg$f9HN/sHObiEkzErgco+Djxl8GomqkScSkvTmpq3K3ag";

/// Hashes a new password: argon2id with OWASP parameters and a random 16-byte salt, as a PHC
/// string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
///
/// # Errors
/// Only if the OS random generator fails.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?;
    Ok(hash.to_string())
}

/// Checks `password` against a stored hash of any supported format (see [`HashType`]) in
/// constant time. An unknown, malformed or out-of-limits format yields `false`, never a panic.
pub fn verify(password: &str, stored: &str) -> bool {
    import::StoredHash::parse(stored).is_ok_and(|h| h.verify(password.as_bytes()))
}

/// Whether a stored hash should be replaced by a fresh [`hash`] after the next successful login:
/// true for everything except argon2id v19 with exactly the current parameters.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return true;
    };
    let current = argon2::Params::DEFAULT;
    let output_len = parsed.hash.as_ref().map(|h| h.len());
    !(parsed.algorithm == argon2::ARGON2ID_IDENT
        && parsed.version == Some(argon2::Version::V0x13.into())
        && params.m_cost() == current.m_cost()
        && params.t_cost() == current.t_cost()
        && params.p_cost() == current.p_cost()
        && params.keyid().is_empty()
        && params.data().is_empty()
        && output_len == Some(argon2::Params::DEFAULT_OUTPUT_LEN))
}

/// The strength rule for new passwords (`password` on create/update user, password reset):
/// at least [`MIN_PASSWORD_CHARS`] characters and at most [`MAX_PASSWORD_BYTES`] bytes.
/// Nothing else (no character classes, no breach list), to keep it predictable.
///
/// # Errors
/// A human-readable message for the 400 `password_strength_error` body.
pub fn check_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "Password must be at least {MIN_PASSWORD_CHARS} characters long."
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "Password must be at most {MAX_PASSWORD_BYTES} bytes long."
        ));
    }
    Ok(())
}

/// A unit of work for the hashing threads.
type Job = Box<dyn FnOnce() + Send>;

/// Runs password hashing and verification on a fixed set of `n` dedicated threads, off the
/// async runtime, so a login flood queues instead of stalling other requests.
///
/// Dedicated threads (rather than tokio's blocking pool, which grows to hundreds of threads)
/// also bound memory: each argon2id verification works in 19 MiB. Every thread keeps one such
/// buffer while it is busy (no allocation, page faults or unmapping per login: about a third
/// more logins per second than a fresh buffer each time) and frees it after
/// [`SCRATCH_IDLE`] without work, so memory is at most `n × 19 MiB` above the base during a
/// flood and back to the base when idle.
#[derive(Debug, Clone)]
pub struct Hasher {
    jobs: crossbeam_channel::Sender<Job>,
}

/// How long a hashing thread keeps its working buffer without work.
pub const SCRATCH_IDLE: Duration = Duration::from_secs(5);

impl Hasher {
    /// A hasher with `concurrency` threads (0 = the number of cores).
    pub fn new(concurrency: usize) -> Self {
        let n = if concurrency == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            concurrency
        };
        let (jobs, queue) = crossbeam_channel::bounded::<Job>(1024);
        for i in 0..n {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || {
                    argon::SCRATCH.with(|s| *s.borrow_mut() = Some(Vec::new()));
                    loop {
                        match queue.recv_timeout(SCRATCH_IDLE) {
                            Ok(job) => job(),
                            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                                argon::SCRATCH.with(|s| *s.borrow_mut() = Some(Vec::new()));
                            }
                            // Every Hasher clone is gone.
                            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password-hashing thread");
            }
        }
        Self { jobs }
    }

    /// Runs `f` on a hashing thread and awaits its result.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        let stopped = || anyhow::anyhow!("the password-hashing threads have stopped");
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(crossbeam_channel::TrySendError::Full(job)) => {
                // The queue is bounded: wait for room off the runtime's worker threads.
                let jobs = self.jobs.clone();
                tokio::task::spawn_blocking(move || jobs.send(job))
                    .await?
                    .map_err(|_| stopped())?;
            }
            Err(crossbeam_channel::TrySendError::Disconnected(_)) => return Err(stopped()),
        }
        Ok(result.await?)
    }

    /// [`hash`] on the blocking pool.
    ///
    /// # Errors
    /// If the blocking task fails or the OS random generator fails.
    pub async fn hash(&self, password: String) -> anyhow::Result<String> {
        self.run(move || hash(&password)).await?
    }

    /// [`verify`] on the blocking pool. `stored: None` (unknown user, or a user without a
    /// password) verifies against a fixed dummy argon2id hash and returns `false`, so it takes
    /// as long as a wrong password.
    ///
    /// # Errors
    /// Only if the blocking task cannot run (runtime shutting down) or panics.
    pub async fn verify(&self, password: String, stored: Option<String>) -> anyhow::Result<bool> {
        self.run(move || check(&password, stored.as_deref())).await
    }

    /// [`Hasher::verify`], skipped (`None`) when `skip` is set before a hashing thread takes
    /// the job: a sign-in refused while its check was queued spends no hashing time.
    ///
    /// # Errors
    /// As [`Hasher::verify`].
    pub async fn verify_unless(
        &self,
        password: String,
        stored: Option<String>,
        skip: Arc<AtomicBool>,
    ) -> anyhow::Result<Option<bool>> {
        self.run(move || {
            (!skip.load(Ordering::Acquire)).then(|| check(&password, stored.as_deref()))
        })
        .await
    }
}

/// [`verify`] against `stored`, or against [`DUMMY_HASH`] (then `false`) when there is none.
fn check(password: &str, stored: Option<&str>) -> bool {
    match stored {
        Some(stored) => verify(password, stored),
        None => {
            std::hint::black_box(verify(password, DUMMY_HASH));
            false
        }
    }
}
