//! API-key authentication: `Authorization: Bearer sk_…` on every API route.
//!
//! The middleware hashes the key (SHA-256), resolves it to its environment — from an in-memory
//! cache when it can, the database otherwise — and puts an [`AuthContext`] in the request
//! extensions; handlers take the [`Env`] extractor. A missing, unknown or revoked key is a 401
//! with the WorkOS body `{"message": …}` (WORKOS-API-NOTES §2.2).
//!
//! Revocation is immediate across replicas: `api-keys revoke` sends a Postgres `NOTIFY` on
//! [`REVOCATION_CHANNEL`] and every server's listener evicts the key from the cache
//! ([`crate::state::environment_keys::EnvironmentKeyCache`]); entries also expire after
//! [`crate::state::environment_keys::POSITIVE_TTL`], and the whole cache is dropped whenever the
//! listener reconnects. The same listener evicts changed organization and user API keys (the
//! API Keys product) from their validation cache (`crate::state::api_keys`).

use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use sqlx::postgres::PgListener;

use crate::error::ApiError;
use crate::state::AppState;
use crate::state::api_keys::CHANGE_CHANNEL as PRODUCT_KEY_CHANNEL;
/// The resolved key a request carries (defined beside the cache, in `state::environment_keys`).
pub use crate::state::environment_keys::AuthContext;
pub use crate::store::environment_keys::REVOCATION_CHANNEL;

/// Both key caches: the environment keys' and the product API keys' (`state::api_keys`).
fn clear_caches(state: &AppState) {
    state.environment_keys.clear();
    state.api_keys.clear();
}

/// Listens for revocations and evicts them; reconnects (clearing the cache) on failure. The same
/// connection carries the changes of organization and user API keys ([`PRODUCT_KEY_CHANNEL`]),
/// evicted from `state.api_keys`.
pub fn spawn_revocation_listener(
    state: AppState,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let listener = async {
                let mut l = PgListener::connect_with(&state.db).await?;
                l.listen_all([REVOCATION_CHANNEL, PRODUCT_KEY_CHANNEL])
                    .await?;
                clear_caches(&state);
                loop {
                    match l.try_recv().await? {
                        Some(n) if n.channel() == PRODUCT_KEY_CHANNEL => {
                            state.api_keys.evict(n.payload());
                        }
                        Some(n) => state.environment_keys.evict(n.payload()),
                        // The connection was lost and re-established: notifications may be lost.
                        None => clear_caches(&state),
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
                    clear_caches(&state);
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
