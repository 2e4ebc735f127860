//! Vault objects and their versions (`vault_objects`, `vault_object_versions`, migration 1600):
//! the rows behind `/vault/v1/kv…` and the `vault.*` events (WORKOS-API-NOTES §3.2), recorded in
//! the changing transaction. Values arrive here already sealed ([`NewVersion`]); the API shapes
//! ([`ObjectWithoutValue`], [`ObjectSummary`], [`ObjectVersion`]) never carry a sealed column,
//! which only [`SealedVersion`] holds.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};

use super::events::{self, EventName, names};
use super::page::{List, ListParams};
use crate::db::Tx;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::{
    EnvironmentId, EnvironmentKeyId, OrganizationId, VaultObjectId, VaultObjectVersionId,
    VaultRootKeyId,
};

/// Who last changed an object (`updated_by`): the API key that did.
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    /// `key_…`
    pub id: String,
    /// The API key's name.
    pub name: String,
}

/// An object's metadata (`ObjectMetadata` of the SDKs).
#[derive(Debug, Clone, Serialize)]
pub struct ObjectMetadata {
    /// The key context.
    pub context: Value,
    /// The environment.
    pub environment_id: EnvironmentId,
    /// The object's id (as the SDKs' fixtures show).
    pub id: VaultObjectId,
    /// The public identifier of the context's key-encryption key.
    pub key_id: String,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
    /// Who made it.
    pub updated_by: Actor,
    /// The current version.
    pub version_id: VaultObjectVersionId,
}

/// An object without its value (`ObjectWithoutValue`); with `value` added it is a
/// `VaultObject`.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectWithoutValue {
    /// `secret_…`
    pub id: VaultObjectId,
    /// Metadata.
    pub metadata: ObjectMetadata,
    /// Unique name in the environment.
    pub name: String,
}

/// An item of `GET /vault/v1/kv` (`ObjectSummary`).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ObjectSummary {
    /// `secret_…`
    pub id: VaultObjectId,
    /// Name.
    pub name: String,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// An item of `GET /vault/v1/kv/{id}/versions` (`ObjectVersion`).
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ObjectVersion {
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Whether this is the object's current version.
    pub current_version: bool,
    /// Digest of the stored ciphertext.
    pub etag: String,
    /// `secret_version_…`
    pub id: VaultObjectVersionId,
    /// Length of the value in bytes.
    pub size: i32,
}

/// A version's sealed columns, for decryption. Never serialized.
#[derive(Debug, Clone, FromRow)]
pub struct SealedVersion {
    /// `secret_version_…`
    pub id: VaultObjectVersionId,
    /// The data key's encrypted key blob.
    pub encrypted_key: Vec<u8>,
    /// The sealed value.
    pub ciphertext: Vec<u8>,
}

/// A sealed version to store.
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// Its id (the value's associated data).
    pub id: VaultObjectVersionId,
    /// The root key its data key is wrapped under.
    pub root_key_id: VaultRootKeyId,
    /// The data key's encrypted key blob.
    pub encrypted_key: Vec<u8>,
    /// The sealed value.
    pub ciphertext: Vec<u8>,
    /// Length of the value in bytes.
    pub size: i32,
    /// Digest of `ciphertext`.
    pub etag: String,
}

/// A new object to store.
#[derive(Debug, Clone)]
pub struct NewObject {
    /// Its id.
    pub id: VaultObjectId,
    /// Unique name.
    pub name: String,
    /// The key context (a string map).
    pub context: Value,
    /// The context's key-encryption key id.
    pub key_id: String,
}

/// The `data` of the `vault.*` events: the actor and the fields the event has.
#[derive(Debug, Clone, Serialize)]
pub struct VaultEvent {
    /// The API key.
    pub actor_id: String,
    /// Always `api`.
    pub actor_source: &'static str,
    /// The API key's name.
    pub actor_name: String,
    /// The object's name (`vault.data.*`, `vault.metadata.read`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv_name: Option<String>,
    /// The key id (`vault.data.created|updated|read`, `vault.dek.decrypted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The data keys issued (`vault.dek.read`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_ids: Option<Vec<String>>,
    /// The key context (`vault.data.created|updated`, `vault.dek.read`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_context: Option<Value>,
}

impl VaultEvent {
    /// An event by `actor` with no other field set.
    pub fn by(actor: &Actor) -> Self {
        Self {
            actor_id: actor.id.clone(),
            actor_source: "api",
            actor_name: actor.name.clone(),
            kv_name: None,
            key_id: None,
            key_ids: None,
            key_context: None,
        }
    }
}

/// Records a `vault.*` event; `context`'s `organization_id`, when it is an organization id,
/// scopes it to that organization in `GET /events`.
pub async fn record(
    tx: &mut Tx,
    env: &EnvironmentId,
    event: EventName,
    data: &VaultEvent,
    context: Option<&Value>,
) -> ApiResult<()> {
    let org = context
        .and_then(|c| c.get("organization_id"))
        .and_then(Value::as_str)
        .and_then(OrganizationId::parse_lenient);
    events::record(tx, env, event, data, org.as_ref()).await
}

