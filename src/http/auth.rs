//! API-key authentication: `Authorization: Bearer sk_…` on every API route.
//!
//! The middleware hashes the key (SHA-256), resolves it to its environment — from an in-memory
//! cache when it can, the database otherwise — and puts an [`AuthContext`] in the request
//! extensions; handlers take the [`Env`] extractor. A missing, unknown or revoked key is a 401
//! with the WorkOS body `{"message": …}` (WORKOS-API-NOTES §2.2).
//!
//! Revocation is immediate across replicas: `api-keys revoke` sends a Postgres `NOTIFY` on
//! [`REVOCATION_CHANNEL`] and every server's listener evicts the key; entries also expire after
//! [`POSITIVE_TTL`], and the whole cache is dropped whenever the listener reconnects.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use sqlx::postgres::PgListener;

use crate::crypto::sha256_hex;
use crate::error::ApiError;
use crate::ids::EnvironmentId;
use crate::state::AppState;
use crate::store;

pub use crate::store::environment_keys::REVOCATION_CHANNEL;
/// How long a resolved key is trusted without asking the database.
pub const POSITIVE_TTL: Duration = Duration::from_secs(60);
/// How long an unknown key is remembered as unknown.
const NEGATIVE_TTL: Duration = Duration::from_secs(2);
/// Entries kept at most (the cache is cleared when full).
const MAX_ENTRIES: usize = 10_000;

/// Who is calling: the environment the API key belongs to.
#[derive(Debug, Clone)]
pub struct AuthContext {
    /// The environment (`environment_…`); every store call filters on it.
    pub environment_id: EnvironmentId,
    /// The key that authenticated the request (`key_…`).
    pub environment_key_id: String,
    /// The environment's client id (`client_…`).
    pub client_id: String,
}

impl From<store::environment_keys::EnvironmentKeyOwner> for AuthContext {
    fn from(owner: store::environment_keys::EnvironmentKeyOwner) -> Self {
        Self {
            environment_id: owner.environment_id,
            environment_key_id: owner.environment_key_id,
            client_id: owner.client_id,
        }
    }
}

/// Digest → resolution cache for API keys.
#[derive(Debug, Default)]
pub struct EnvironmentKeyCache {
    entries: RwLock<HashMap<String, (Option<AuthContext>, Instant)>>,
}

impl EnvironmentKeyCache {
    /// Resolves a presented key: cached, or looked up and cached.
    pub async fn resolve(
        &self,
        pool: &sqlx::PgPool,
        key: &str,
    ) -> Result<Option<AuthContext>, ApiError> {
        let digest = sha256_hex(key);
        if let Some((ctx, at)) = self
            .entries
            .read()
            .ok()
            .and_then(|m| m.get(&digest).cloned())
        {
            let ttl = if ctx.is_some() {
                POSITIVE_TTL
            } else {
                NEGATIVE_TTL
            };
            if at.elapsed() < ttl {
                return Ok(ctx);
            }
        }
        let ctx = store::environment_keys::authenticate(pool, key)
            .await?
            .map(AuthContext::from);
        if let Ok(mut m) = self.entries.write() {
            if m.len() >= MAX_ENTRIES {
                m.clear();
            }
            m.insert(digest, (ctx.clone(), Instant::now()));
        }
        Ok(ctx)
    }

    /// Forgets one key by digest.
    pub fn evict(&self, digest: &str) {
        if let Ok(mut m) = self.entries.write() {
            m.remove(digest);
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        if let Ok(mut m) = self.entries.write() {
            m.clear();
        }
    }
}

/// Listens for revocations and evicts them; reconnects (clearing the cache) on failure.
pub fn spawn_revocation_listener(
    state: AppState,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let listener = async {
                let mut l = PgListener::connect_with(&state.db).await?;
                l.listen(REVOCATION_CHANNEL).await?;
                state.environment_keys.clear();
                loop {
                    match l.try_recv().await? {
                        Some(n) => state.environment_keys.evict(n.payload()),
                        // The connection was lost and re-established: notifications may be lost.
                        None => state.environment_keys.clear(),
                    }
                }
                #[expect(unreachable_code, reason = "the loop only ends with an error")]
                Ok::<(), sqlx::Error>(())
            };
            tokio::select! {
                r = listener => {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "API-key revocation listener failed; retrying");
                    }
                    state.environment_keys.clear();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                _ = shutdown.changed() => return,
            }
        }
    })
}

/// Extracts the caller's [`AuthContext`]; 401 when the auth layer did not run or failed.
#[derive(Debug, Clone)]
pub struct Env(pub AuthContext);

impl<S: Send + Sync> FromRequestParts<S> for Env {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<AuthContext>()
            .cloned()
            .map(Env)
            .ok_or_else(|| ApiError::Unauthorized("Unauthorized".into()))
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer(parts: &axum::http::HeaderMap) -> Option<&str> {
    let value = parts.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Middleware: resolves the API key or answers 401.
pub async fn require_environment_key(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let key = bearer(req.headers()).ok_or_else(|| {
        ApiError::Unauthorized("No API key provided. Set `Authorization: Bearer sk_…`.".into())
    })?;
    let ctx = state
        .environment_keys
        .resolve(&state.db, key)
        .await?
        .ok_or_else(|| {
            ApiError::Unauthorized("The API key provided is invalid or revoked.".into())
        })?;
    tracing::Span::current().record("environment_id", ctx.environment_id.as_str());
    req.extensions_mut().insert(ctx);
    Ok(next.run(req).await)
}
