//! Audit-log streams, a Keystead extension (`x-keystead-extension`) for what WorkOS configures
//! in its dashboard and Admin Portal: `POST /organizations/{id}/audit_log_stream` (create → 201,
//! or reconfigure the organization's existing stream in place → 200), `GET` (200, 404 when the
//! organization has none) and `DELETE` (204, 404). The stream also appears, as the spec's
//! `log_stream`, in `GET /organizations/{id}/audit_log_configuration` ([`log_stream`]).
//!
//! Bodies, by `type` (422 `invalid_request_parameters` with `errors: [{code, field}]` naming
//! every bad field; `required`, `invalid`, `invalid_url`, `too_long`; nothing written):
//! - `GenericHttps`: `{url}`. A signing secret (`whsec_…`) is generated and returned **once**,
//!   in this response's `secret`.
//! - `Datadog`: `{api_key, site?, url?, service?}`: `site` is one of [`DATADOG_SITES`]
//!   (`datadoghq.com` by default); `url` overrides the intake base URL
//!   (`https://http-intake.logs.<site>`), for a proxy.
//! - `Splunk`: `{url, token, index?, sourcetype?}`: `url` is the HTTP Event Collector's base
//!   URL (`https://splunk.example.com:8088`).
//! - `S3`: `{bucket, access_key_id, secret_access_key, region?, endpoint?, path_style?,
//!   prefix?}`: any S3-compatible store; `endpoint` for one other than AWS (path-style by
//!   default then), `prefix` before every object key.
//!
//! URLs must be `https://` (`http://` while the environment's `allow_http_webhook_endpoints`
//! setting is on). The secret (`api_key`, `token`, `secret_access_key`, the generated signing
//! secret) is sealed with the server's key and never returned or logged afterwards. Another
//! environment's organization is a 404. Delivery: `workers::audit_log_streams`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::schemas::validation_failed;
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath};
use crate::ids::{EnvironmentId, OrganizationId};
use crate::limits::{TOKEN_MAX, URL_MAX};
use crate::state::AppState;
use crate::store::audit_log_streams::{self as streams, AuditLogStream, NewStream};
use crate::store::{environment_settings, organizations};

/// Datadog sites a stream may name (`site`), each with its logs intake host
/// `http-intake.logs.<site>`.
pub const DATADOG_SITES: &[&str] = &[
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ddog-gov.com",
];

/// Longest short setting (`service`, `index`, `sourcetype`, `region`, `access_key_id`).
const SHORT_MAX: usize = 128;
/// Longest S3 key prefix.
const PREFIX_MAX: usize = 512;

/// Field errors collected over the whole body, `(field, code)`.
type Errors = Vec<(String, &'static str)>;

/// Reads a body's fields, collecting every problem.
struct Fields<'a> {
    body: &'a Map<String, Value>,
    allow_http: bool,
    errors: Errors,
}

impl Fields<'_> {
    fn fail(&mut self, field: &str, code: &'static str) {
        self.errors.push((field.to_string(), code));
    }

    /// A string of 1..=`max` characters, or `None` (with the error recorded).
    fn string(&mut self, field: &str, required: bool, max: usize) -> Option<String> {
        match self.body.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.fail(field, "required");
                }
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                self.fail(field, if required { "required" } else { "invalid" });
                None
            }
            Some(Value::String(s)) if s.chars().count() > max => {
                self.fail(field, "too_long");
                None
            }
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(_) => {
                self.fail(field, "invalid");
                None
            }
        }
    }

    /// An absolute `https://` URL (or `http://` when allowed), without credentials, query or
    /// fragment.
    fn url(&mut self, field: &str, required: bool) -> Option<String> {
        let raw = self.string(field, required, URL_MAX)?;
        let ok = url::Url::parse(&raw).ok().filter(|u| {
            (u.scheme() == "https" || (self.allow_http && u.scheme() == "http"))
                && u.host_str().is_some_and(|h| !h.is_empty())
                && u.username().is_empty()
                && u.password().is_none()
                && u.query().is_none()
                && u.fragment().is_none()
        });
        match ok {
            Some(u) => Some(u.as_str().trim_end_matches('/').to_string()),
            None => {
                self.fail(field, "invalid_url");
                None
            }
        }
    }

    fn bool(&mut self, field: &str) -> Option<bool> {
        match self.body.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.fail(field, "invalid");
                None
            }
        }
    }
}

