//! Organizations (spec tag `organizations`; schema `Organization`) and their `organization.*`
//! events. Domains live in [`super::organization_domains`] and are embedded on read.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::AssertSqlSafe;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};

use super::metadata::MetadataChange;
use super::organization_domains::{self as domains, InitialState, OrganizationDomain};
use super::page::ListParams;
use crate::db::Tx;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::{EnvironmentId, OrganizationId};
use crate::store::events::{self, names};

/// An organization as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct Organization {
    /// Always `"organization"`.
    pub object: &'static str,
    /// `org_…`
    pub id: OrganizationId,
    /// Display name (not unique).
    pub name: String,
    /// The organization's domains, oldest first.
    pub domains: Vec<OrganizationDomain>,
    /// String-to-string metadata (≤ 50 keys).
    pub metadata: Map<String, Value>,
    /// The caller's own id for the organization; `null` when unset.
    pub external_id: Option<String>,
    /// Stripe customer id; omitted when unset (optional in the spec).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stripe_customer_id: Option<String>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
    /// Whether SSO profiles outside the organization's domains are allowed.
    pub allow_profiles_outside_organization: bool,
}

/// The `organization.*` event payload: the organization without
/// `allow_profiles_outside_organization` (WORKOS-API-NOTES §3.2).
#[derive(Debug, Serialize)]
struct OrganizationEvent<'a> {
    object: &'static str,
    id: &'a str,
    name: &'a str,
    domains: &'a [OrganizationDomain],
    metadata: &'a Map<String, Value>,
    external_id: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stripe_customer_id: &'a Option<String>,
    #[serde(with = "crate::timestamp")]
    created_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp")]
    updated_at: DateTime<Utc>,
}

impl<'a> From<&'a Organization> for OrganizationEvent<'a> {
    fn from(o: &'a Organization) -> Self {
        Self {
            object: "organization",
            id: &o.id,
            name: &o.name,
            domains: &o.domains,
            metadata: &o.metadata,
            external_id: &o.external_id,
            stripe_customer_id: &o.stripe_customer_id,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

#[derive(Debug, FromRow)]
struct Row {
    id: OrganizationId,
    name: String,
    external_id: Option<String>,
    metadata: Value,
    stripe_customer_id: Option<String>,
    allow_profiles_outside_organization: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// The domains as `jsonb`, when the query selected [`domains::DOMAINS_JSON`].
    #[sqlx(default)]
    domains: Option<Value>,
}

const COLUMNS: &str = "id, name, external_id, metadata, stripe_customer_id, \
                       allow_profiles_outside_organization, created_at, updated_at";

impl Row {
    fn with_embedded_domains(mut self) -> ApiResult<Organization> {
        let list = domains::from_json(self.domains.take().unwrap_or(Value::Array(Vec::new())))?;
        Ok(self.into_organization(list))
    }

    fn into_organization(self, domains: Vec<OrganizationDomain>) -> Organization {
        Organization {
            object: "organization",
            id: self.id,
            name: self.name,
            domains,
            metadata: super::string_map(self.metadata),
            external_id: self.external_id,
            stripe_customer_id: self.stripe_customer_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
            allow_profiles_outside_organization: self.allow_profiles_outside_organization,
        }
    }
}

/// Input of [`insert`], already validated.
#[derive(Debug, Default)]
pub struct NewOrganization {
    /// Display name.
    pub name: String,
    /// External id.
    pub external_id: Option<String>,
    /// Metadata.
    pub metadata: Map<String, Value>,
    /// Stripe customer id.
    pub stripe_customer_id: Option<String>,
    /// `allow_profiles_outside_organization`.
    pub allow_profiles_outside_organization: bool,
    /// Normalised domains with their initial states.
    pub domains: Vec<(String, InitialState)>,
}

fn external_id_taken() -> ApiError {
    ApiError::bad_request(
        "external_id_already_used",
        "An organization with this external_id already exists.",
    )
}

/// Creates an organization with its domains; records `organization_domain.created` per domain
/// and `organization.created`.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    new: NewOrganization,
) -> ApiResult<Organization> {
    let row: Row = sqlx::query_as(AssertSqlSafe(format!(
        "insert into organizations (id, environment_id, name, external_id, metadata, stripe_customer_id,
           allow_profiles_outside_organization)
         values ($1, $2, $3, $4, $5, $6, $7) returning {COLUMNS}"
    )))
    .bind(OrganizationId::new())
    .bind(env)
    .bind(&new.name)
    .bind(&new.external_id)
    .bind(Value::Object(new.metadata))
    .bind(&new.stripe_customer_id)
    .bind(new.allow_profiles_outside_organization)
    .fetch_one(&mut **tx)
    .await
    .on_constraint("organizations_external_id_key", external_id_taken)?;
    let mut list = Vec::with_capacity(new.domains.len());
    for (domain, state) in &new.domains {
        list.push(domains::insert(tx, env, &row.id, domain, *state).await?);
    }
    let org = row.into_organization(list);
    events::record(
        tx,
        env,
        names::ORGANIZATION_CREATED,
        &OrganizationEvent::from(&org),
        Some(&org.id),
    )
    .await?;
    Ok(org)
}

/// One organization by id, with its domains.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &OrganizationId,
) -> ApiResult<Option<Organization>> {
    find_by(conn, env, "id", id).await
}

/// One organization by its external id, with its domains.
pub async fn find_by_external_id(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    external_id: &str,
) -> ApiResult<Option<Organization>> {
    find_by(conn, env, "external_id", external_id).await
}

