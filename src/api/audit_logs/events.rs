//! `POST /audit_logs/events` (`AuditLogEventsController_create`) → 200 `{success: true}`.
//!
//! The body is `{organization_id, event: {action, version?, occurred_at, actor: {id, type, name?,
//! metadata?}, targets: [{id, type, name?, metadata?}], context: {location, user_agent?},
//! metadata?}}`. Checks, in order, with nothing written when one fails:
//! 1. shape and limits (422 `{message, errors: [{code, field}]}` naming every field): required
//!    fields, `occurred_at` an RFC 3339 time at most [`CLOCK_SKEW_SECS`] in the future, at most
//!    [`TARGETS_MAX`] targets, and every `metadata` (event, actor, targets) at most 50 keys
//!    matching `^[a-zA-Z0-9_-]{0,40}$` with string (≤ 500 characters), number or boolean values
//!    (WORKOS-API-NOTES §2.10);
//! 2. the organization (404 when unknown or another environment's);
//! 3. the action's schema **at the version the event names** (version 1 when it names none;
//!    WorkOS does not pick the latest): every target's `type` must be one the schema declares,
//!    and the actor's, each target's and the event's metadata must satisfy the JSON Schemas the
//!    schema declares for them (400 `invalid_audit_log_event` with `errors: [{instancePath,
//!    message}]`). Where the schema declares no metadata schema, free-form metadata within the
//!    limits is accepted. As in WorkOS, where an action must be configured before its events are
//!    accepted, an action without any schema is a 400 at `/action`, and an explicit `version`
//!    that does not exist a 400 at `/version`.
//!
//! The `Idempotency-Key` layer (`http::idempotency`) makes a replay return the first answer
//! without running again (the official Node SDK always sends one).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::schemas::{valid_action_name, validation_failed};
use crate::error::{ApiError, ApiResult};
use crate::http::idempotency::IdempotentTx;
use crate::http::{AppJson, Env};
use crate::ids::OrganizationId;
use crate::state::AppState;
use crate::store::audit_logs::{self, NewEvent};
use crate::store::organizations;

/// How far in the future `occurred_at` may be (client clocks run fast), in seconds.
pub const CLOCK_SKEW_SECS: i64 = 300;
/// Most targets one event may name.
pub const TARGETS_MAX: usize = 50;
/// Most keys of one `metadata` object.
pub const METADATA_KEYS_MAX: usize = 50;
/// Longest metadata key.
pub const METADATA_KEY_MAX: usize = 40;
/// Longest metadata string value, and longest id, type, name and location.
pub const VALUE_MAX: usize = 500;
/// Longest `context.user_agent`.
pub const USER_AGENT_MAX: usize = 1024;

type Errors = Vec<(String, &'static str)>;

/// A required (or, with `required: false`, optional) string of at most `max` characters.
fn string(
    obj: &Map<String, Value>,
    key: &str,
    prefix: &str,
    required: bool,
    max: usize,
    errors: &mut Errors,
) -> Option<String> {
    let field = if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    };
    match obj.get(key) {
        None | Some(Value::Null) if required => {
            errors.push((field, "required"));
            None
        }
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if required && s.trim().is_empty() => {
            errors.push((field, "required"));
            None
        }
        Some(Value::String(s)) if s.chars().count() > max => {
            errors.push((field, "too_long"));
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push((field, "invalid_type"));
            None
        }
    }
}

/// Audit-log metadata limits at `field`.
fn metadata(value: Option<&Value>, field: &str, errors: &mut Errors) -> Option<Value> {
    let obj = match value {
        None | Some(Value::Null) => return None,
        Some(Value::Object(obj)) => obj,
        Some(_) => {
            errors.push((field.to_string(), "invalid_type"));
            return None;
        }
    };
    if obj.len() > METADATA_KEYS_MAX {
        errors.push((field.to_string(), "too_many_keys"));
        return None;
    }
    let before = errors.len();
    for (key, v) in obj {
        let key_ok = key.len() <= METADATA_KEY_MAX
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let shown: String = key.chars().take(METADATA_KEY_MAX + 1).collect();
        if !key_ok {
            errors.push((format!("{field}.{shown}"), "invalid_key"));
            continue;
        }
        match v {
            Value::String(s) if s.chars().count() > VALUE_MAX => {
                errors.push((format!("{field}.{shown}"), "too_long"));
            }
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {}
            _ => errors.push((format!("{field}.{shown}"), "invalid_type")),
        }
    }
    (errors.len() == before).then(|| Value::Object(obj.clone()))
}

/// An actor or target: `{id, type, name?, metadata?}`, unknown keys dropped.
fn entity(value: &Value, prefix: &str, errors: &mut Errors) -> Option<Value> {
    let Some(obj) = value.as_object() else {
        errors.push((prefix.to_string(), "invalid_type"));
        return None;
    };
    let id = string(obj, "id", prefix, true, VALUE_MAX, errors);
    let ty = string(obj, "type", prefix, true, VALUE_MAX, errors);
    let name = string(obj, "name", prefix, false, VALUE_MAX, errors);
    let meta = metadata(obj.get("metadata"), &format!("{prefix}.metadata"), errors);
    let mut out = Map::new();
    out.insert("id".into(), id?.into());
    out.insert("type".into(), ty?.into());
    if let Some(n) = name {
        out.insert("name".into(), n.into());
    }
    if let Some(m) = meta {
        out.insert("metadata".into(), m);
    }
    Some(Value::Object(out))
}

/// An event that passed the shape checks.
struct Checked {
    organization_id: String,
    version: Option<i32>,
    event: NewEvent,
}

