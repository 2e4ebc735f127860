//! Connect applications (spec tag `applications`; schema `ConnectApplication`), table
//! `connect_applications` (migration 1410): OAuth applications (first-party, or third-party for
//! one organization) and machine-to-machine applications (for one organization). An application
//! is addressed by its `conn_app_…` id or its `client_…` client id. Its client secrets are
//! [`super::connect_client_secrets`].
//!
//! The spec and the official SDKs define no `connect_application.*` events, so none are
//! recorded.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{FromRow, PgConnection, PgPool, Postgres, QueryBuilder};

use super::page::{ListParams, push_id_filter};
use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::{ConnectApplicationId, EnvironmentId, IdFilter, OrganizationId, new_id, prefix};

/// `oauth` or `m2m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationType {
    /// Signs users in with the authorization-code flow.
    Oauth,
    /// Machine to machine: the client-credentials grant.
    M2m,
}

impl ApplicationType {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oauth => "oauth",
            Self::M2m => "m2m",
        }
    }
}

/// One redirect URI of an OAuth application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectUri {
    /// The exact URI (matched byte for byte).
    pub uri: String,
    /// Whether it is used when a request names none.
    pub default: bool,
}

/// An application as the API returns it: the common fields, then those of its type (an OAuth
/// application's `redirect_uris`, `uses_pkce`, `is_first_party`, and for a third-party one
/// `was_dynamically_registered` and `organization_id`; an M2M application's `organization_id`).
#[derive(Debug, Clone, Serialize)]
pub struct ConnectApplication {
    /// Always `"connect_application"`.
    pub object: &'static str,
    /// `conn_app_…`
    pub id: ConnectApplicationId,
    /// `client_…`: the OAuth client id.
    pub client_id: String,
    /// Description, or `null`.
    pub description: Option<String>,
    /// Display name.
    pub name: String,
    /// The scopes the application may request.
    pub scopes: Vec<String>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
    /// `oauth` or `m2m`.
    pub application_type: ApplicationType,
    /// OAuth only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<RedirectUri>>,
    /// OAuth only: origins allowed to call the token endpoint from a browser (the Python SDK
    /// reads it); always empty, as Keystead does not configure them yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors_origins: Option<Vec<String>>,
    /// OAuth only: whether the authorization-code flow requires PKCE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uses_pkce: Option<bool>,
    /// OAuth only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_first_party: Option<bool>,
    /// Third-party OAuth only (always `false`: dynamic registration is not served yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub was_dynamically_registered: Option<bool>,
    /// M2M and third-party OAuth applications: the organization they belong to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<OrganizationId>,
}

#[derive(FromRow)]
struct Row {
    id: ConnectApplicationId,
    client_id: String,
    application_type: String,
    name: String,
    description: Option<String>,
    scopes: Vec<String>,
    redirect_uris: Json<Vec<RedirectUri>>,
    uses_pkce: bool,
    is_first_party: bool,
    was_dynamically_registered: bool,
    organization_id: Option<OrganizationId>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for ConnectApplication {
    fn from(r: Row) -> Self {
        let oauth = r.application_type == "oauth";
        let third_party = oauth && !r.is_first_party;
        Self {
            object: "connect_application",
            id: r.id,
            client_id: r.client_id,
            description: r.description,
            name: r.name,
            scopes: r.scopes,
            created_at: r.created_at,
            updated_at: r.updated_at,
            application_type: if oauth {
                ApplicationType::Oauth
            } else {
                ApplicationType::M2m
            },
            redirect_uris: oauth.then_some(r.redirect_uris.0),
            cors_origins: oauth.then(Vec::new),
            uses_pkce: oauth.then_some(r.uses_pkce),
            is_first_party: oauth.then_some(r.is_first_party),
            was_dynamically_registered: third_party.then_some(r.was_dynamically_registered),
            organization_id: if oauth && !third_party {
                None
            } else {
                r.organization_id
            },
        }
    }
}

const COLUMNS: &str = "a.id, a.client_id, a.application_type, a.name, a.description, a.scopes, \
                       a.redirect_uris, a.uses_pkce, a.is_first_party, a.was_dynamically_registered, \
                       a.organization_id, a.created_at, a.updated_at";

/// Input of [`insert`], already validated.
#[derive(Debug, Clone)]
pub struct NewApplication {
    /// `oauth` or `m2m`.
    pub application_type: ApplicationType,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Scopes the application may request.
    pub scopes: Vec<String>,
    /// OAuth: redirect URIs, one of them the default.
    pub redirect_uris: Vec<RedirectUri>,
    /// OAuth: PKCE required.
    pub uses_pkce: bool,
    /// OAuth: first-party.
    pub is_first_party: bool,
    /// M2M and third-party OAuth: the organization (checked to exist).
    pub organization_id: Option<OrganizationId>,
}

/// Creates an application with a fresh `client_…` id.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    new: &NewApplication,
) -> ApiResult<ConnectApplication> {
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into connect_applications as a
             (environment_id, id, client_id, application_type, name, description, scopes,
              redirect_uris, uses_pkce, is_first_party, organization_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning {COLUMNS}"
    )))
    .bind(env)
    .bind(ConnectApplicationId::new())
    .bind(new_id(prefix::CLIENT))
    .bind(new.application_type.as_str())
    .bind(&new.name)
    .bind(&new.description)
    .bind(&new.scopes)
    .bind(Json(&new.redirect_uris))
    .bind(new.uses_pkce)
    .bind(new.is_first_party)
    .bind(&new.organization_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.into())
}