async fn find_by(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    column: &str,
    value: &str,
) -> ApiResult<Option<Organization>> {
    // One round trip: the domains come along as a jsonb array.
    let row: Option<Row> = sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS}, ({}) as domains from organizations o where environment_id = $1 and {column} = $2",
        domains::DOMAINS_JSON
    )))
    .bind(env)
    .bind(value)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(Row::with_embedded_domains).transpose()
}

/// Filters of `GET /organizations`.
#[derive(Debug, Default)]
pub struct OrganizationFilter {
    /// Organizations having any of these domains.
    pub domains: Vec<String>,
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
}

/// One page (`limit + 1` rows) of organizations with their domains.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    filter: &OrganizationFilter,
    params: &ListParams,
) -> ApiResult<Vec<Organization>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {COLUMNS}, ({}) as domains from organizations o where environment_id = ",
        domains::DOMAINS_JSON
    ));
    qb.push_bind(env.to_string());
    if !filter.domains.is_empty() {
        qb.push(
            " and exists(select 1 from organization_domains d where d.environment_id = o.environment_id
               and d.organization_id = o.id and d.domain = any(",
        )
        .push_bind(filter.domains.iter().map(|d| d.to_ascii_lowercase()).collect::<Vec<_>>())
        .push("))");
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
    rows.into_iter().map(Row::with_embedded_domains).collect()
}

/// Changes of [`update`]; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct OrganizationChanges {
    /// New name.
    pub name: Option<String>,
    /// New external id (`Some(None)` clears it).
    pub external_id: Option<Option<String>>,
    /// Metadata change, applied to the row read under `for update`.
    pub metadata: Option<MetadataChange>,
    /// New Stripe customer id (`Some(None)` clears it).
    pub stripe_customer_id: Option<Option<String>>,
    /// New `allow_profiles_outside_organization`.
    pub allow_profiles_outside_organization: Option<bool>,
    /// The complete new domain set; existing matching domains keep their id and state.
    pub domains: Option<Vec<(String, InitialState)>>,
}

/// Applies `changes` and records `organization.updated` (and domain events); 404 when absent.
pub async fn update(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &OrganizationId,
    changes: OrganizationChanges,
) -> ApiResult<Organization> {
    let current: Row = sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from organizations where environment_id = $1 and id = $2 for update"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| ApiError::not_found("Organization", id))?;
    let metadata = match changes.metadata {
        Some(change) => Value::Object(change.apply(&super::string_map(current.metadata.clone()))?),
        None => current.metadata,
    };
    let row: Row = sqlx::query_as(AssertSqlSafe(format!(
        "update organizations set name = $3, external_id = $4, metadata = $5, stripe_customer_id = $6,
           allow_profiles_outside_organization = $7
         where environment_id = $1 and id = $2 returning {COLUMNS}"
    )))
    .bind(env)
    .bind(id)
    .bind(changes.name.unwrap_or(current.name))
    .bind(changes.external_id.unwrap_or(current.external_id))
    .bind(metadata)
    .bind(changes.stripe_customer_id.unwrap_or(current.stripe_customer_id))
    .bind(changes.allow_profiles_outside_organization.unwrap_or(current.allow_profiles_outside_organization))
    .fetch_one(&mut **tx)
    .await
    .on_constraint("organizations_external_id_key", external_id_taken)?;

    let mut existing = domains::list_for(tx, env, std::slice::from_ref(&row.id)).await?;
    if let Some(wanted) = changes.domains {
        for d in existing
            .iter()
            .filter(|d| !wanted.iter().any(|(w, _)| *w == d.domain))
        {
            domains::delete(tx, env, &d.id).await?;
        }
        existing.retain(|d| wanted.iter().any(|(w, _)| *w == d.domain));
        for (domain, state) in wanted {
            if !existing.iter().any(|d| d.domain == domain) {
                existing.push(domains::insert(tx, env, &row.id, &domain, state).await?);
            }
        }
    }
    let org = row.into_organization(existing);
    events::record(
        tx,
        env,
        names::ORGANIZATION_UPDATED,
        &OrganizationEvent::from(&org),
        Some(&org.id),
    )
    .await?;
    Ok(org)
}

/// Deletes an organization (its domains and invitations cascade) and records
/// `organization.deleted`, after deleting its memberships (`organization_membership.deleted`).
pub async fn delete(tx: &mut Tx, env: &EnvironmentId, id: &OrganizationId) -> ApiResult<()> {
    let org = find(tx, env, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Organization", id))?;
    super::organization_memberships::delete_all_of(
        tx,
        env,
        super::organization_memberships::MembershipsOf::Organization(id),
    )
    .await?;
    sqlx::query("delete from organizations where environment_id = $1 and id = $2")
        .bind(env)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    events::record(
        tx,
        env,
        names::ORGANIZATION_DELETED,
        &OrganizationEvent::from(&org),
        Some(&org.id),
    )
    .await?;
    Ok(())
}

/// Whether an SSO profile with `email` may sign in through a connection of organization `id`
/// (WorkOS "SSO domains"): always when the organization sets
/// `allow_profiles_outside_organization`, otherwise only when the email's domain is one of its
/// verified domains (an organization with no verified domain admits no one). `None` when the
/// organization does not exist in `env`.
pub async fn admits_profile_email(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &OrganizationId,
    email: &str,
) -> ApiResult<Option<bool>> {
    let domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.trim().trim_end_matches('.').to_lowercase())
        .unwrap_or_default();
    Ok(sqlx::query_scalar(
        "select o.allow_profiles_outside_organization or exists(
           select 1 from organization_domains d
           where d.environment_id = o.environment_id and d.organization_id = o.id
             and lower(d.domain) = $3 and d.state in ('verified', 'legacy_verified'))
         from organizations o where o.environment_id = $1 and o.id = $2",
    )
    .bind(env)
    .bind(id)
    .bind(domain)
    .fetch_optional(conn)
    .await?)
}
