//! The OpenFeature Remote Evaluation Protocol (OFREP, `open-feature/protocol`
//! `service/openapi.yaml`, "OFREP Core"), so any OpenFeature SDK with an OFREP provider can use
//! Keystead's flags: `POST /ofrep/v1/evaluate/flags/{key}` (one flag) and
//! `POST /ofrep/v1/evaluate/flags` (every flag, with an `ETag` and `If-None-Match` → 304).
//! Authenticated with the environment's API key (`Authorization: Bearer sk_…`).
//!
//! The evaluation context: `targetingKey` is the user id (`user_…`) and `organizationId` the
//! organization id (`org_…`), both optional; other keys are ignored, and an id of the wrong kind
//! or of another environment simply matches no target. Values are booleans with the variant
//! `on`/`off` and the reason `DISABLED`, `TARGETING_MATCH` or `DEFAULT` (the Node SDK's evaluator,
//! [`crate::store::feature_flags::Evaluation::value`]).
//!
//! Errors are OFREP's, not WorkOS's: 400 `{key?, errorCode: PARSE_ERROR | INVALID_CONTEXT,
//! errorDetails}` and 404 `{key, errorCode: FLAG_NOT_FOUND, errorDetails}`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::sdk::{matches, not_modified, with_etag};
use crate::error::ApiResult;
use crate::http::Env;
use crate::http::extract::has_nul;
use crate::ids::{EnvironmentId, OrganizationId, UserId};
use crate::state::AppState;
use crate::store::feature_flags::{self, Evaluation};

/// Routes of OFREP (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ofrep/v1/evaluate/flags", post(evaluate_all))
        .route("/ofrep/v1/evaluate/flags/{key}", post(evaluate_one))
}

/// The parts of an evaluation context Keystead reads.
#[derive(Debug, Default)]
struct Context {
    /// `targetingKey`, when it is a user id.
    user: Option<UserId>,
    /// `organizationId`, when it is an organization id.
    organization: Option<OrganizationId>,
    /// The raw `targetingKey` and `organizationId`, for the bulk ETag.
    raw: (String, String),
}

/// An OFREP failure body with its status.
fn failure(status: StatusCode, key: Option<&str>, code: &str, details: String) -> Response {
    let mut body = json!({ "errorCode": code, "errorDetails": details });
    if let Some(key) = key {
        body["key"] = json!(key);
    }
    (status, axum::Json(body)).into_response()
}

/// Reads `{context?: {targetingKey?: string, organizationId?: string, …}}`.
///
/// Errors (as `(errorCode, errorDetails)`): `PARSE_ERROR` for a body that is not JSON,
/// `INVALID_CONTEXT` for a body or context that is not an object or a key that is not a string.
fn context(body: &[u8]) -> Result<Context, (&'static str, String)> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Context::default());
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        (
            "PARSE_ERROR",
            format!("The request body is not valid JSON: {e}."),
        )
    })?;
    let Value::Object(request) = value else {
        return Err((
            "INVALID_CONTEXT",
            "The request body must be an object.".into(),
        ));
    };
    let ctx = match request.get("context") {
        None | Some(Value::Null) => return Ok(Context::default()),
        Some(Value::Object(ctx)) => ctx,
        Some(_) => return Err(("INVALID_CONTEXT", "context must be an object.".into())),
    };
    let text = |key: &str| match ctx.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err((
            "INVALID_CONTEXT",
            format!("context.{key} must be a string."),
        )),
    };
    let user = text("targetingKey")?;
    let organization = text("organizationId")?;
    Ok(Context {
        user: UserId::parse_lenient(&user),
        organization: OrganizationId::parse_lenient(&organization),
        raw: (user, organization),
    })
}

/// An OFREP evaluation success for one flag.
fn success(e: &Evaluation) -> Value {
    let (value, reason) = e.value();
    json!({
        "key": e.slug,
        "value": value,
        "reason": reason.as_str(),
        "variant": if value { "on" } else { "off" },
        "metadata": {},
    })
}

/// `POST /ofrep/v1/evaluate/flags/{key}` → 200 `{key, value, reason, variant, metadata}`.
///
/// Errors: 400 `PARSE_ERROR` / `INVALID_CONTEXT`; 404 `FLAG_NOT_FOUND`.
async fn evaluate_one(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(key): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let context = match context(&body) {
        Ok(c) => c,
        Err((code, details)) => {
            return Ok(failure(StatusCode::BAD_REQUEST, Some(&key), code, details));
        }
    };
    let found = if has_nul(&key) {
        None
    } else {
        let mut conn = state.db.acquire().await?;
        feature_flags::evaluations(
            &mut conn,
            &ctx.environment_id,
            context.user.as_ref(),
            context.organization.as_ref(),
            Some(&key),
        )
        .await?
        .into_iter()
        .next()
    };
    Ok(match found {
        Some(e) => axum::Json(success(&e)).into_response(),
        None => failure(
            StatusCode::NOT_FOUND,
            Some(&key),
            "FLAG_NOT_FOUND",
            format!("Flag '{key}' was not found."),
        ),
    })
}

/// The strong ETag of a bulk evaluation: the environment, its flag version and the context it
/// was evaluated for.
fn bulk_etag(env: &EnvironmentId, version: i64, context: &Context) -> String {
    let mut hash = Sha256::new();
    hash.update(env.as_str().as_bytes());
    hash.update([0]);
    hash.update(context.raw.0.as_bytes());
    hash.update([0]);
    hash.update(context.raw.1.as_bytes());
    let digest = hex::encode(hash.finalize());
    format!("\"{version}.{}\"", &digest[..16])
}

/// `POST /ofrep/v1/evaluate/flags` → 200 `{flags: [{key, value, reason, variant, metadata}]}`
/// with an `ETag`; 304 when `If-None-Match` holds it (the flags have not changed since, for the
/// same context).
///
/// Errors: 400 `{errorCode: PARSE_ERROR | INVALID_CONTEXT, errorDetails}`.
async fn evaluate_all(
    State(state): State<AppState>,
    Env(ctx): Env,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let context = match context(&body) {
        Ok(c) => c,
        Err((code, details)) => return Ok(failure(StatusCode::BAD_REQUEST, None, code, details)),
    };
    let env = &ctx.environment_id;
    let mut conn = state.db.acquire().await?;
    // The version is read first: a change landing between the two reads makes the tag older than
    // the body, so the next poll fetches again (never the reverse).
    let etag = bulk_etag(env, feature_flags::version(&mut conn, env).await?, &context);
    if matches(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let rows = feature_flags::evaluations(
        &mut conn,
        env,
        context.user.as_ref(),
        context.organization.as_ref(),
        None,
    )
    .await?;
    drop(conn);
    let flags: Vec<Value> = rows.iter().map(success).collect();
    Ok(with_etag(
        axum::Json(json!({ "flags": flags })).into_response(),
        &etag,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_names_the_user_and_the_organization() {
        let user = UserId::new();
        let body = json!({"context": {"targetingKey": user, "organizationId": "nope", "x": 1}});
        let ctx = context(body.to_string().as_bytes()).unwrap();
        assert_eq!(ctx.user, Some(user));
        assert_eq!(ctx.organization, None);
        assert!(context(b"").unwrap().user.is_none());
        assert_eq!(context(b"{").unwrap_err().0, "PARSE_ERROR");
        assert_eq!(context(b"[]").unwrap_err().0, "INVALID_CONTEXT");
        assert_eq!(
            context(br#"{"context": {"targetingKey": 5}}"#)
                .unwrap_err()
                .0,
            "INVALID_CONTEXT"
        );
    }
}