/// One page (`limit + 1` rows) of applications, optionally of one organization.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    organization_id: Option<&IdFilter<OrganizationId>>,
    params: &ListParams,
) -> ApiResult<Vec<ConnectApplication>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {COLUMNS} from connect_applications a where a.environment_id = "
    ));
    qb.push_bind(env.clone());
    push_id_filter(&mut qb, "a.organization_id", organization_id);
    params.push_keyset(&mut qb, "a.id");
    let rows: Vec<Row> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(ConnectApplication::from).collect())
}

/// One application by id or client id; `lock` adds `for update`.
async fn find_where(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id_or_client_id: &str,
    lock: bool,
) -> ApiResult<Option<ConnectApplication>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from connect_applications a
         where a.environment_id = $1 and (a.id = $2 or a.client_id = $2){}",
        if lock { " for update" } else { "" }
    )))
    .bind(env)
    .bind(id_or_client_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(ConnectApplication::from))
}

/// One application by its `conn_app_…` id or its client id.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id_or_client_id: &str,
) -> ApiResult<Option<ConnectApplication>> {
    find_where(conn, env, id_or_client_id, false).await
}

/// [`find`], locked for the rest of the transaction.
pub async fn lock(
    tx: &mut Tx,
    env: &EnvironmentId,
    id_or_client_id: &str,
) -> ApiResult<Option<ConnectApplication>> {
    find_where(tx, env, id_or_client_id, true).await
}

/// Changes of [`update`]; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ApplicationChanges {
    /// New name.
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New scopes.
    pub scopes: Option<Vec<String>>,
    /// New redirect URIs (OAuth applications).
    pub redirect_uris: Option<Vec<RedirectUri>>,
}

/// Applies `changes` to an application read with [`lock`].
pub async fn update(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &ConnectApplicationId,
    changes: &ApplicationChanges,
) -> ApiResult<ConnectApplication> {
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update connect_applications a set
             name = coalesce($3, a.name),
             description = case when $4 then $5 else a.description end,
             scopes = coalesce($6, a.scopes),
             redirect_uris = coalesce($7, a.redirect_uris)
         where a.environment_id = $1 and a.id = $2 returning {COLUMNS}"
    )))
    .bind(env)
    .bind(id)
    .bind(&changes.name)
    .bind(changes.description.is_some())
    .bind(changes.description.clone().flatten())
    .bind(&changes.scopes)
    .bind(changes.redirect_uris.as_ref().map(Json))
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.into())
}

/// Deletes an application (its secrets go with it); `false` when there is none.
pub async fn delete(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &ConnectApplicationId,
) -> ApiResult<bool> {
    let done =
        sqlx::query("delete from connect_applications where environment_id = $1 and id = $2")
            .bind(env)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    Ok(done.rows_affected() > 0)
}

/// The application with this client id, in whatever environment, with its environment and the
/// environment's client id: the token endpoint knows only the client id (client ids are unique
/// across environments, migration 1411).
pub async fn find_client(
    pool: &PgPool,
    client_id: &str,
) -> ApiResult<Option<(EnvironmentId, String, ConnectApplication)>> {
    #[derive(FromRow)]
    struct WithEnv {
        environment_id: EnvironmentId,
        environment_client_id: String,
        #[sqlx(flatten)]
        app: Row,
    }
    let row: Option<WithEnv> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select a.environment_id, e.client_id as environment_client_id, {COLUMNS}
         from connect_applications a join environments e on e.id = a.environment_id
         where a.client_id = $1"
    )))
    .bind(client_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.environment_id, r.environment_client_id, r.app.into())))
}
