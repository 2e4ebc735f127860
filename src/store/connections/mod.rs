//! SSO connections (spec tag `connections`; schemas `Connection`, `ConnectionList`) with their
//! domains, protocol settings and secrets, and the `connection.activated`, `.deactivated` and
//! `.deleted` events (WORKOS-API-NOTES §3.2, §5.5).
//!
//! Secrets never leave this module in a `Serialize` type: the OIDC/OAuth client secret and the
//! SAML SP private key are sealed with the [`Vault`] and only opened by [`secrets`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{AssertSqlSafe, FromRow, PgConnection, Postgres, QueryBuilder};

use crate::crypto::vault::Vault;
use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::ids::{ConnectionDomainId, ConnectionId, EnvironmentId, IdFilter, OrganizationId};
use crate::store::events::{self, names};
use crate::store::page::{ListParams, push_id_filter};

pub use crate::crypto::pem_certificate;

pub use crate::protocols::connection::{OAuthSettings, Protocol, SamlSettings, Settings};

/// `connection_domain` items of a connection.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ConnectionDomain {
    /// `conn_domain_…`
    pub id: ConnectionDomainId,
    /// Always `"connection_domain"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// The domain name, lowercased.
    pub domain: String,
}

/// `options` of SAML connections.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionOptions {
    /// PEM of the certificate Keystead signs AuthnRequests with (the SP certificate).
    pub signing_cert: Option<String>,
}

/// A connection as the API returns it (spec schema `Connection`).
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    /// Always `"connection"`.
    pub object: &'static str,
    /// `conn_…`
    pub id: ConnectionId,
    /// The organization the connection signs users into; absent for environment-wide OAuth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<OrganizationId>,
    /// `GenericSAML`, `OktaSAML`, `GenericOIDC`, `GoogleOAuth`, …
    pub connection_type: String,
    /// Display name.
    pub name: String,
    /// `draft`, `active`, `inactive`, …
    pub state: String,
    /// Deprecated: `linked` when active, else `unlinked`.
    pub status: &'static str,
    /// The email domains routed to this connection.
    pub domains: Vec<ConnectionDomain>,
    /// SAML only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<ConnectionOptions>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// A connection with everything the login flows need (secrets excluded).
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// The API object.
    pub connection: Connection,
    /// Protocol settings.
    pub settings: Settings,
    /// DER of the SP certificate (SAML).
    pub sp_certificate_der: Option<Vec<u8>>,
}

/// Decrypted secrets of a connection.
pub struct Secrets {
    /// OIDC/OAuth client secret.
    pub client_secret: Option<String>,
    /// PKCS#8 DER of the SAML SP private key.
    pub sp_private_key: Option<Vec<u8>>,
}

