//! `Idempotency-Key` for mutating requests on API-key routes (POST, PUT, PATCH, DELETE).
//!
//! The first request claims `(environment, key)` with a SHA-256 of method, path, query and body;
//! a replay within 24 h returns the stored status, body and `content-type`/`location` plus
//! `Idempotent-Replayed: true` without running again. The same key with a different request is
//! 422 `idempotency_key_mismatch`; a replay while the first still runs is 409
//! `idempotency_request_in_progress`. A 5xx does not pin the key. State lives in Postgres, so it
//! holds across replicas and restarts (WORKOS-API-NOTES §2.8; the SDKs retry with the same key).
//!
//! Two ways to run a request with a key:
//! - **around the handler** (the default): the claim and the stored answer are each their own
//!   statement, before and after the handler's transaction;
//! - **inside the handler's transaction**, for the routes an area lists (its
//!   `IDEMPOTENT_IN_HANDLER`, gathered by `api::idempotent_in_handler`): the handler runs in an
//!   [`IdempotentTx`] and answers with [`IdempotentTx::commit_json`], which records the key
//!   with the answer as the transaction's last statement and commits the change with it — one
//!   transaction, one commit, one statement more than without a key. When the key turns out to
//!   be taken (a replay, or a concurrent request with the key, which waits on the first one's
//!   row until that commits), the change is rolled back and the stored answer replayed (or 422
//!   for another request's key). Such handlers may therefore run again on a replay, so they
//!   must not act outside their transaction. A client error that ends such a request
//!   outside its transaction (a malformed body, an unknown organization, or a conflict with
//!   what the first request created) is recorded afterwards the same way — and when the key is
//!   taken, the stored answer is replayed instead.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::ids::EnvironmentId;
use crate::state::AppState;
use crate::state::environment_keys::AuthContext;
use crate::store::idempotency::{self, Claim, StoredResponse};

/// Response headers kept with a stored response.
const KEPT_HEADERS: [&str; 2] = ["content-type", "location"];