/// A validated stream body: its type, settings and (plain) secret.
struct Parsed {
    kind: &'static str,
    config: Value,
    secret: String,
    /// The secret is generated here and shown once (`GenericHttps`).
    show_secret: bool,
}

/// An S3 bucket name: 3–63 lowercase letters, digits, dots and hyphens, starting and ending
/// with a letter or digit.
fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// An object key prefix: segments of printable characters joined by `/`, none empty, `.` or
/// `..`; returned with one trailing `/` (or empty).
fn normalize_prefix(p: &str) -> Option<String> {
    let p = p.trim_matches('/');
    if p.is_empty() {
        return Some(String::new());
    }
    let ok = p
        .split('/')
        .all(|s| !s.is_empty() && s != "." && s != ".." && !s.chars().any(char::is_control));
    ok.then(|| format!("{p}/"))
}

fn parse(body: &Map<String, Value>, allow_http: bool) -> ApiResult<Parsed> {
    let mut f = Fields {
        body,
        allow_http,
        errors: Vec::new(),
    };
    let kind = match body.get("type") {
        None | Some(Value::Null) => Err("required"),
        Some(Value::String(t)) => match t.as_str() {
            "GenericHttps" => Ok("GenericHttps"),
            "Datadog" => Ok("Datadog"),
            "Splunk" => Ok("Splunk"),
            "S3" => Ok("S3"),
            _ => Err("invalid"),
        },
        Some(_) => Err("invalid"),
    };
    let kind = kind.map_err(|code| validation_failed(vec![("type".into(), code)]))?;
    let parsed = match kind {
        "GenericHttps" => {
            let url = f.url("url", true);
            url.map(|url| Parsed {
                kind,
                config: json!({ "url": url }),
                secret: format!("whsec_{}", crate::crypto::random_alphanumeric(32)),
                show_secret: true,
            })
        }
        "Datadog" => {
            let api_key = f.string("api_key", true, TOKEN_MAX);
            let site = f.string("site", false, SHORT_MAX);
            if site.as_deref().is_some_and(|s| !DATADOG_SITES.contains(&s)) {
                f.fail("site", "invalid");
            }
            let url = f.url("url", false);
            let service = f.string("service", false, SHORT_MAX);
            let site = site.unwrap_or_else(|| DATADOG_SITES[0].to_string());
            let url = url.unwrap_or_else(|| format!("https://http-intake.logs.{site}"));
            api_key.map(|secret| Parsed {
                kind,
                config: json!({ "site": site, "url": url, "service": service }),
                secret,
                show_secret: false,
            })
        }
        "Splunk" => {
            let url = f.url("url", true);
            let token = f.string("token", true, TOKEN_MAX);
            let index = f.string("index", false, SHORT_MAX);
            let sourcetype = f.string("sourcetype", false, SHORT_MAX);
            url.zip(token).map(|(url, secret)| Parsed {
                kind,
                config: json!({ "url": url, "index": index, "sourcetype": sourcetype }),
                secret,
                show_secret: false,
            })
        }
        _ => {
            let bucket = f.string("bucket", true, 63);
            if bucket.as_deref().is_some_and(|b| !valid_bucket(b)) {
                f.fail("bucket", "invalid");
            }
            let access_key_id = f.string("access_key_id", true, SHORT_MAX);
            let secret = f.string("secret_access_key", true, TOKEN_MAX);
            let region = f.string("region", false, SHORT_MAX);
            let endpoint = f.url("endpoint", false);
            let path_style = f.bool("path_style");
            let prefix = f.string("prefix", false, PREFIX_MAX);
            let prefix = match prefix.as_deref().map(normalize_prefix) {
                Some(None) => {
                    f.fail("prefix", "invalid");
                    None
                }
                Some(Some(p)) => Some(p),
                None => Some(String::new()),
            };
            let path_style = path_style.unwrap_or(endpoint.is_some());
            match (bucket, access_key_id, secret, prefix) {
                (Some(bucket), Some(access_key_id), Some(secret), Some(prefix)) => Some(Parsed {
                    kind,
                    config: json!({
                        "bucket": bucket,
                        "region": region.unwrap_or_else(|| "us-east-1".into()),
                        "access_key_id": access_key_id,
                        "endpoint": endpoint,
                        "path_style": path_style,
                        "prefix": prefix,
                    }),
                    secret,
                    show_secret: false,
                }),
                _ => None,
            }
        }
    };
    match parsed {
        Some(p) if f.errors.is_empty() => Ok(p),
        _ => Err(validation_failed(f.errors)),
    }
}