#[derive(Debug, FromRow)]
struct Row {
    id: ConnectionId,
    organization_id: Option<OrganizationId>,
    connection_type: String,
    name: String,
    state: String,
    protocol: String,
    settings: Value,
    sp_certificate_der: Option<Vec<u8>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, organization_id, connection_type, name, state, protocol, settings, \
                       sp_certificate_der, created_at, updated_at";

impl Row {
    fn into_config(self, domains: Vec<ConnectionDomain>) -> ApiResult<ConnectionConfig> {
        let settings = Settings::from_json(&self.protocol, self.settings)?;
        let options = (self.protocol == "saml").then(|| ConnectionOptions {
            signing_cert: self.sp_certificate_der.as_deref().map(pem_certificate),
        });
        Ok(ConnectionConfig {
            connection: Connection {
                object: "connection",
                status: if self.state == "active" {
                    "linked"
                } else {
                    "unlinked"
                },
                id: self.id,
                organization_id: self.organization_id,
                connection_type: self.connection_type,
                name: self.name,
                state: self.state,
                domains,
                options,
                created_at: self.created_at,
                updated_at: self.updated_at,
            },
            settings,
            sp_certificate_der: self.sp_certificate_der,
        })
    }
}

/// The `connection.activated` / `.deactivated` payload: the connection without `options`, plus
/// `external_key`.
fn lifecycle_event(c: &Connection) -> Value {
    serde_json::json!({
        "object": "connection",
        "id": c.id,
        "organization_id": c.organization_id,
        "connection_type": c.connection_type,
        "name": c.name,
        "state": c.state,
        "status": c.status,
        "domains": c.domains,
        "external_key": c.id.trim_start_matches("conn_").to_ascii_lowercase(),
        "created_at": crate::timestamp::format(&c.created_at),
        "updated_at": crate::timestamp::format(&c.updated_at),
    })
}

/// The `connection.deleted` payload: no `status`, `domains` or `options`.
fn deleted_event(c: &Connection) -> Value {
    serde_json::json!({
        "object": "connection",
        "id": c.id,
        "organization_id": c.organization_id,
        "connection_type": c.connection_type,
        "name": c.name,
        "state": c.state,
        "created_at": crate::timestamp::format(&c.created_at),
        "updated_at": crate::timestamp::format(&c.updated_at),
    })
}

/// Input of [`insert`], already validated.
#[derive(Debug)]
pub struct NewConnection {
    /// Owning organization (checked to exist by the caller's FK).
    pub organization_id: Option<OrganizationId>,
    /// Connection type.
    pub connection_type: String,
    /// Display name.
    pub name: String,
    /// Initial state: `active`, `inactive` or `draft`.
    pub state: String,
    /// Protocol settings.
    pub settings: Settings,
    /// Normalised domains.
    pub domains: Vec<String>,
    /// OIDC/OAuth client secret (sealed here).
    pub client_secret: Option<String>,
    /// SAML SP key: PKCS#8 DER and certificate DER.
    pub sp_key: Option<(Vec<u8>, Vec<u8>)>,
}

async fn load_domains(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    ids: &[ConnectionId],
) -> ApiResult<Vec<(ConnectionId, ConnectionDomain)>> {
    let rows: Vec<(ConnectionId, ConnectionDomainId, String)> = sqlx::query_as(
        "select connection_id, id, domain from connection_domains
         where environment_id = $1 and connection_id = any($2) order by id",
    )
    .bind(env)
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(c, id, domain)| {
            (
                c,
                ConnectionDomain {
                    id,
                    object: "connection_domain",
                    domain,
                },
            )
        })
        .collect())
}

async fn set_domains(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &ConnectionId,
    domains: &[String],
) -> ApiResult<()> {
    sqlx::query("delete from connection_domains where environment_id = $1 and connection_id = $2 and domain <> all($3)")
        .bind(env)
        .bind(id)
        .bind(domains)
        .execute(&mut **tx)
        .await?;
    for d in domains {
        sqlx::query(
            "insert into connection_domains (id, environment_id, connection_id, domain) values ($1, $2, $3, $4)
             on conflict (environment_id, connection_id, domain) do nothing",
        )
        .bind(ConnectionDomainId::new())
        .bind(env)
        .bind(id)
        .bind(d)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// 422 `organization_id` `not_found`: the answer to an organization id (malformed or unknown)
/// that names no organization of the environment.
pub fn org_missing(org: &str) -> ApiError {
    ApiError::invalid_field(
        "organization_id",
        "not_found",
        format!("Organization not found: '{org}'."),
    )
}

/// Creates a connection (records `connection.activated` when it starts active).
pub async fn insert(
    tx: &mut Tx,
    vault: &Vault,
    env: &EnvironmentId,
    new: NewConnection,
) -> ApiResult<ConnectionConfig> {
    if let Some(org) = &new.organization_id {
        let exists: bool = sqlx::query_scalar(
            "select exists(select 1 from organizations where environment_id = $1 and id = $2)",
        )
        .bind(env)
        .bind(org)
        .fetch_one(&mut **tx)
        .await?;
        if !exists {
            return Err(org_missing(org));
        }
    }
    let id = ConnectionId::new();
    let secret = new
        .client_secret
        .as_deref()
        .map(|s| vault.seal(s.as_bytes()))
        .transpose()?;
    let (key_enc, cert) = match &new.sp_key {
        Some((key, cert)) => (Some(vault.seal(key)?), Some(cert.clone())),
        None => (None, None),
    };
    sqlx::query(
        "insert into connections (id, environment_id, organization_id, connection_type, name, state, protocol,
           settings, client_secret_enc, sp_private_key_enc, sp_certificate_der)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(env)
    .bind(&new.organization_id)
    .bind(&new.connection_type)
    .bind(&new.name)
    .bind(&new.state)
    .bind(new.settings.protocol().as_str())
    .bind(new.settings.to_json()?)
    .bind(secret)
    .bind(key_enc)
    .bind(cert)
    .execute(&mut **tx)
    .await?;
    set_domains(tx, env, &id, &new.domains).await?;
    let created = find(tx, env, &id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("connection vanished after insert"))?;
    if created.connection.state == "active" {
        let c = &created.connection;
        events::record(
            tx,
            env,
            names::CONNECTION_ACTIVATED,
            &lifecycle_event(c),
            c.organization_id.as_ref(),
        )
        .await?;
    }
    Ok(created)
}

/// One connection with its settings; `None` when absent in this environment.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &ConnectionId,
) -> ApiResult<Option<ConnectionConfig>> {
    let row: Option<Row> = sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from connections where environment_id = $1 and id = $2"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        None => Ok(None),
        Some(row) => {
            let domains = load_domains(conn, env, std::slice::from_ref(&row.id)).await?;
            Ok(Some(row.into_config(
                domains.into_iter().map(|(_, d)| d).collect(),
            )?))
        }
    }
}