/// A route whose handler claims its key in its own transaction: `(method, route pattern)`.
pub type InHandlerRoute = (Method, &'static str);

/// The middleware's state: the app and the routes whose handlers take an [`IdempotentTx`].
#[derive(Clone)]
pub struct Idempotency {
    state: AppState,
    in_handler: Arc<[InHandlerRoute]>,
}

impl Idempotency {
    /// The layer's state for `state`, with `in_handler` the routes whose handlers claim their
    /// key themselves (`api::idempotent_in_handler`).
    pub fn new(state: AppState, in_handler: impl IntoIterator<Item = InHandlerRoute>) -> Self {
        Self {
            state,
            in_handler: in_handler.into_iter().collect(),
        }
    }
}

/// A key to record in the handler's transaction (a request extension the middleware sets on
/// an in-handler route; [`IdempotentTx`] takes it).
#[derive(Debug, Clone)]
struct Pending {
    env: EnvironmentId,
    key: String,
    hash: String,
    /// Set once an [`IdempotentTx`] took the key (a second one in the request runs without).
    taken: Arc<AtomicBool>,
    /// Set once the answer is settled: committed with the key, or replayed from it.
    settled: Arc<AtomicBool>,
}

/// The middleware (runs after authentication and rate limiting).
pub async fn idempotency(State(layer): State<Idempotency>, req: Request, next: Next) -> Response {
    match handle(layer, req, next).await {
        Ok(res) | Err(res) => res,
    }
}

async fn handle(layer: Idempotency, req: Request, next: Next) -> Result<Response, Response> {
    let state = layer.state;
    let mutating = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .map(String::from);
    let env = req
        .extensions()
        .get::<AuthContext>()
        .map(|c| c.environment_id.clone());
    let (Some(key), Some(env), true) = (key.filter(|k| !k.is_empty()), env, mutating) else {
        return Ok(next.run(req).await);
    };
    if key.len() > 255 {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be at most 255 characters.",
        )
        .into_response());
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, state.settings.max_body_bytes)
        .await
        .map_err(|_| ApiError::PayloadTooLarge.into_response())?;
    let mut digest = Sha256::new();
    digest.update(parts.method.as_str());
    digest.update(b"\n");
    digest.update(parts.uri.path_and_query().map_or("", |p| p.as_str()));
    digest.update(b"\n");
    digest.update(&bytes);
    let hash = hex::encode(digest.finalize());

    let in_handler = parts.extensions.get::<MatchedPath>().is_some_and(|p| {
        layer
            .in_handler
            .iter()
            .any(|(m, route)| *m == parts.method && *route == p.as_str())
    });
    if in_handler {
        let pending = Pending {
            env,
            key,
            hash,
            taken: Arc::default(),
            settled: Arc::default(),
        };
        let mut req = Request::from_parts(parts, Body::from(bytes));
        req.extensions_mut().insert(pending.clone());
        let res = next.run(req).await;
        return Ok(after_in_handler(&state, &pending, res).await);
    }

    let abandon_after = i64::try_from(state.settings.request_timeout.as_secs()).unwrap_or(30) * 2;
    match idempotency::claim(&state.db, &env, &key, &hash, abandon_after)
        .await
        .map_err(IntoResponse::into_response)?
    {
        Claim::Replay(stored) => {
            metrics::counter!("keystead_idempotency_replays_total").increment(1);
            Ok(replay(stored))
        }
        Claim::Mismatch => Err(mismatch()),
        Claim::InProgress => Err(in_progress()),
        Claim::Started => {
            let res = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            let (parts, body) = res.into_parts();
            let body = match to_bytes(body, usize::MAX).await {
                Ok(b) => b,
                Err(_) => {
                    let _ = idempotency::release(&state.db, &env, &key).await;
                    return Err(
                        ApiError::Internal(anyhow::anyhow!("response body unreadable"))
                            .into_response(),
                    );
                }
            };
            if parts.status.is_server_error() {
                let _ = idempotency::release(&state.db, &env, &key).await;
            } else {
                let stored = stored(&parts, body.to_vec());
                if let Err(e) = idempotency::complete(&state.db, &env, &key, &stored).await {
                    tracing::warn!(error = %e, "could not store the idempotent response");
                }
            }
            Ok(Response::from_parts(parts, Body::from(body)))
        }
    }
}

/// The kept headers of a response, with its status and body, as stored.
fn stored(parts: &axum::http::response::Parts, body: Vec<u8>) -> StoredResponse {
    let headers: Map<String, Value> = KEPT_HEADERS
        .iter()
        .filter_map(|h| {
            parts
                .headers
                .get(*h)
                .and_then(|v| v.to_str().ok())
                .map(|v| ((*h).to_string(), Value::from(v)))
        })
        .collect();
    StoredResponse {
        status: parts.status.as_u16(),
        headers: Value::Object(headers),
        body,
    }
}

/// After an in-handler route ran: a client error the handler's transaction did not record
/// (it ended before or rolled back) is recorded now — or, when the key is already taken,
/// answered from its record. Settled answers and 5xx pass through.
async fn after_in_handler(state: &AppState, pending: &Pending, res: Response) -> Response {
    if pending.settled.load(Ordering::Acquire) || !res.status().is_client_error() {
        return res;
    }
    let (parts, body) = res.into_parts();
    let Ok(body) = to_bytes(body, usize::MAX).await else {
        return ApiError::Internal(anyhow::anyhow!("response body unreadable")).into_response();
    };
    let answer = stored(&parts, body.to_vec());
    let recorded = idempotency::record(
        &state.db,
        &pending.env,
        &pending.key,
        &pending.hash,
        &answer,
    )
    .await;
    match recorded {
        Ok(true) => Response::from_parts(parts, Body::from(body)),
        Ok(false) => answer_taken(state, pending)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        Err(e) => {
            tracing::warn!(error = %e, "could not store the idempotent response");
            Response::from_parts(parts, Body::from(body))
        }
    }
}

