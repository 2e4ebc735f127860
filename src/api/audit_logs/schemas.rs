//! `POST /audit_logs/actions/{actionName}/schemas` (201 `AuditLogSchemaJson`; creates the action
//! when it is new, each call adds the next version), `GET /audit_logs/actions` (each action with
//! its latest schema) and `GET /audit_logs/actions/{actionName}/schemas` (every version), both
//! paginated with the list envelope.
//!
//! A body is `{actor?: {metadata}, targets: [{type, metadata?}], metadata?}` where each
//! `metadata` is a JSON Schema (the official SDKs send `{type: "object", properties: {…}}`);
//! every one must compile, or the call is a 422 naming the field.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, List, ListParams, Order, QueryMap};
use crate::state::AppState;
use crate::store::audit_logs::{self, AuditLogAction, AuditLogSchema, NewSchema};

/// Longest action name accepted.
pub const ACTION_NAME_MAX: usize = 255;
/// Most target types one schema may declare.
pub const TARGETS_MAX: usize = 50;

/// 422 `{message, errors: [{code, field}]}` naming every failing field.
pub(super) fn validation_failed(errors: Vec<(String, &'static str)>) -> ApiError {
    ApiError::Unprocessable {
        code: "invalid_request_parameters",
        message: "Validation failed.".into(),
        errors: errors
            .into_iter()
            .map(|(field, code)| json!({"code": code, "field": field}))
            .collect(),
    }
}

/// An action name: 1–255 characters, no whitespace or control characters.
pub(super) fn valid_action_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= ACTION_NAME_MAX
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A metadata JSON Schema at `field`: an object that compiles.
fn metadata_schema(
    value: Option<&Value>,
    field: String,
    errors: &mut Vec<(String, &'static str)>,
) -> Option<Value> {
    match value {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => {
            if jsonschema::validator_for(v).is_err() {
                errors.push((field, "invalid_schema"));
                None
            } else {
                Some(v.clone())
            }
        }
        Some(_) => {
            errors.push((field, "invalid_type"));
            None
        }
    }
}

/// Checks a schema body; every failing field is reported at once.
fn parse_schema(body: &Map<String, Value>) -> ApiResult<NewSchema> {
    let mut errors = Vec::new();
    let actor_metadata = match body.get("actor") {
        None | Some(Value::Null) => None,
        Some(Value::Object(actor)) => match actor.get("metadata") {
            None | Some(Value::Null) => {
                errors.push(("actor.metadata".to_string(), "required"));
                None
            }
            m => metadata_schema(m, "actor.metadata".into(), &mut errors),
        },
        Some(_) => {
            errors.push(("actor".into(), "invalid_type"));
            None
        }
    };
    let mut targets = Vec::new();
    match body.get("targets") {
        None | Some(Value::Null) => errors.push(("targets".into(), "required")),
        Some(Value::Array(items)) if items.len() > TARGETS_MAX => {
            errors.push(("targets".into(), "too_many_items"));
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let Some(item) = item.as_object() else {
                    errors.push((format!("targets[{i}]"), "invalid_type"));
                    continue;
                };
                let ty = match item.get("type") {
                    Some(Value::String(t)) if valid_action_name(t) => Some(t.clone()),
                    None | Some(Value::Null) => {
                        errors.push((format!("targets[{i}].type"), "required"));
                        None
                    }
                    Some(_) => {
                        errors.push((format!("targets[{i}].type"), "invalid"));
                        None
                    }
                };
                let meta = metadata_schema(
                    item.get("metadata"),
                    format!("targets[{i}].metadata"),
                    &mut errors,
                );
                if let Some(ty) = ty {
                    let mut t = Map::new();
                    t.insert("type".into(), Value::String(ty));
                    if let Some(m) = meta {
                        t.insert("metadata".into(), m);
                    }
                    targets.push(Value::Object(t));
                }
            }
        }
        Some(_) => errors.push(("targets".into(), "invalid_type")),
    }
    let metadata = metadata_schema(body.get("metadata"), "metadata".into(), &mut errors);
    if !errors.is_empty() {
        return Err(validation_failed(errors));
    }
    Ok(NewSchema {
        actor_metadata,
        targets: Value::Array(targets),
        metadata,
    })
}

/// `POST /audit_logs/actions/{actionName}/schemas` → 201 with the new version. Errors: 422 for
/// an invalid action name or schema body.
pub async fn create_schema(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(name): Path<String>,
    AppJson(body): AppJson<Map<String, Value>>,
) -> ApiResult<(StatusCode, Json<AuditLogSchema>)> {
    if !valid_action_name(&name) {
        return Err(validation_failed(vec![("action".into(), "invalid")]));
    }
    let new = parse_schema(&body)?;
    let mut tx = state.db.begin().await?;
    let schema = audit_logs::insert_schema(&mut tx, &ctx.environment_id, &name, new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(schema)))
}

/// `GET /audit_logs/actions`: actions newest first by default, each with its latest schema.
pub async fn list_actions(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
) -> ApiResult<Json<List<AuditLogAction>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let mut conn = state.db.acquire().await?;
    let rows = audit_logs::list_actions(&mut conn, &ctx.environment_id, &params).await?;
    Ok(Json(params.page(rows, |a| a.id.as_str())))
}

/// `GET /audit_logs/actions/{actionName}/schemas`: the action's versions. Errors: 404 unknown
/// action.
pub async fn list_schemas(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(name): Path<String>,
    q: QueryMap,
) -> ApiResult<Json<List<AuditLogSchema>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let mut conn = state.db.acquire().await?;
    let env = &ctx.environment_id;
    if !valid_action_name(&name) || !audit_logs::action_exists(&mut conn, env, &name).await? {
        return Err(ApiError::not_found("Audit Log Action", name));
    }
    let rows = audit_logs::list_schemas(&mut conn, env, &name, &params).await?;
    Ok(Json(params.page(rows, |s| s.id.as_str())))
}
