//! `GET /sdk/feature-flags`: what the Node SDK's feature-flag runtime client
//! (`workos.featureFlags.createRuntimeClient()`, `src/feature-flags/runtime-client.ts`) polls with
//! the environment's API key, and the ETag handling that makes an unchanged poll a 304.
//!
//! Two payloads, as the SDKs read them:
//! - without `payload_version` (or `1`): `{<slug>: {slug, enabled, default_value, targets: {users:
//!   [{id, enabled}], organizations: [{id, enabled}]}}}`, the shape of the SDK's first runtime
//!   client;
//! - `payload_version=2` (what `@workos-inc/node` 12 sends): `{version: 2, flags: {<slug>: {slug,
//!   enabled, default_value, off_value: false, rules: [{id, kind: "conditions", value,
//!   conditions: [{operator: "one_of", target_type: "user"|"organization", values}]}]}}}`, the
//!   user rules before the organization rules, so its first-match evaluation is the evaluator's
//!   order.
//!
//! The strong `ETag` is the environment's flag version (bumped by a trigger in every transaction
//! that changes a flag or a target) and the payload version; an `If-None-Match` that matches it
//! answers `304 Not Modified` after one indexed read.

use axum::Router;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};
use crate::http::{Env, QueryMap};
use crate::ids::EnvironmentId;
use crate::state::AppState;
use crate::store::feature_flags::{self, Snapshot, SnapshotFlag, SnapshotTarget};

/// Routes of the runtime client's poll (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new().route("/sdk/feature-flags", get(poll_flags))
}

/// Whether an `If-None-Match` header lists `etag` (weak comparison, RFC 9110 §13.1.2; `*`
/// matches any).
pub fn matches(headers: &HeaderMap, etag: &str) -> bool {
    let wanted = etag.trim_start_matches("W/");
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == wanted)
}

/// `304 Not Modified` carrying `etag`.
pub fn not_modified(etag: &str) -> Response {
    with_etag(StatusCode::NOT_MODIFIED.into_response(), etag)
}

/// Adds `ETag: etag` and `Cache-Control: private, no-cache` (revalidate every time).
pub fn with_etag(mut res: Response, etag: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.headers_mut().insert(ETAG, v);
    }
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    res
}

/// The payload shape a poll asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PayloadVersion {
    V1,
    V2,
}

/// The strong ETag of the environment's flags at `version` in payload `pv`.
fn etag(env: &EnvironmentId, version: i64, pv: PayloadVersion) -> String {
    let pv = match pv {
        PayloadVersion::V1 => 1,
        PayloadVersion::V2 => 2,
    };
    format!("\"{env}.{version}.p{pv}\"")
}

fn targets(list: &[SnapshotTarget]) -> Value {
    json!(list)
}

fn v1_entry(f: &SnapshotFlag) -> Value {
    json!({
        "slug": f.slug,
        "enabled": f.enabled,
        "default_value": f.default_value,
        "targets": {
            "users": targets(&f.users),
            "organizations": targets(&f.organizations),
        },
    })
}

fn v2_entry(f: &SnapshotFlag) -> Value {
    let mut rules = Vec::new();
    for (target_type, list, plural) in [
        ("user", &f.users, "users"),
        ("organization", &f.organizations, "organizations"),
    ] {
        for value in [true, false] {
            let values: Vec<&str> = list
                .iter()
                .filter(|t| t.enabled == value)
                .map(|t| t.id.as_str())
                .collect();
            if values.is_empty() {
                continue;
            }
            let state = if value { "on" } else { "off" };
            rules.push(json!({
                "id": format!("{}.{plural}.{state}", f.id),
                "kind": "conditions",
                "value": value,
                "conditions": [{
                    "operator": "one_of",
                    "target_type": target_type,
                    "values": values,
                }],
            }));
        }
    }
    json!({
        "slug": f.slug,
        "enabled": f.enabled,
        "default_value": f.default_value,
        "off_value": false,
        "rules": rules,
    })
}

/// The poll body of `snapshot` in payload `pv`.
fn body(snapshot: &Snapshot, pv: PayloadVersion) -> Value {
    let entry = match pv {
        PayloadVersion::V1 => v1_entry,
        PayloadVersion::V2 => v2_entry,
    };
    let flags: Map<String, Value> = snapshot
        .flags
        .iter()
        .map(|f| (f.slug.clone(), entry(f)))
        .collect();
    match pv {
        PayloadVersion::V1 => Value::Object(flags),
        PayloadVersion::V2 => json!({ "version": 2, "flags": flags }),
    }
}

/// `GET /sdk/feature-flags[?payload_version=2]` → 200 with the environment's flags and their
/// targets and an `ETag`, or 304 when `If-None-Match` holds the current one.
///
/// Errors: 422 for a `payload_version` other than 1 or 2.
async fn poll_flags(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let pv = match q.get("payload_version") {
        None | Some("1") => PayloadVersion::V1,
        Some("2") => PayloadVersion::V2,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "payload_version",
                "invalid",
                "payload_version must be 1 or 2.",
            ));
        }
    };
    let env = &ctx.environment_id;
    let mut conn = state.db.acquire().await?;
    if headers.contains_key(IF_NONE_MATCH) {
        let current = etag(env, feature_flags::version(&mut conn, env).await?, pv);
        if matches(&headers, &current) {
            return Ok(not_modified(&current));
        }
    }
    let snapshot = feature_flags::snapshot(&mut conn, env).await?;
    drop(conn);
    let tag = etag(env, snapshot.version, pv);
    Ok(with_etag(
        axum::Json(body(&snapshot, pv)).into_response(),
        &tag,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists() {
        assert!(matches(&headers("\"a\""), "\"a\""));
        assert!(matches(&headers("W/\"a\""), "\"a\""));
        assert!(matches(&headers("\"b\", \"a\""), "\"a\""));
        assert!(matches(&headers("*"), "\"a\""));
        assert!(!matches(&headers("\"b\""), "\"a\""));
        assert!(!matches(&HeaderMap::new(), "\"a\""));
    }
}