/// The answer for a request whose key another request holds: its stored answer, 422 for
/// another request's key, or 409 while that one runs.
async fn answer_taken(state: &AppState, pending: &Pending) -> ApiResult<Response> {
    Ok(
        match idempotency::lookup(&state.db, &pending.env, &pending.key, &pending.hash).await? {
            Claim::Replay(stored) => {
                metrics::counter!("keystead_idempotency_replays_total").increment(1);
                replay(stored)
            }
            Claim::Mismatch => mismatch(),
            Claim::Started | Claim::InProgress => in_progress(),
        },
    )
}

/// The request's transaction on a route that records its `Idempotency-Key` itself (see the
/// module docs): a plain transaction when the request has no key. Store functions take it as
/// `&mut Tx` (it derefs to one); the handler answers with [`IdempotentTx::commit_json`].
/// Dropping it rolls back.
pub struct IdempotentTx {
    tx: Tx,
    pending: Option<Pending>,
    state: AppState,
}

impl FromRequestParts<AppState> for IdempotentTx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let tx = state.db.begin().await?;
        // A second `IdempotentTx` in one request runs without the key.
        let pending = parts
            .extensions
            .get::<Pending>()
            .filter(|p| !p.taken.swap(true, Ordering::AcqRel))
            .cloned();
        Ok(Self {
            tx,
            pending,
            state: state.clone(),
        })
    }
}

impl IdempotentTx {
    /// Answers `status` with `body` as JSON, committed with the change. With a key, the key and
    /// this answer are recorded first, in the transaction; when the key is taken, the change
    /// is rolled back and the key's stored answer replayed instead (422 for another request's
    /// key, 409 while an around-the-handler request holds it).
    pub async fn commit_json<T: Serialize>(
        mut self,
        status: StatusCode,
        body: &T,
    ) -> ApiResult<Response> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Internal(e.into()))?;
        if let Some(pending) = &self.pending {
            let answer = StoredResponse {
                status: status.as_u16(),
                headers: serde_json::json!({"content-type": "application/json"}),
                body: bytes.clone(),
            };
            let recorded = idempotency::record_in(
                &mut self.tx,
                &pending.env,
                &pending.key,
                &pending.hash,
                &answer,
            )
            .await?;
            if !recorded {
                self.tx.rollback().await?;
                let res = answer_taken(&self.state, pending).await?;
                pending.settled.store(true, Ordering::Release);
                return Ok(res);
            }
        }
        self.tx.commit().await?;
        if let Some(pending) = &self.pending {
            pending.settled.store(true, Ordering::Release);
        }
        let mut res = Response::new(Body::from(bytes));
        *res.status_mut() = status;
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Ok(res)
    }
}

impl Deref for IdempotentTx {
    type Target = Tx;
    fn deref(&self) -> &Tx {
        &self.tx
    }
}

impl DerefMut for IdempotentTx {
    fn deref_mut(&mut self) -> &mut Tx {
        &mut self.tx
    }
}

fn mismatch() -> Response {
    ApiError::Unprocessable {
        code: "idempotency_key_mismatch",
        message: "This Idempotency-Key was already used with a different request.".into(),
        errors: Vec::new(),
    }
    .into_response()
}

fn in_progress() -> Response {
    ApiError::Conflict {
        code: Some("idempotency_request_in_progress"),
        message: "A request with this Idempotency-Key is still being processed.".into(),
    }
    .into_response()
}

fn replay(stored: StoredResponse) -> Response {
    let mut res = Response::new(Body::from(stored.body));
    *res.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    if let Value::Object(headers) = stored.headers {
        for (name, value) in headers {
            if let (Ok(name), Some(Ok(value))) = (
                name.parse::<axum::http::HeaderName>(),
                value.as_str().map(HeaderValue::from_str),
            ) {
                res.headers_mut().insert(name, value);
            }
        }
    }
    res.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    res
}
