//! `POST /audit_logs/exports` (`AuditLogExportsController_exports`) → 201 `AuditLogExportJson`
//! `{object, id, state: "pending", url: null, created_at, updated_at}`, and
//! `GET /audit_logs/exports/{auditLogExportId}` (`AuditLogExportsController_export`) → 200 with a
//! fresh signed download URL once the export is `ready` ([`super::export_download`]).
//!
//! The body is `{organization_id, range_start, range_end, actions?, actor_names?, actor_ids?,
//! targets?}` (and the deprecated `actors`, an alias of `actor_names`; the official Node SDK
//! sends camelCase options as these snake_case keys). Checks, in order, with nothing written
//! when one fails:
//! 1. shape (422 `{message, errors: [{code, field}]}` naming every field): the three required
//!    fields, `range_start`/`range_end` ISO-8601 times, each list an array of at most
//!    [`FILTER_ITEMS_MAX`] non-empty strings of at most [`FILTER_ITEM_MAX`] characters;
//! 2. the range (400 `{code: "invalid_audit_log_export_range_date", message}`, the spec's
//!    example): `range_end` before `range_start`, or a range longer than [`RANGE_MONTHS_MAX`]
//!    months;
//! 3. the organization (404 when unknown or another environment's; the spec lists a 400 with
//!    `Organization not found`, but Keystead answers every unknown or foreign id with the 404
//!    every other operation uses).
//!
//! An export selects the organization's events with `range_start <= occurred_at <= range_end`
//! whose action is in `actions`, actor name in `actor_names`, actor id in `actor_ids`, and one
//! of whose targets has a type in `targets` (each list only when given and non-empty). The
//! export worker (`workers::audit_log_exports`) writes the CSV file; `POST` sends a Postgres
//! `NOTIFY` in its transaction, which wakes a worker as soon as the export is committed.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Months, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::export_download;
use super::schemas::validation_failed;
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath};
use crate::ids::{AuditLogExportId, OrganizationId};
use crate::state::AppState;
use crate::store::audit_log_exports::{self, Export, ExportFilter};
use crate::store::organizations;

/// Most values one filter list may hold.
pub const FILTER_ITEMS_MAX: usize = 100;
/// Longest value of a filter list, and of `organization_id`.
pub const FILTER_ITEM_MAX: usize = 500;
/// Longest range one export may cover, in months.
pub const RANGE_MONTHS_MAX: u32 = 3;
/// The spec's code for a range that is reversed or too long.
pub const RANGE_ERROR_CODE: &str = "invalid_audit_log_export_range_date";

/// `AuditLogExportJson`.
#[derive(Debug, Serialize)]
pub struct ExportJson {
    /// Always `"audit_log_export"`.
    pub object: &'static str,
    /// The export's id.
    pub id: AuditLogExportId,
    /// `pending`, `ready` or `error`.
    pub state: String,
    /// A signed download URL, valid for the configured lifetime (10 minutes), when `ready`;
    /// `null` otherwise.
    pub url: Option<String>,
    /// Keystead extension: why the export failed (state `error`, e.g. the object store's
    /// answer or the attempts running out); `null` in the other states.
    pub error: Option<String>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change of state.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

impl ExportJson {
    fn new(export: Export, url: Option<String>) -> Self {
        Self {
            object: "audit_log_export",
            id: export.id,
            state: export.state,
            url,
            error: export.error,
            created_at: export.created_at,
            updated_at: export.updated_at,
        }
    }
}

type Errors = Vec<(String, &'static str)>;

/// A required string of at most [`FILTER_ITEM_MAX`] characters.
fn required(body: &Map<String, Value>, key: &str, errors: &mut Errors) -> Option<String> {
    match body.get(key) {
        None | Some(Value::Null) => errors.push((key.into(), "required")),
        Some(Value::String(s)) if s.trim().is_empty() => errors.push((key.into(), "required")),
        Some(Value::String(s)) if s.chars().count() > FILTER_ITEM_MAX => {
            errors.push((key.into(), "too_long"));
        }
        Some(Value::String(s)) => return Some(s.clone()),
        Some(_) => errors.push((key.into(), "invalid_type")),
    }
    None
}

/// A required ISO-8601 time.
fn time(body: &Map<String, Value>, key: &str, errors: &mut Errors) -> Option<DateTime<Utc>> {
    let raw = required(body, key, errors)?;
    let parsed = crate::timestamp::parse_filter(raw.trim());
    if parsed.is_none() {
        errors.push((key.into(), "invalid_date"));
    }
    parsed
}

/// An optional list of strings; `None` when absent, `null` or empty (no filter).
fn list(body: &Map<String, Value>, key: &str, errors: &mut Errors) -> Option<Vec<String>> {
    let items = match body.get(key) {
        None | Some(Value::Null) => return None,
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push((key.into(), "invalid_type"));
            return None;
        }
    };
    if items.len() > FILTER_ITEMS_MAX {
        errors.push((key.into(), "too_many_items"));
        return None;
    }
    let before = errors.len();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(s) if s.is_empty() => errors.push((format!("{key}[{i}]"), "required")),
            Value::String(s) if s.chars().count() > FILTER_ITEM_MAX => {
                errors.push((format!("{key}[{i}]"), "too_long"));
            }
            Value::String(s) => out.push(s.clone()),
            _ => errors.push((format!("{key}[{i}]"), "invalid_type")),
        }
    }
    (errors.len() == before && !out.is_empty()).then_some(out)
}

