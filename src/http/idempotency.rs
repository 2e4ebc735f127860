//! `Idempotency-Key` for mutating requests on API-key routes (POST, PUT, PATCH, DELETE).
//!
//! The first request claims `(environment, key)` with a SHA-256 of method, path, query and body;
//! a replay within 24 h returns the stored status, body and `content-type`/`location` plus
//! `Idempotent-Replayed: true` without running again. The same key with a different request is
//! 422 `idempotency_key_mismatch`; a replay while the first still runs is 409
//! `idempotency_request_in_progress`. A 5xx does not pin the key. State lives in Postgres, so it
//! holds across replicas and restarts (WORKOS-API-NOTES §2.8; the SDKs retry with the same key).

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;
use crate::state::environment_keys::AuthContext;
use crate::store::idempotency::{self, Claim, StoredResponse};

/// Response headers kept with a stored response.
const KEPT_HEADERS: [&str; 2] = ["content-type", "location"];

/// The middleware (runs after authentication and rate limiting).
pub async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match handle(state, req, next).await {
        Ok(res) | Err(res) => res,
    }
}

async fn handle(state: AppState, req: Request, next: Next) -> Result<Response, Response> {
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

    let abandon_after = i64::try_from(state.settings.request_timeout.as_secs()).unwrap_or(30) * 2;
    match idempotency::claim(&state.db, &env, &key, &hash, abandon_after)
        .await
        .map_err(IntoResponse::into_response)?
    {
        Claim::Replay(stored) => {
            metrics::counter!("keystead_idempotency_replays_total").increment(1);
            Ok(replay(stored))
        }
        Claim::Mismatch => Err(ApiError::Unprocessable {
            code: "idempotency_key_mismatch",
            message: "This Idempotency-Key was already used with a different request.".into(),
            errors: Vec::new(),
        }
        .into_response()),
        Claim::InProgress => Err(ApiError::Conflict {
            code: Some("idempotency_request_in_progress"),
            message: "A request with this Idempotency-Key is still being processed.".into(),
        }
        .into_response()),
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
                let stored = StoredResponse {
                    status: parts.status.as_u16(),
                    headers: Value::Object(headers),
                    body: body.to_vec(),
                };
                if let Err(e) = idempotency::complete(&state.db, &env, &key, &stored).await {
                    tracing::warn!(error = %e, "could not store the idempotent response");
                }
            }
            Ok(Response::from_parts(parts, Body::from(body)))
        }
    }
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