/// The decrypted secrets of a connection.
pub async fn secrets(
    conn: &mut PgConnection,
    vault: &Vault,
    env: &EnvironmentId,
    id: &ConnectionId,
) -> ApiResult<Secrets> {
    type Sealed = (Option<Vec<u8>>, Option<Vec<u8>>);
    let row: Option<Sealed> = sqlx::query_as(
        "select client_secret_enc, sp_private_key_enc from connections where environment_id = $1 and id = $2",
    )
    .bind(env)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    let (secret, key) = row.ok_or_else(|| ApiError::not_found("Connection", id.as_str()))?;
    Ok(Secrets {
        client_secret: secret
            .map(|s| vault.open(&s))
            .transpose()?
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
        sp_private_key: key.map(|k| vault.open(&k)).transpose()?,
    })
}

/// Filters of `GET /connections` (and of connection selection at `/sso/authorize`).
#[derive(Debug, Default)]
pub struct ConnectionFilter {
    /// Only this organization's connections.
    pub organization_id: Option<IdFilter<OrganizationId>>,
    /// Only this type (`GithubOAuth` is read as `GitHubOAuth`).
    pub connection_type: Option<String>,
    /// Only connections having this domain.
    pub domain: Option<String>,
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
    /// Only connections in this state.
    pub state: Option<String>,
}

/// One page (`limit + 1` rows) of connections.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    filter: &ConnectionFilter,
    params: &ListParams,
) -> ApiResult<Vec<ConnectionConfig>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {COLUMNS} from connections c where environment_id = "
    ));
    qb.push_bind(env.to_string());
    push_id_filter(&mut qb, "organization_id", filter.organization_id.as_ref());
    if let Some(t) = &filter.connection_type {
        let t = if t == "GithubOAuth" { "GitHubOAuth" } else { t };
        qb.push(" and connection_type = ").push_bind(t.to_string());
    }
    if let Some(state) = &filter.state {
        qb.push(" and state = ").push_bind(state.clone());
    }
    if let Some(d) = &filter.domain {
        qb.push(
            " and exists(select 1 from connection_domains d where d.environment_id = c.environment_id
               and d.connection_id = c.id and d.domain = ",
        )
        .push_bind(d.trim().to_ascii_lowercase())
        .push(")");
    }
    if let Some(search) = &filter.search {
        let escaped = search
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        qb.push(" and name ilike ")
            .push_bind(format!("%{escaped}%"));
    }
    params.push_keyset(&mut qb, "id");
    let rows: Vec<Row> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let ids: Vec<ConnectionId> = rows.iter().map(|r| r.id.clone()).collect();
    let mut domains = load_domains(conn, env, &ids).await?;
    rows.into_iter()
        .map(|row| {
            let (mine, rest): (Vec<_>, Vec<_>) = domains.drain(..).partition(|(c, _)| *c == row.id);
            domains = rest;
            row.into_config(mine.into_iter().map(|(_, d)| d).collect())
        })
        .collect()
}

