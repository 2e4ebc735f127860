//! Organization and user API keys, the WorkOS API Keys product (spec tags `api_keys`,
//! `organizations.api_keys`; schema `ApiKey`), table `product_api_keys` (migration 1400). Not
//! Keystead's own environment keys ([`super::environment_keys`], table `api_keys`): neither
//! kind is ever looked up in the other's table.
//!
//! A value (`sk_` and 48 random alphanumerics) is returned once by [`insert`] and stored as its
//! SHA-256 digest ([`crate::crypto::sha256_hex`], the environment keys' helper);
//! [`find_by_digest`] is the validation lookup behind `state::api_keys`'s cache. Creating,
//! deleting and expiring record `api_key.created`, `api_key.revoked` and `api_key.updated` in
//! their transaction; the trigger of migration 1400 announces deletions and expiry changes on
//! [`CHANGE_CHANNEL`] so every server drops the key from its cache.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool, Postgres, QueryBuilder};

use super::events::{self, EventName, names};
use super::page::{ListParams, push_id_filter};
use crate::crypto;
use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::{ApiKeyId, EnvironmentId, IdFilter, OrganizationId, UserId};

/// Postgres channel on which migration 1400's trigger announces a deleted key, or a key whose
/// `expires_at` changed, as `<environment_id>:<key_hash>`.
pub const CHANGE_CHANNEL: &str = "keystead_product_api_key_changed";

/// Length of the random part of a value, after `sk_`.
const VALUE_RANDOM_LEN: usize = 48;

/// Who owns a key (`ApiKey.owner`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Owner {
    /// An organization's key: `{type: "organization", id}`.
    Organization {
        /// `org_…`
        id: OrganizationId,
    },
    /// A user's key in one of their organizations: `{type: "user", id, organization_id}`.
    User {
        /// `user_…`
        id: UserId,
        /// The organization the key can access (the user is an active member).
        organization_id: OrganizationId,
    },
}

impl Owner {
    /// The organization the key belongs to, whoever owns it.
    pub fn organization_id(&self) -> &OrganizationId {
        match self {
            Self::Organization { id }
            | Self::User {
                organization_id: id,
                ..
            } => id,
        }
    }
}

/// An API key as the API returns it (`ApiKey`, and the `api_key.*` event payloads), never with
/// its value.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    /// Always `"api_key"`.
    pub object: &'static str,
    /// `api_key_…`
    pub id: ApiKeyId,
    /// The organization, or the user in an organization.
    pub owner: Owner,
    /// Descriptive name.
    pub name: String,
    /// `sk_...3456`
    pub obfuscated_value: String,
    /// Last successful validation (updated at most once a minute), `null` before the first.
    #[serde(with = "crate::timestamp::option")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// When the key stops validating; `null` when it does not expire (the Python SDK's
    /// `ApiKey.expires_at`).
    #[serde(with = "crate::timestamp::option")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Permission slugs.
    pub permissions: Vec<String>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
    /// The stored SHA-256 digest of the value (never serialized): what caches are keyed by.
    #[serde(skip)]
    pub key_hash: String,
}

impl ApiKey {
    /// Whether the key has expired at `now`.
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A key as created: the [`ApiKey`] and its value, shown this once
/// (`OrganizationApiKeyWithValue`, `UserApiKeyWithValue`).
#[derive(Debug, Serialize)]
pub struct ApiKeyWithValue {
    /// The key.
    #[serde(flatten)]
    pub key: ApiKey,
    /// `sk_…`
    pub value: String,
}

/// The `api_key.updated` payload: the key and its previous `expires_at`.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyUpdated {
    /// The key after the change.
    #[serde(flatten)]
    pub key: ApiKey,
    /// `{expires_at}` before the change.
    pub previous_attributes: PreviousExpiry,
}

/// The previous attributes of `api_key.updated`.
#[derive(Debug, Clone, Serialize)]
pub struct PreviousExpiry {
    /// The former expiry.
    #[serde(with = "crate::timestamp::option")]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(FromRow)]
struct Row {
    id: ApiKeyId,
    organization_id: OrganizationId,
    user_id: Option<UserId>,
    name: String,
    key_hash: String,
    obfuscated_value: String,
    permissions: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for ApiKey {
    fn from(r: Row) -> Self {
        let owner = match r.user_id {
            Some(id) => Owner::User {
                id,
                organization_id: r.organization_id,
            },
            None => Owner::Organization {
                id: r.organization_id,
            },
        };
        Self {
            object: "api_key",
            id: r.id,
            owner,
            name: r.name,
            obfuscated_value: r.obfuscated_value,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
            permissions: r.permissions,
            created_at: r.created_at,
            updated_at: r.updated_at,
            key_hash: r.key_hash,
        }
    }
}

const COLUMNS: &str = "k.id, k.organization_id, k.user_id, k.name, k.key_hash, k.obfuscated_value, \
                       k.permissions, k.expires_at, k.last_used_at, k.created_at, k.updated_at";

async fn record(tx: &mut Tx, env: &EnvironmentId, event: EventName, key: &ApiKey) -> ApiResult<()> {
    events::record(tx, env, event, key, Some(key.owner.organization_id())).await
}

/// Input of [`insert`], already validated (the owner exists, a user owner is an active member).
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// The owner.
    pub owner: Owner,
    /// Descriptive name.
    pub name: String,
    /// Permission slugs.
    pub permissions: Vec<String>,
    /// Expiry, in the future.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Creates a key with a fresh value and records `api_key.created`.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    new: &NewApiKey,
) -> ApiResult<ApiKeyWithValue> {
    let value = format!("sk_{}", crypto::random_alphanumeric(VALUE_RANDOM_LEN));
    let (organization_id, user_id) = match &new.owner {
        Owner::Organization { id } => (id, None),
        Owner::User {
            id,
            organization_id,
        } => (organization_id, Some(id)),
    };
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into product_api_keys as k
             (environment_id, id, organization_id, user_id, name, key_hash, obfuscated_value,
              permissions, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning {COLUMNS}"
    )))
    .bind(env)
    .bind(ApiKeyId::new())
    .bind(organization_id)
    .bind(user_id)
    .bind(&new.name)
    .bind(crypto::sha256_hex(&value))
    .bind(crypto::obfuscate(&value))
    .bind(&new.permissions)
    .bind(new.expires_at)
    .fetch_one(&mut **tx)
    .await?;
    let key = ApiKey::from(row);
    record(tx, env, names::API_KEY_CREATED, &key).await?;
    Ok(ApiKeyWithValue { key, value })
}