/// A body that passed the shape checks (step 1).
struct Parsed {
    organization_id: String,
    range_start: DateTime<Utc>,
    range_end: DateTime<Utc>,
    actions: Option<Vec<String>>,
    actor_names: Option<Vec<String>>,
    actor_ids: Option<Vec<String>>,
    targets: Option<Vec<String>>,
}

/// Step 1: shape.
fn parse(body: &Map<String, Value>) -> ApiResult<Parsed> {
    let mut errors = Vec::new();
    let organization_id = required(body, "organization_id", &mut errors);
    let range_start = time(body, "range_start", &mut errors);
    let range_end = time(body, "range_end", &mut errors);
    let actions = list(body, "actions", &mut errors);
    let actors = list(body, "actors", &mut errors);
    let actor_names = list(body, "actor_names", &mut errors);
    let actor_ids = list(body, "actor_ids", &mut errors);
    let targets = list(body, "targets", &mut errors);
    // `actors` is the deprecated name of `actor_names`: both select by actor name.
    let actor_names = match (actor_names, actors) {
        (Some(mut names), Some(more)) => {
            names.extend(more);
            Some(names)
        }
        (names, more) => names.or(more),
    };
    match (organization_id, range_start, range_end) {
        (Some(organization_id), Some(range_start), Some(range_end)) if errors.is_empty() => {
            Ok(Parsed {
                organization_id,
                range_start,
                range_end,
                actions,
                actor_names,
                actor_ids,
                targets,
            })
        }
        _ => Err(validation_failed(errors)),
    }
}

/// Step 2: the range, 400 `invalid_audit_log_export_range_date`.
fn check_range(start: DateTime<Utc>, end: DateTime<Utc>) -> ApiResult<()> {
    if end < start {
        return Err(ApiError::bad_request(
            RANGE_ERROR_CODE,
            "Invalid date range: range_end is before range_start.",
        ));
    }
    let limit = start.checked_add_months(Months::new(RANGE_MONTHS_MAX));
    if limit.is_none_or(|limit| end > limit) {
        return Err(ApiError::bad_request(
            RANGE_ERROR_CODE,
            format!("Invalid date range: an export covers at most {RANGE_MONTHS_MAX} months."),
        ));
    }
    Ok(())
}

/// `POST /audit_logs/exports` → 201 pending export. Errors: 422 shape, 400 range, 404 unknown
/// organization.
pub async fn create_export(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<Map<String, Value>>,
) -> ApiResult<(StatusCode, Json<ExportJson>)> {
    let parsed = parse(&body)?;
    check_range(parsed.range_start, parsed.range_end)?;
    let env = &ctx.environment_id;
    let mut tx = state.db.begin().await?;
    let org = match OrganizationId::parse_lenient(&parsed.organization_id) {
        Some(id) => organizations::find(&mut tx, env, &id).await?,
        None => None,
    }
    .ok_or_else(|| ApiError::not_found("Organization", &parsed.organization_id))?;
    let filter = ExportFilter {
        organization_id: org.id,
        range_start: parsed.range_start,
        range_end: parsed.range_end,
        actions: parsed.actions,
        actor_names: parsed.actor_names,
        actor_ids: parsed.actor_ids,
        targets: parsed.targets,
    };
    let export = audit_log_exports::create(&mut tx, env, &filter).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(ExportJson::new(export, None))))
}

/// `GET /audit_logs/exports/{auditLogExportId}` → the export; a `ready` one carries a download
/// URL signed now (each call issues a fresh one). Errors: 404 unknown or another environment's
/// export.
pub async fn get_export(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<AuditLogExportId>,
) -> ApiResult<Json<ExportJson>> {
    let mut conn = state.db.acquire().await?;
    let export = audit_log_exports::find(&mut conn, &ctx.environment_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found_id::<AuditLogExportId>(id.as_str()))?;
    let url = if export.state == "ready" {
        let ttl = state.settings.audit_log_exports.url_ttl.as_secs();
        let expires = Utc::now().timestamp() + i64::try_from(ttl).unwrap_or(i64::MAX / 2);
        Some(export_download::signed_url(&state, &export.id, expires)?)
    } else {
        None
    };
    Ok(Json(ExportJson::new(export, url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn ranges_are_ordered_and_at_most_three_months() {
        let start = at("2026-01-31T00:00:00Z");
        assert!(check_range(start, start).is_ok());
        assert!(check_range(start, at("2026-04-30T00:00:00Z")).is_ok());
        assert!(check_range(start, at("2026-04-30T00:00:01Z")).is_err());
        assert!(check_range(start, at("2026-01-30T23:59:59Z")).is_err());
    }

    #[test]
    fn actors_is_an_alias_of_actor_names() {
        let body: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "organization_id": "org_1", "range_start": "2026-01-01T00:00:00Z",
            "range_end": "2026-01-02", "actors": ["Jon"], "actor_names": ["Ann"], "targets": [],
        }))
        .unwrap();
        let p = parse(&body).unwrap();
        assert_eq!(
            p.actor_names,
            Some(vec!["Ann".to_string(), "Jon".to_string()])
        );
        assert_eq!(p.targets, None);
    }
}
