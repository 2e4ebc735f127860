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
//!   `IDEMPOTENT_IN_HANDLER`, gathered by `api::idempotent_in_handler`): the handler takes an
//!   [`IdempotentTx`], whose first statement is the claim, and answers with
//!   [`IdempotentTx::commit_json`], which stores the answer and commits the change with it — one
//!   transaction, one commit, and a concurrent request with the same key waits for it and then
//!   replays. A client error that ends such a request outside that transaction (a malformed
//!   body, a 404 after the claim rolled back) is stored afterwards as before.

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

/// A key to claim in the handler's transaction (a request extension the middleware sets on an
/// in-handler route; [`IdempotentTx`] takes it).
#[derive(Debug, Clone)]
struct Pending {
    env: EnvironmentId,
    key: String,
    hash: String,
    /// Set once the handler's transaction holds the claim (or found a stored answer).
    taken: Arc<AtomicBool>,
    /// Set once the handler committed its answer with the claim.
    completed: Arc<AtomicBool>,
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
            completed: Arc::default(),
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

/// After an in-handler route ran: a client error whose answer the handler's transaction did
/// not store (it ended before the claim, or rolled it back) is stored now, unless another
/// request stored one first. Answers committed by the handler, replays and 5xx pass through.
async fn after_in_handler(state: &AppState, pending: &Pending, res: Response) -> Response {
    let client_error = res.status().is_client_error();
    if pending.completed.load(Ordering::Acquire) || !client_error {
        return res;
    }
    if pending.taken.load(Ordering::Acquire) && res.headers().contains_key(REPLAYED) {
        return res;
    }
    let (parts, body) = res.into_parts();
    let Ok(body) = to_bytes(body, usize::MAX).await else {
        return ApiError::Internal(anyhow::anyhow!("response body unreadable")).into_response();
    };
    let answer = stored(&parts, body.to_vec());
    if let Err(e) = idempotency::store_if_absent(
        &state.db,
        &pending.env,
        &pending.key,
        &pending.hash,
        &answer,
    )
    .await
    {
        tracing::warn!(error = %e, "could not store the idempotent response");
    }
    Response::from_parts(parts, Body::from(body))
}

/// The request's transaction on a route that claims its `Idempotency-Key` itself (see the
/// module docs): a plain transaction when the request has no key. Extracting it begins the
/// transaction and, with a key, claims it first — a stored answer is replayed, a key used for
/// another request is 422 `idempotency_key_mismatch`, one still held by a request of the
/// around-the-handler kind is 409 `idempotency_request_in_progress` (the rejection is the
/// answer). Store functions take it as `&mut Tx` (it derefs to one); the handler answers with
/// [`IdempotentTx::commit_json`]. Dropping it rolls back the change and the claim.
pub struct IdempotentTx {
    tx: Tx,
    pending: Option<Pending>,
}

impl FromRequestParts<AppState> for IdempotentTx {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let mut tx = state
            .db
            .begin()
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
        let Some(pending) = parts.extensions.get::<Pending>().cloned() else {
            return Ok(Self { tx, pending: None });
        };
        if pending.taken.swap(true, Ordering::AcqRel) {
            // A second extractor in one request would claim twice; it runs without a key.
            return Ok(Self { tx, pending: None });
        }
        let claim = idempotency::claim_in(&mut tx, &pending.env, &pending.key, &pending.hash)
            .await
            .map_err(IntoResponse::into_response)?;
        match claim {
            Claim::Started => Ok(Self {
                tx,
                pending: Some(pending),
            }),
            Claim::Replay(stored) => {
                metrics::counter!("keystead_idempotency_replays_total").increment(1);
                Err(replay(stored))
            }
            Claim::Mismatch => Err(mismatch()),
            Claim::InProgress => Err(in_progress()),
        }
    }
}

impl IdempotentTx {
    /// Answers `status` with `body` as JSON: stores the answer with the claimed key (if any)
    /// and commits the transaction, so the change and its idempotent answer land together.
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
            idempotency::complete_in(&mut self.tx, &pending.env, &pending.key, &answer).await?;
        }
        self.tx.commit().await?;
        if let Some(pending) = &self.pending {
            pending.completed.store(true, Ordering::Release);
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

/// The header a replayed answer carries.
const REPLAYED: &str = "idempotent-replayed";

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
        .insert(REPLAYED, HeaderValue::from_static("true"));
    res
}
