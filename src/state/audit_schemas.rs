//! Compiled audit-log schemas (`POST /audit_logs/events` checks each event against its action's
//! schema version): a bounded in-process cache keyed by environment, action and version.
//!
//! A schema version never changes once created (a new schema is the next version, and none is
//! ever deleted), so an entry never goes stale and needs no invalidation across replicas; a
//! replica that has not seen a version yet reads it from Postgres once. Compiling the JSON
//! Schemas (`jsonschema`) once per version instead of once per event is most of what the cache
//! saves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jsonschema::Validator;
use serde_json::{Map, Value, json};

use crate::ids::EnvironmentId;
use crate::store::audit_logs::{AuditLogSchema, NewEvent};

/// Most versions kept; past it the cache starts over (a bound, not an eviction policy: the set
/// of versions in use is small).
const CAPACITY: usize = 4096;

/// A JSON Schema, compiled, or the reason it does not compile.
type Compiled = Result<Validator, String>;

/// One action version's schema with its JSON Schemas compiled.
pub struct CompiledSchema {
    actor: Option<Compiled>,
    /// `(type, metadata schema)` for each target type the schema declares.
    targets: Vec<(String, Option<Compiled>)>,
    metadata: Option<Compiled>,
}

impl CompiledSchema {
    /// Compiles `schema`'s actor, target and event metadata schemas.
    pub fn compile(schema: &AuditLogSchema) -> Self {
        let compile = |s: &Value| jsonschema::validator_for(s).map_err(|e| e.to_string());
        let targets = schema
            .targets
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                let ty = d.get("type").and_then(Value::as_str).unwrap_or("");
                (ty.to_string(), d.get("metadata").map(compile))
            })
            .collect();
        Self {
            actor: schema.actor.as_ref().map(|a| compile(&a.metadata)),
            targets,
            metadata: schema.metadata.as_ref().map(compile),
        }
    }

    /// The event against this schema: `[{instancePath, message}]`, empty when it conforms.
    /// Every target's `type` must be declared; the actor's, each target's and the event's
    /// metadata must satisfy the declared schemas (absent metadata is checked as `{}`).
    pub fn check(&self, event: &NewEvent) -> Vec<Value> {
        let mut errors = Vec::new();
        let empty = Value::Object(Map::new());
        if let Some(actor) = &self.actor {
            let m = event.actor.get("metadata").unwrap_or(&empty);
            against(actor, m, "/actor/metadata", &mut errors);
        }
        for (i, target) in event.targets.as_array().into_iter().flatten().enumerate() {
            let ty = target.get("type").and_then(Value::as_str).unwrap_or("");
            match self.targets.iter().find(|(t, _)| t == ty) {
                None => errors.push(json!({
                    "instancePath": format!("/targets/{i}/type"),
                    "message": format!("target type '{ty}' is not in the schema"),
                })),
                Some((_, Some(s))) => {
                    let m = target.get("metadata").unwrap_or(&empty);
                    against(s, m, &format!("/targets/{i}/metadata"), &mut errors);
                }
                Some((_, None)) => {}
            }
        }
        if let Some(s) = &self.metadata {
            let m = event.metadata.as_ref().unwrap_or(&empty);
            against(s, m, "/metadata", &mut errors);
        }
        errors
    }
}

/// Validates `instance` against `schema`, adding `{instancePath, message}` under `at`.
fn against(schema: &Compiled, instance: &Value, at: &str, errors: &mut Vec<Value>) {
    match schema {
        Ok(v) => {
            for e in v.iter_errors(instance) {
                errors.push(json!({
                    "instancePath": format!("{at}{}", e.instance_path().as_str()),
                    "message": e.to_string(),
                }));
            }
        }
        // Stored schemas compiled when created; one that no longer does refuses every event.
        Err(e) => errors.push(json!({"instancePath": at, "message": e})),
    }
}

/// The cache: `(environment, action, version)` → compiled schema.
#[derive(Default)]
pub struct AuditSchemas {
    entries: Mutex<HashMap<(EnvironmentId, String, i32), Arc<CompiledSchema>>>,
}

impl AuditSchemas {
    /// The cached schema of `action` at `version` in `env`, if compiled before.
    pub fn get(
        &self,
        env: &EnvironmentId,
        action: &str,
        version: i32,
    ) -> Option<Arc<CompiledSchema>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(&(env.clone(), action.to_string(), version))
            .cloned()
    }

    /// Compiles `schema` and keeps it for `(env, action, version)`.
    pub fn insert(
        &self,
        env: &EnvironmentId,
        action: &str,
        schema: &AuditLogSchema,
    ) -> Arc<CompiledSchema> {
        let compiled = Arc::new(CompiledSchema::compile(schema));
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(
                (env.clone(), action.to_string(), schema.version),
                compiled.clone(),
            );
        }
        compiled
    }
}