/// Whose keys a list shows.
#[derive(Debug)]
pub enum ListOwner<'a> {
    /// The organization's own keys (not its members').
    Organization(&'a OrganizationId),
    /// The user's keys, optionally only those of one organization.
    User(&'a UserId, Option<&'a IdFilter<OrganizationId>>),
}

/// One page (`limit + 1` rows) of keys.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    owner: ListOwner<'_>,
    params: &ListParams,
) -> ApiResult<Vec<ApiKey>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {COLUMNS} from product_api_keys k where k.environment_id = "
    ));
    qb.push_bind(env.clone());
    match owner {
        ListOwner::Organization(org) => {
            qb.push(" and k.user_id is null and k.organization_id = ")
                .push_bind(org.clone());
        }
        ListOwner::User(user, org) => {
            qb.push(" and k.user_id = ").push_bind(user.clone());
            push_id_filter(&mut qb, "k.organization_id", org);
        }
    }
    params.push_keyset(&mut qb, "k.id");
    let rows: Vec<Row> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(ApiKey::from).collect())
}

/// One key, locked for the rest of the transaction.
pub async fn lock(tx: &mut Tx, env: &EnvironmentId, id: &ApiKeyId) -> ApiResult<Option<ApiKey>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from product_api_keys k where k.environment_id = $1 and k.id = $2 for update"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(ApiKey::from))
}

/// Deletes a key for good and records `api_key.revoked`; `None` when there is no such key.
pub async fn delete(tx: &mut Tx, env: &EnvironmentId, id: &ApiKeyId) -> ApiResult<Option<ApiKey>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "delete from product_api_keys k where k.environment_id = $1 and k.id = $2 returning {COLUMNS}"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(key) = row.map(ApiKey::from) else {
        return Ok(None);
    };
    record(tx, env, names::API_KEY_REVOKED, &key).await?;
    Ok(Some(key))
}

/// Sets the expiry of a key read with [`lock`] and records `api_key.updated` with the previous
/// expiry.
pub async fn set_expiry(
    tx: &mut Tx,
    env: &EnvironmentId,
    current: &ApiKey,
    expires_at: Option<DateTime<Utc>>,
) -> ApiResult<ApiKey> {
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update product_api_keys k set expires_at = $3 where k.environment_id = $1 and k.id = $2
         returning {COLUMNS}"
    )))
    .bind(env)
    .bind(&current.id)
    .bind(expires_at)
    .fetch_one(&mut **tx)
    .await?;
    let key = ApiKey::from(row);
    let payload = ApiKeyUpdated {
        key: key.clone(),
        previous_attributes: PreviousExpiry {
            expires_at: current.expires_at,
        },
    };
    events::record(
        tx,
        env,
        names::API_KEY_UPDATED,
        &payload,
        Some(key.owner.organization_id()),
    )
    .await?;
    Ok(key)
}

/// The key of the environment whose value has this SHA-256 digest; a user key only while its
/// owner is an active member of its organization. Expiry is the caller's to check (a cached
/// key expires while cached).
pub async fn find_by_digest(
    pool: &PgPool,
    env: &EnvironmentId,
    digest: &str,
) -> ApiResult<Option<ApiKey>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from product_api_keys k
         where k.environment_id = $1 and k.key_hash = $2
           and (k.user_id is null or exists (
                select 1 from organization_memberships m
                where m.environment_id = k.environment_id and m.user_id = k.user_id
                  and m.organization_id = k.organization_id and m.status = 'active'))"
    )))
    .bind(env)
    .bind(digest)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(ApiKey::from))
}

/// Records a use of the key: sets `last_used_at` to now unless it was set within the last
/// minute. Returns the stored `last_used_at` (`None` when the key is gone).
pub async fn touch(
    pool: &PgPool,
    env: &EnvironmentId,
    id: &ApiKeyId,
) -> ApiResult<Option<DateTime<Utc>>> {
    let at: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
        "with touched as (
             update product_api_keys set last_used_at = now()
             where environment_id = $1 and id = $2
               and (last_used_at is null or last_used_at < now() - interval '1 minute')
             returning last_used_at)
         select coalesce((select last_used_at from touched),
                         (select last_used_at from product_api_keys where environment_id = $1 and id = $2))",
    )
    .bind(env)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(at.flatten())
}