/// 404 unless `org` is an organization of `env`.
async fn require_org(
    conn: &mut sqlx::PgConnection,
    env: &EnvironmentId,
    org: &OrganizationId,
) -> ApiResult<()> {
    organizations::find(conn, env, org)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found("Organization", org))
}

fn no_stream(org: &OrganizationId) -> ApiError {
    ApiError::NotFound {
        entity: "Audit Log Stream",
        id: format!("organization {org}"),
        code: Some("entity_not_found"),
    }
}

/// The stream as returned, plus `secret` when it is shown once.
fn with_secret(stream: &AuditLogStream, secret: Option<&str>) -> ApiResult<Value> {
    let mut v = serde_json::to_value(stream).map_err(|e| ApiError::Internal(e.into()))?;
    if let (Some(secret), Some(obj)) = (secret, v.as_object_mut()) {
        obj.insert("secret".into(), Value::from(secret));
    }
    Ok(v)
}

/// `POST /organizations/{id}/audit_log_stream`: creates the organization's stream (201) or
/// reconfigures its existing one (200, same id, state back to `active`, queued events kept).
/// Errors: 404 unknown organization, 422 bad body.
pub async fn create_stream(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(org): IdPath<OrganizationId>,
    AppJson(body): AppJson<Map<String, Value>>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let env = &ctx.environment_id;
    let mut tx = state.db.begin().await?;
    require_org(&mut tx, env, &org).await?;
    let allow_http = environment_settings::get(&mut tx, env, &state.settings)
        .await?
        .allow_http_webhook_endpoints;
    let parsed = parse(&body, allow_http)?;
    let new = NewStream {
        kind: parsed.kind,
        config: parsed.config,
        secret_enc: state.vault.seal(parsed.secret.as_bytes())?,
    };
    let (stream, created) = streams::upsert(&mut tx, env, &org, new).await?;
    tx.commit().await?;
    let shown = parsed.show_secret.then_some(parsed.secret.as_str());
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(with_secret(&stream, shown)?)))
}

/// `GET /organizations/{id}/audit_log_stream`. Errors: 404 unknown organization or no stream.
pub async fn get_stream(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(org): IdPath<OrganizationId>,
) -> ApiResult<Json<AuditLogStream>> {
    let mut conn = state.db.acquire().await?;
    require_org(&mut conn, &ctx.environment_id, &org).await?;
    streams::find(&mut conn, &ctx.environment_id, &org)
        .await?
        .map(Json)
        .ok_or_else(|| no_stream(&org))
}

/// `DELETE /organizations/{id}/audit_log_stream`: the stream and its undelivered events. Errors:
/// 404 unknown organization or no stream.
pub async fn delete_stream(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(org): IdPath<OrganizationId>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    require_org(&mut tx, &ctx.environment_id, &org).await?;
    if !streams::delete(&mut tx, &ctx.environment_id, &org).await? {
        return Err(no_stream(&org));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The spec's `AuditLogConfiguration.log_stream` of `org`: `{id, type, state, last_synced_at,
/// created_at}`, or `None` without a stream.
pub async fn log_stream(
    conn: &mut sqlx::PgConnection,
    env: &EnvironmentId,
    org: &OrganizationId,
) -> ApiResult<Option<Value>> {
    Ok(streams::find(conn, env, org).await?.map(|s| {
        json!({
            "id": s.id,
            "type": s.kind,
            "state": s.state,
            "last_synced_at": s.last_synced_at.as_ref().map(crate::timestamp::format),
            "created_at": crate::timestamp::format(&s.created_at),
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_and_prefixes() {
        assert!(valid_bucket("audit-logs.acme"));
        assert!(!valid_bucket("Audit"));
        assert!(!valid_bucket("ab"));
        assert!(!valid_bucket("-ab"));
        assert_eq!(normalize_prefix("/a/b/").as_deref(), Some("a/b/"));
        assert_eq!(normalize_prefix("").as_deref(), Some(""));
        assert_eq!(normalize_prefix("a//b"), None);
        assert_eq!(normalize_prefix("a/../b"), None);
    }
}