/// The actor for API key `key`: its id and name.
pub async fn actor(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    key: &EnvironmentKeyId,
) -> ApiResult<Actor> {
    let name: Option<String> =
        sqlx::query_scalar("select name from api_keys where environment_id = $1 and id = $2")
            .bind(env)
            .bind(key)
            .fetch_optional(conn)
            .await?;
    Ok(Actor {
        id: key.to_string(),
        name: name.unwrap_or_default(),
    })
}

#[derive(FromRow)]
struct ObjectRow {
    environment_id: EnvironmentId,
    id: VaultObjectId,
    name: String,
    key_context: Json<Value>,
    key_id: String,
    current_version_id: VaultObjectVersionId,
    updated_by_id: String,
    updated_by_name: String,
    updated_at: DateTime<Utc>,
}

impl From<ObjectRow> for ObjectWithoutValue {
    fn from(r: ObjectRow) -> Self {
        Self {
            id: r.id.clone(),
            metadata: ObjectMetadata {
                context: r.key_context.0,
                environment_id: r.environment_id,
                id: r.id,
                key_id: r.key_id,
                updated_at: r.updated_at,
                updated_by: Actor {
                    id: r.updated_by_id,
                    name: r.updated_by_name,
                },
                version_id: r.current_version_id,
            },
            name: r.name,
        }
    }
}

const COLUMNS: &str = "o.environment_id, o.id, o.name, o.key_context, o.key_id, \
                       o.current_version_id, o.updated_by_id, o.updated_by_name, o.updated_at";

async fn insert_version(
    tx: &mut Tx,
    env: &EnvironmentId,
    object: &VaultObjectId,
    v: &NewVersion,
) -> ApiResult<()> {
    sqlx::query(
        "insert into vault_object_versions
             (environment_id, id, object_id, root_key_id, encrypted_key, ciphertext, size, etag)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(env)
    .bind(&v.id)
    .bind(object)
    .bind(&v.root_key_id)
    .bind(&v.encrypted_key)
    .bind(&v.ciphertext)
    .bind(v.size)
    .bind(&v.etag)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Creates an object with its first version and records `vault.data.created`.
///
/// Errors: 409 when the environment has an object of that name.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    new: &NewObject,
    version: &NewVersion,
    actor: &Actor,
) -> ApiResult<ObjectWithoutValue> {
    let row: ObjectRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into vault_objects as o (environment_id, id, name, key_context, key_id,
             current_version_id, updated_by_id, updated_by_name)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning {COLUMNS}"
    )))
    .bind(env)
    .bind(&new.id)
    .bind(&new.name)
    .bind(Json(&new.context))
    .bind(&new.key_id)
    .bind(&version.id)
    .bind(&actor.id)
    .bind(&actor.name)
    .fetch_one(&mut **tx)
    .await
    .on_constraint("vault_objects_name_key", || ApiError::Conflict {
        code: Some("object_name_conflict"),
        message: format!("An object named '{}' already exists.", new.name),
    })?;
    insert_version(tx, env, &new.id, version).await?;
    let object = ObjectWithoutValue::from(row);
    let mut data = VaultEvent::by(actor);
    data.kv_name = Some(object.name.clone());
    data.key_id = Some(object.metadata.key_id.clone());
    data.key_context = Some(object.metadata.context.clone());
    record(
        tx,
        env,
        names::VAULT_DATA_CREATED,
        &data,
        Some(&new.context),
    )
    .await?;
    Ok(object)
}

/// How an object is looked up.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    /// By id.
    Id(&'a VaultObjectId),
    /// By name.
    Name(&'a str),
}

/// An object and its current version's sealed columns.
pub async fn find_sealed(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    key: Key<'_>,
) -> ApiResult<Option<(ObjectWithoutValue, SealedVersion)>> {
    let (column, value) = match key {
        Key::Id(id) => ("o.id", id.as_str()),
        Key::Name(name) => ("o.name", name),
    };
    let row: Option<(ObjectRow, Vec<u8>, Vec<u8>)> =
        sqlx::query_as::<_, ObjectWithSealed>(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS}, v.encrypted_key, v.ciphertext from vault_objects o
             join vault_object_versions v
               on v.environment_id = o.environment_id and v.id = o.current_version_id
             where o.environment_id = $1 and {column} = $2"
        )))
        .bind(env)
        .bind(value)
        .fetch_optional(conn)
        .await?
        .map(|r| (r.object, r.encrypted_key, r.ciphertext));
    Ok(row.map(|(object, encrypted_key, ciphertext)| {
        let sealed = SealedVersion {
            id: object.current_version_id.clone(),
            encrypted_key,
            ciphertext,
        };
        (ObjectWithoutValue::from(object), sealed)
    }))
}