/// Step 1: shape and limits.
fn check_shape(body: &Map<String, Value>) -> ApiResult<Checked> {
    let mut errors: Errors = Vec::new();
    let organization_id = string(body, "organization_id", "", true, VALUE_MAX, &mut errors);
    let empty = Map::new();
    let event = match body.get("event") {
        Some(Value::Object(e)) => e,
        None | Some(Value::Null) => {
            errors.push(("event".into(), "required"));
            &empty
        }
        Some(_) => {
            errors.push(("event".into(), "invalid_type"));
            &empty
        }
    };
    let action = string(event, "action", "event", true, 255, &mut errors);
    if action.as_deref().is_some_and(|a| !valid_action_name(a)) {
        errors.push(("event.action".into(), "invalid"));
    }
    let version = match event.get("version") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64().and_then(|n| i32::try_from(n).ok()) {
            Some(n) if n >= 1 => Some(n),
            _ => {
                errors.push(("event.version".into(), "invalid"));
                None
            }
        },
    };
    let occurred_at = string(event, "occurred_at", "event", true, 64, &mut errors).and_then(|s| {
        match DateTime::parse_from_rfc3339(&s) {
            Ok(t) if t.with_timezone(&Utc) > Utc::now() + Duration::seconds(CLOCK_SKEW_SECS) => {
                errors.push(("event.occurred_at".into(), "in_the_future"));
                None
            }
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                errors.push(("event.occurred_at".into(), "invalid_date"));
                None
            }
        }
    });
    let actor = match event.get("actor") {
        None | Some(Value::Null) => {
            errors.push(("event.actor".into(), "required"));
            None
        }
        Some(a) => entity(a, "event.actor", &mut errors),
    };
    let mut targets = Vec::new();
    match event.get("targets") {
        None | Some(Value::Null) => errors.push(("event.targets".into(), "required")),
        Some(Value::Array(items)) if items.len() > TARGETS_MAX => {
            errors.push(("event.targets".into(), "too_many_items"));
        }
        Some(Value::Array(items)) => {
            for (i, t) in items.iter().enumerate() {
                targets.extend(entity(t, &format!("event.targets[{i}]"), &mut errors));
            }
        }
        Some(_) => errors.push(("event.targets".into(), "invalid_type")),
    }
    let context = match event.get("context") {
        Some(Value::Object(c)) => {
            let location = string(c, "location", "event.context", true, VALUE_MAX, &mut errors);
            let ua = string(
                c,
                "user_agent",
                "event.context",
                false,
                USER_AGENT_MAX,
                &mut errors,
            );
            let mut out = Map::new();
            out.insert("location".into(), location.into());
            if let Some(ua) = ua {
                out.insert("user_agent".into(), ua.into());
            }
            Some(Value::Object(out))
        }
        None | Some(Value::Null) => {
            errors.push(("event.context".into(), "required"));
            None
        }
        Some(_) => {
            errors.push(("event.context".into(), "invalid_type"));
            None
        }
    };
    let meta = metadata(event.get("metadata"), "event.metadata", &mut errors);
    match (organization_id, action, occurred_at, actor, context) {
        (Some(organization_id), Some(action), Some(occurred_at), Some(actor), Some(context))
            if errors.is_empty() =>
        {
            Ok(Checked {
                organization_id,
                version,
                event: NewEvent {
                    action,
                    version,
                    occurred_at,
                    actor,
                    targets: Value::Array(targets),
                    context,
                    metadata: meta,
                },
            })
        }
        _ => Err(validation_failed(errors)),
    }
}

fn invalid_event(errors: Vec<Value>) -> ApiError {
    ApiError::BadRequest {
        code: Some("invalid_audit_log_event"),
        message: "Invalid Audit Log event.".into(),
        errors,
    }
}

/// `POST /audit_logs/events` → 200 `{success: true}`. Errors: 422 shape and limits, 404 unknown
/// organization, 400 `invalid_audit_log_event` against the schema. The schema comes from
/// [`crate::state::audit_schemas`] (compiled once per version); the event is stored in the
/// statement that finds its organization, with the `Idempotency-Key` claimed and answered in
/// the same transaction ([`IdempotentTx`]).
pub async fn create_event(
    State(state): State<AppState>,
    Env(ctx): Env,
    mut tx: IdempotentTx,
    AppJson(body): AppJson<Map<String, Value>>,
) -> ApiResult<Response> {
    let checked = check_shape(&body)?;
    let env = &ctx.environment_id;
    let unknown_org = || ApiError::not_found("Organization", &checked.organization_id);
    let org = OrganizationId::parse_lenient(&checked.organization_id).ok_or_else(unknown_org)?;
    let mut event = checked.event;
    let version = checked.version.unwrap_or(1);
    let schema = match state.audit_schemas.get(env, &event.action, version) {
        Some(compiled) => Some(compiled),
        None => audit_logs::find_schema(&mut tx, env, &event.action, version)
            .await?
            .map(|s| state.audit_schemas.insert(env, &event.action, &s)),
    };
    let errors = match &schema {
        Some(compiled) => compiled.check(&event),
        None if checked.version.is_some() => vec![json!({
            "instancePath": "/version",
            "message": format!("action '{}' has no schema version {version}", event.action),
        })],
        None => vec![json!({
            "instancePath": "/action",
            "message": format!(
                "action '{}' is not configured: create its schema with POST \
                 /audit_logs/actions/{}/schemas",
                event.action, event.action
            ),
        })],
    };
    if !errors.is_empty() {
        // An unknown organization answers 404 before the schema's 400.
        organizations::find(&mut tx, env, &org)
            .await?
            .ok_or_else(unknown_org)?;
        return Err(invalid_event(errors));
    }
    event.version = Some(version);
    audit_logs::insert_event(&mut tx, env, &org, event)
        .await?
        .ok_or_else(unknown_org)?;
    tx.commit_json(StatusCode::OK, &json!({"success": true}))
        .await
}
