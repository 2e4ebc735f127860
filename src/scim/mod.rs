//! The SCIM 2.0 service provider (RFC 7643, RFC 7644) of each directory, at
//! `<public-url>/scim/v2/{directory_id}`: `/Users`, `/Groups` (create, get, list with `filter`,
//! `POST /.search`, PUT, PATCH, DELETE), `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`.
//!
//! Not behind the API-key layer: each request carries the directory's own bearer token
//! ([`require_directory_token`]), resolved by its SHA-256 digest. Responses are
//! `application/scim+json`; errors are RFC 7644 §3.12 bodies ([`error::ScimError`]). Writes map
//! into directory users and groups and record their `dsync.*` events in the same transaction.

pub mod discovery;
pub mod groups;
pub mod query;
pub mod resource;
pub mod resources;
pub mod users;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Map, Value, json};

use crate::crypto::sha256_hex;
use crate::protocols::scim::error::ScimError;
use crate::state::AppState;
use crate::store::directories::{self, ScimDirectory};
use crate::store::directory_groups::GroupRecord;
use crate::store::directory_users::UserRecord;
pub use query::ListQuery;

/// The SCIM media type (RFC 7644 §3.1).
pub use crate::protocols::scim::{CONTENT_TYPE, endpoint};
/// The ListResponse message schema.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Largest page a list returns (advertised as `filter.maxResults`).
pub const MAX_RESULTS: i64 = 1000;

/// The SCIM routes, each behind the directory bearer-token check.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/scim/v2/{directory_id}/Users",
            get(resources::list::<UserRecord>).post(users::create),
        )
        .route(
            "/scim/v2/{directory_id}/Users/.search",
            post(resources::search::<UserRecord>),
        )
        .route(
            "/scim/v2/{directory_id}/Users/{id}",
            get(resources::get_one::<UserRecord>)
                .put(users::replace)
                .patch(users::modify)
                .delete(resources::remove::<UserRecord>),
        )
        .route(
            "/scim/v2/{directory_id}/Groups",
            get(resources::list::<GroupRecord>).post(groups::create),
        )
        .route(
            "/scim/v2/{directory_id}/Groups/.search",
            post(resources::search::<GroupRecord>),
        )
        .route(
            "/scim/v2/{directory_id}/Groups/{id}",
            get(resources::get_one::<GroupRecord>)
                .put(groups::replace)
                .patch(groups::modify)
                .delete(resources::remove::<GroupRecord>),
        )
        .route(
            "/scim/v2/{directory_id}/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/scim/v2/{directory_id}/Schemas", get(discovery::schemas))
        .route(
            "/scim/v2/{directory_id}/Schemas/{id}",
            get(discovery::schema),
        )
        .route(
            "/scim/v2/{directory_id}/ResourceTypes",
            get(discovery::resource_types),
        )
        .route(
            "/scim/v2/{directory_id}/ResourceTypes/{id}",
            get(discovery::resource_type),
        )
        .route("/scim/v2/{directory_id}/.search", post(root_search))
        .route("/scim/v2/{directory_id}/{*rest}", any(unknown))
        .route_layer(middleware::from_fn_with_state(
            state,
            require_directory_token,
        ))
}

/// `POST /.search` across resource types (RFC 7644 §3.4.3) is optional: 501.
async fn root_search() -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "Searching several resource types at once is not supported; use /Users/.search or /Groups/.search.",
    )
}

async fn unknown() -> ScimError {
    ScimError::new(StatusCode::NOT_FOUND, None, "No such SCIM endpoint.")
}

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
    let directory_id = req
        .uri()
        .path()
        .strip_prefix("/scim/v2/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_string();
    let token = crate::http::auth::bearer(req.headers()).ok_or_else(ScimError::unauthorized)?;
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
/// `application/json`). Errors: 400 `invalidSyntax`.
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
        serde_json::from_slice(&bytes).map(ScimJson).map_err(|e| {
            ScimError::invalid_syntax(format!("The request body is not valid JSON: {e}."))
        })
    }
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
