//! The embedded default: a private PostgreSQL cluster run from the machine's installed server
//! binaries, listening only on a Unix socket inside the data dir.
//!
//! Recipe (CRATES.md §3): find the binaries (`pg_config --bindir`, `PATH`,
//! `/usr/lib/postgresql/*/bin`); when running as root, run `initdb` and `postgres` as the
//! `postgres` system user; spawn `postgres` as a direct child with `PR_SET_PDEATHSIG`, so it cannot
//! outlive a killed server; stop it with SIGINT (fast shutdown) on drop.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::postgres::PgConnectOptions;

/// The port number only names the socket file (`.s.PGSQL.5432`); nothing listens on TCP.
const PORT: u16 = 5432;

/// A running private cluster. Dropping it stops PostgreSQL (fast shutdown) and waits for it.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    socket_dir: PathBuf,
    pid: i32,
    exited: Mutex<mpsc::Receiver<()>>,
}

/// How the cluster is tuned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync on: the server's data must survive a crash.
    Durable,
    /// fsync, synchronous_commit and full_page_writes off: test clusters on tmpfs.
    Ephemeral,
}

/// Uid/gid to run PostgreSQL as (the `postgres` user when we are root).
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

impl EmbeddedPostgres {
    /// Initialises (first time) and starts a cluster under `base` (`base/data`, `base/sock`,
    /// `base/postgres.log`); blocks until it accepts connections, at most 30 s.
    ///
    /// Errors when no server binaries are installed (with a one-line hint), when `initdb` fails
    /// (its output is included), or when the server does not come up.
    pub fn start(base: &Path, durability: Durability) -> anyhow::Result<Self> {
        let bindir = find_bindir().context(
            "no PostgreSQL server binaries found (looked at `pg_config --bindir`, PATH and \
             /usr/lib/postgresql/*/bin): install them (Debian: apt-get install postgresql) or set DATABASE_URL",
        )?;
        let run_as = run_as()?;
        fs::create_dir_all(base).with_context(|| format!("creating {}", base.display()))?;
        let base = fs::canonicalize(base)?;
        let data = base.join("data");
        let sock = base.join("sock");
        fs::create_dir_all(&sock)?;
        fs::create_dir_all(&data)?;
        let log_path = base.join("postgres.log");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        for dir in [&base, &data, &sock] {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        if let Some(r) = run_as {
            let granted = grant_search(&base, r)?;
            if !granted.is_empty() {
                tracing::warn!(
                    dirs = ?granted,
                    "granted others search permission (o+x) so the postgres user can reach the data directory"
                );
            }
            for path in [&base, &data, &sock, &log_path] {
                std::os::unix::fs::chown(path, Some(r.uid), Some(r.gid))
                    .with_context(|| format!("chown {} to postgres", path.display()))?;
            }
        }

        if !data.join("PG_VERSION").exists() {
            let mut initdb = Command::new(bindir.join("initdb"));
            initdb
                .args([
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ])
                .arg("--no-instructions")
                .arg("-D")
                .arg(&data)
                .env("HOME", &base)
                .stdin(Stdio::null());
            if durability == Durability::Ephemeral {
                initdb.arg("--no-sync");
            }
            if let Some(r) = run_as {
                initdb.uid(r.uid).gid(r.gid);
            }
            let out = initdb.output().context("running initdb")?;
            if !out.status.success() {
                bail!(
                    "initdb failed in {}: {}{}",
                    data.display(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }

        let mut cmd = Command::new(bindir.join("postgres"));
        cmd.arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(&sock)
            .args(["-p", &PORT.to_string(), "-c", "listen_addresses="])
            .args(["-c", "max_connections=200"])
            .env("HOME", &base)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if durability == Durability::Ephemeral {
            cmd.args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
                .args(["-c", "full_page_writes=off"]);
        }
        if let Some(r) = run_as {
            cmd.uid(r.uid).gid(r.gid);
        }
        die_with_parent(&mut cmd);

        // The thread that spawns postgres is its "parent" for PR_SET_PDEATHSIG, so it must live
        // exactly as long as postgres does: it spawns, reports the pid, then waits.
        let (pid_tx, pid_rx) = mpsc::channel();
        let (exit_tx, exit_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("embedded-postgres".into())
            .spawn(move || match cmd.spawn() {
                Ok(mut child) => {
                    let _ = pid_tx.send(Ok(child.id()));
                    let _ = child.wait();
                    let _ = exit_tx.send(());
                }
                Err(e) => {
                    let _ = pid_tx.send(Err(e));
                }
            })?;
        let pid = pid_rx
            .recv()
            .context("postgres spawner thread died")?
            .context("spawning postgres")?;
        let pg = Self {
            socket_dir: sock,
            pid: i32::try_from(pid)?,
            exited: Mutex::new(exit_rx),
        };
        pg.wait_ready(&data, &log_path)?;
        Ok(pg)
    }

    /// Connection options for database `db` over the private socket, as user `postgres`.
    pub fn connect_options(&self, db: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(PORT)
            .username("postgres")
            .database(db)
    }

    /// A `postgres://` URL for database `db` (for tools that take a URL).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@localhost:{PORT}/{db}?host={}",
            self.socket_dir.display()
        )
    }

    /// Waits until `postmaster.pid` reports `ready` (what `pg_ctl -w` checks) and the socket
    /// accepts connections.
    fn wait_ready(&self, data: &Path, log_path: &Path) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let socket = self.socket_dir.join(format!(".s.PGSQL.{PORT}"));
        let ready = || {
            fs::read_to_string(data.join("postmaster.pid")).is_ok_and(|pid| {
                pid.lines()
                    .nth(7)
                    .is_some_and(|status| status.trim() == "ready")
            })
        };
        loop {
            if self.exited.lock().is_ok_and(|rx| rx.try_recv().is_ok()) {
                let log = fs::read_to_string(log_path).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                bail!(
                    "postgres exited during start-up: {}",
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                );
            }
            if ready() && std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "postgres did not accept connections within 30 s (see {})",
                    log_path.display()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the cluster (SIGINT = fast shutdown) and waits up to 10 s for it to exit.
    pub fn stop(&self) {
        let Ok(exited) = self.exited.lock() else {
            return;
        };
        signal(self.pid, libc::SIGINT);
        if exited.recv_timeout(Duration::from_secs(10)).is_err() {
            signal(self.pid, libc::SIGQUIT);
            let _ = exited.recv_timeout(Duration::from_secs(5));
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The directory holding `initdb` and `postgres`, if any is installed.
pub fn find_bindir() -> Option<PathBuf> {
    let has_server = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_server(&dir) {
            return Some(dir);
        }
    }
    if let Some(dir) =
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).find(|d| has_server(d)))
    {
        return Some(dir);
    }
    let mut versions: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| has_server(d))
        .collect();
    // Highest major version first ("9.6" < "15" numerically, not lexically).
    versions.sort_by_key(|d| {
        d.parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .and_then(|n| n.split('.').next())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop()
}

/// Makes every ancestor of `dir` searchable by the `postgres` user (PostgreSQL must reach its
/// data directory): an ancestor that neither belongs to it nor lets others search gets `o+x`
/// (search only, no listing). Returns the directories changed.
fn grant_search(dir: &Path, run_as: RunAs) -> anyhow::Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    for ancestor in dir.ancestors().skip(1) {
        let meta = fs::metadata(ancestor)?;
        let mode = meta.permissions().mode();
        let reachable = mode & 0o001 != 0
            || (meta.uid() == run_as.uid && mode & 0o100 != 0)
            || (meta.gid() == run_as.gid && mode & 0o010 != 0);
        if !reachable {
            fs::set_permissions(ancestor, fs::Permissions::from_mode(mode | 0o001)).with_context(
                || {
                    format!(
                        "making {} searchable for the postgres user",
                        ancestor.display()
                    )
                },
            )?;
            changed.push(ancestor.to_path_buf());
        }
    }
    Ok(changed)
}

/// `Some(postgres user)` when we run as root (initdb refuses to), `None` otherwise.
fn run_as() -> anyhow::Result<Option<RunAs>> {
    let euid = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1);
    if euid != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    let user = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f[0] == "postgres")
        .context("running as root needs a `postgres` system user to run PostgreSQL as")?;
    Ok(Some(RunAs {
        uid: user[2].parse()?,
        gid: user[3].parse()?,
    }))
}

#[expect(unsafe_code, reason = "prctl(PR_SET_PDEATHSIG) between fork and exec")]
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT);
            Ok(())
        });
    }
}

#[expect(unsafe_code, reason = "kill(2) on our own child's pid")]
fn signal(pid: i32, sig: i32) {
    // SAFETY: kill takes plain integers and has no memory effects.
    unsafe {
        libc::kill(pid, sig);
    }
}