#[derive(FromRow)]
struct ObjectWithSealed {
    #[sqlx(flatten)]
    object: ObjectRow,
    encrypted_key: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// An object's metadata.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &VaultObjectId,
) -> ApiResult<Option<ObjectWithoutValue>> {
    let row: Option<ObjectRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from vault_objects o where o.environment_id = $1 and o.id = $2"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(ObjectWithoutValue::from))
}

async fn lock(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &VaultObjectId,
) -> ApiResult<Option<ObjectWithoutValue>> {
    let row: Option<ObjectRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from vault_objects o where o.environment_id = $1 and o.id = $2
         for update"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(ObjectWithoutValue::from))
}

/// 409 unless `expected` (when given) is the object's current version.
fn check_version(object: &ObjectWithoutValue, expected: Option<&str>) -> ApiResult<()> {
    match expected {
        Some(v) if v != object.metadata.version_id.as_str() => Err(ApiError::Conflict {
            code: Some("version_check_failed"),
            message: format!("The object's current version is not '{v}'; read it again and retry."),
        }),
        _ => Ok(()),
    }
}

/// Adds `version` as the object's current version and records `vault.data.updated`. `None`
/// for an unknown id.
///
/// Errors: 409 when `version_check` is given and is not the current version.
pub async fn update(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &VaultObjectId,
    version_check: Option<&str>,
    version: &NewVersion,
    actor: &Actor,
) -> ApiResult<Option<ObjectWithoutValue>> {
    let Some(current) = lock(tx, env, id).await? else {
        return Ok(None);
    };
    check_version(&current, version_check)?;
    insert_version(tx, env, id, version).await?;
    let row: ObjectRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update vault_objects o set current_version_id = $3, updated_by_id = $4,
             updated_by_name = $5, updated_at = now()
         where o.environment_id = $1 and o.id = $2 returning {COLUMNS}"
    )))
    .bind(env)
    .bind(id)
    .bind(&version.id)
    .bind(&actor.id)
    .bind(&actor.name)
    .fetch_one(&mut **tx)
    .await?;
    let object = ObjectWithoutValue::from(row);
    let mut data = VaultEvent::by(actor);
    data.kv_name = Some(object.name.clone());
    data.key_id = Some(object.metadata.key_id.clone());
    data.key_context = Some(object.metadata.context.clone());
    let context = object.metadata.context.clone();
    record(tx, env, names::VAULT_DATA_UPDATED, &data, Some(&context)).await?;
    Ok(Some(object))
}

/// Deletes the object with all its versions and records `vault.data.deleted`. `None` for an
/// unknown id.
///
/// Errors: 409 when `version_check` is given and is not the current version.
pub async fn delete(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &VaultObjectId,
    version_check: Option<&str>,
    actor: &Actor,
) -> ApiResult<Option<ObjectWithoutValue>> {
    let Some(current) = lock(tx, env, id).await? else {
        return Ok(None);
    };
    check_version(&current, version_check)?;
    sqlx::query("delete from vault_objects where environment_id = $1 and id = $2")
        .bind(env)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let mut data = VaultEvent::by(actor);
    data.kv_name = Some(current.name.clone());
    let context = current.metadata.context.clone();
    record(tx, env, names::VAULT_DATA_DELETED, &data, Some(&context)).await?;
    Ok(Some(current))
}

/// Filters of `GET /vault/v1/kv`.
#[derive(Debug, Default)]
pub struct ObjectFilter {
    /// Only names containing this text (case-insensitive).
    pub search: Option<String>,
    /// Only objects changed after this instant.
    pub updated_after: Option<DateTime<Utc>>,
}

/// One page of the environment's objects.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    filter: &ObjectFilter,
    params: &ListParams,
) -> ApiResult<List<ObjectSummary>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
        "select o.id, o.name, o.updated_at from vault_objects o where o.environment_id = ",
    );
    qb.push_bind(env);
    if let Some(search) = &filter.search {
        let escaped = search
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        qb.push(" and o.name ilike ")
            .push_bind(format!("%{escaped}%"));
    }
    if let Some(after) = filter.updated_after {
        qb.push(" and o.updated_at > ").push_bind(after);
    }
    params.push_keyset(&mut qb, "o.id");
    let rows: Vec<ObjectSummary> = qb.build_query_as().fetch_all(conn).await?;
    Ok(params.page(rows, |r| r.id.as_str()))
}

/// Every version of the object, newest first; `None` for an unknown id.
pub async fn versions(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &VaultObjectId,
) -> ApiResult<Option<Vec<ObjectVersion>>> {
    let Some(object) = find(&mut *conn, env, id).await? else {
        return Ok(None);
    };
    let rows: Vec<ObjectVersion> = sqlx::query_as(
        "select v.created_at, v.id = $3 as current_version, v.etag, v.id, v.size
         from vault_object_versions v where v.environment_id = $1 and v.object_id = $2
         order by v.id desc",
    )
    .bind(env)
    .bind(id)
    .bind(&object.metadata.version_id)
    .fetch_all(conn)
    .await?;
    Ok(Some(rows))
}
