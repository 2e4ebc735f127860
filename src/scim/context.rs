//! What every SCIM handler shares: the authenticated directory ([`ScimContext`], set by the
//! [`require_directory_token`] middleware), the body and query extractors ([`ScimJson`],
//! [`ScimQuery`], which refuse a NUL character in SCIM's error shape, RFC 7644 §3.12; [`ScimId`]
//! for a path id), and the
//! response builders (`application/scim+json`, `ETag`/`Location`, RFC 7644 §3.4.2 ListResponse,
//! §3.14 `If-Match` preconditions).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::resource;
use crate::crypto::sha256_hex;
use crate::http::QueryMap;
use crate::http::extract::{has_nul, nul_field};
use crate::ids::DirectoryId;
use crate::protocols::scim::error::ScimError;
use crate::protocols::scim::{CONTENT_TYPE, endpoint};
use crate::state::AppState;
use crate::store::directories::{self, ScimDirectory};

/// The ListResponse message schema.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Largest page a list returns (advertised as `filter.maxResults`).
pub const MAX_RESULTS: i64 = 1000;

/// The directory a request acts on and its SCIM base URL.
#[derive(Debug, Clone)]
pub struct ScimContext {
    /// The authenticated directory.
    pub dir: ScimDirectory,
    /// `<public-url>/scim/v2/{directory_id}` (for `meta.location` and `$ref`).
    pub base: String,
}

impl<S: Send + Sync> FromRequestParts<S> for ScimContext {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ScimError> {
        parts
            .extensions
            .get::<ScimContext>()
            .cloned()
            .ok_or_else(ScimError::unauthorized)
    }
}

/// Middleware: the path's directory must be linked and the bearer token must be its current
/// SCIM token; 401 otherwise (the same answer for an unknown directory, so ids do not leak).
pub async fn require_directory_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ScimError> {
    // A malformed directory id names no directory: the same 401 as an unknown one.
    let directory_id = req
        .uri()
        .path()
        .strip_prefix("/scim/v2/")
        .and_then(|rest| rest.split('/').next())
        .and_then(DirectoryId::parse_lenient);
    let token = crate::http::auth::bearer(req.headers()).ok_or_else(ScimError::unauthorized)?;
    let Some(directory_id) = directory_id else {
        return Err(ScimError::unauthorized());
    };
    let mut conn = state.db.acquire().await?;
    let dir = directories::authenticate_scim(&mut conn, &directory_id, &sha256_hex(token))
        .await?
        .ok_or_else(ScimError::unauthorized)?;
    drop(conn);
    tracing::Span::current().record("environment_id", dir.environment_id.as_str());
    let base = endpoint(&state.settings.public_url, &dir.id);
    req.extensions_mut().insert(ScimContext { dir, base });
    Ok(next.run(req).await)
}

/// A JSON request body, whatever its content type (`application/scim+json` or
/// `application/json`). Errors: 400 `invalidSyntax`; 400 `invalidValue` for a NUL character
/// (`\u0000`) in any string or key, which no stored text can hold.
#[derive(Debug)]
pub struct ScimJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimJson {
    type Rejection = ScimError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ScimError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ScimError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    None,
                    "The request body is too large.",
                )
            } else {
                ScimError::invalid_syntax("The request body could not be read.")
            }
        })?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ScimError::invalid_syntax(format!("The request body is not valid JSON: {e}."))
        })?;
        match nul_field(&value) {
            Some(field) => Err(refuse_nul(&field)),
            None => Ok(ScimJson(value)),
        }
    }
}

/// The query string (`filter`, `attributes`, `startIndex`, …). Errors: 400 `invalidValue` for a
/// NUL character (`%00`) in a name or value.
#[derive(Debug)]
pub struct ScimQuery(pub QueryMap);

impl<S: Send + Sync> FromRequestParts<S> for ScimQuery {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ScimError> {
        let raw = parts.uri.query().unwrap_or_default();
        let nul = url::form_urlencoded::parse(raw.as_bytes())
            .find(|(k, v)| has_nul(k) || has_nul(v))
            .map(|(k, _)| k.replace('\0', "\\u0000"));
        match nul {
            Some(name) => Err(refuse_nul(&name)),
            None => Ok(ScimQuery(QueryMap::parse(raw))),
        }
    }
}

/// The `{id}` of a resource path (`/Users/{id}`, `/Schemas/{id}`, …). An id that is not UTF-8
/// names no resource: SCIM's 404, like an unknown one (a NUL character reaches the handler,
/// which finds nothing under it).
#[derive(Debug)]
pub struct ScimId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ScimId {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ScimError> {
        match Path::<(String, String)>::from_request_parts(parts, state).await {
            Ok(Path((_, id))) => Ok(ScimId(id)),
            Err(_) => Err(ScimError::new(
                StatusCode::NOT_FOUND,
                None,
                "No resource has that id.",
            )),
        }
    }
}

fn refuse_nul(field: &str) -> ScimError {
    ScimError::invalid_value(format!("{field} must not contain a NUL character."))
}

/// A SCIM JSON response with the SCIM content type, and for single resources the `ETag` and
/// (on 201) `Location` headers.
pub fn respond(status: StatusCode, body: Map<String, Value>) -> Response {
    let etag = body
        .get("meta")
        .and_then(|m| m.get("version"))
        .and_then(Value::as_str)
        .and_then(|v| HeaderValue::from_str(v).ok());
    let location = (status == StatusCode::CREATED)
        .then(|| {
            body.get("meta")
                .and_then(|m| m.get("location"))
                .and_then(Value::as_str)
        })
        .flatten()
        .and_then(|v| HeaderValue::from_str(v).ok());
    let mut res = (status, axum::Json(Value::Object(body))).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Some(e) = etag {
        h.insert(header::ETAG, e);
    }
    if let Some(l) = location {
        h.insert(header::LOCATION, l);
    }
    res
}

/// 412 when an `If-Match` header is present and names neither `*` nor the current version.
pub fn check_if_match(headers: &HeaderMap, version: i32) -> Result<(), ScimError> {
    let Some(want) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let current = resource::etag(version);
    let ok = want.split(',').map(str::trim).any(|t| {
        t == "*" || t == current || t.trim_start_matches("W/") == current.trim_start_matches("W/")
    });
    if ok {
        Ok(())
    } else {
        Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            "The resource has changed (If-Match does not match its version).",
        ))
    }
}

/// A ListResponse with `itemsPerPage` equal to the number of resources returned.
pub fn list_response(total: i64, start_index: i64, resources: Vec<Map<String, Value>>) -> Response {
    let body = json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    match body {
        Value::Object(m) => respond(StatusCode::OK, m),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