/// Changes of [`update`]; `None` leaves a field unchanged.
#[derive(Debug, Default)]
pub struct ConnectionChanges {
    /// New name.
    pub name: Option<String>,
    /// New state (`active`, `inactive`, `draft`).
    pub state: Option<String>,
    /// New protocol settings (same protocol).
    pub settings: Option<Settings>,
    /// The complete new domain set.
    pub domains: Option<Vec<String>>,
    /// New client secret.
    pub client_secret: Option<String>,
}

/// Applies `changes`; records `connection.activated` / `.deactivated` when the state flips.
pub async fn update(
    tx: &mut Tx,
    vault: &Vault,
    env: &EnvironmentId,
    id: &ConnectionId,
    changes: ConnectionChanges,
) -> ApiResult<ConnectionConfig> {
    let current = find_for_update(tx, env, id).await?;
    let was_active = current.connection.state == "active";
    let settings = match changes.settings {
        Some(s) => s.to_json()?,
        None => current.settings.to_json()?,
    };
    let secret = changes
        .client_secret
        .as_deref()
        .map(|s| vault.seal(s.as_bytes()))
        .transpose()?;
    sqlx::query(
        "update connections set name = $3, state = $4, settings = $5,
           client_secret_enc = coalesce($6, client_secret_enc)
         where environment_id = $1 and id = $2",
    )
    .bind(env)
    .bind(id)
    .bind(changes.name.unwrap_or(current.connection.name))
    .bind(changes.state.unwrap_or(current.connection.state))
    .bind(settings)
    .bind(secret)
    .execute(&mut **tx)
    .await?;
    if let Some(domains) = &changes.domains {
        set_domains(tx, env, id, domains).await?;
    }
    let updated = find(tx, env, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Connection", id.as_str()))?;
    let c = &updated.connection;
    let now_active = c.state == "active";
    if was_active != now_active {
        let name = if now_active {
            names::CONNECTION_ACTIVATED
        } else {
            names::CONNECTION_DEACTIVATED
        };
        events::record(
            tx,
            env,
            name,
            &lifecycle_event(c),
            c.organization_id.as_ref(),
        )
        .await?;
    }
    Ok(updated)
}

async fn find_for_update(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &ConnectionId,
) -> ApiResult<ConnectionConfig> {
    sqlx::query("select 1 from connections where environment_id = $1 and id = $2 for update")
        .bind(env)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| ApiError::not_found("Connection", id.as_str()))?;
    find(tx, env, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Connection", id.as_str()))
}

/// Deletes a connection (domains, requests, profiles and tokens cascade) and records
/// `connection.deleted`.
pub async fn delete(tx: &mut Tx, env: &EnvironmentId, id: &ConnectionId) -> ApiResult<()> {
    let current = find_for_update(tx, env, id).await?;
    sqlx::query("delete from connections where environment_id = $1 and id = $2")
        .bind(env)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let c = &current.connection;
    events::record(
        tx,
        env,
        names::CONNECTION_DELETED,
        &deleted_event(c),
        c.organization_id.as_ref(),
    )
    .await?;
    Ok(())
}

/// The environment of a connection, from its globally unique id. Only the IdP- and
/// browser-facing routes (ACS, SP metadata, OIDC callback) use this: their URL carries the
/// connection id and nothing else, and every later query is scoped to the environment found.
pub async fn environment_of(
    conn: &mut PgConnection,
    id: &ConnectionId,
) -> ApiResult<Option<EnvironmentId>> {
    Ok(
        sqlx::query_scalar("select environment_id from connections where id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}
