//! Organization domains (spec tag `organization-domains`; schema `OrganizationDomainStandAlone`).
//!
//! A `dns` domain starts `pending` with a `verification_prefix` and `verification_token`: the
//! customer publishes a TXT record `<prefix>.<domain>` holding the token, and verification moves
//! it to `verified` or `failed`. A `manual` domain is created `verified` by the API caller.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use sqlx::{FromRow, PgConnection};

use crate::crypto::random_alphanumeric;
use crate::db::Tx;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::{EnvironmentId, OrganizationDomainId, OrganizationId};
use crate::store::events::{self, names};

/// An organization domain, as the API returns it.
#[derive(Debug, Clone, Serialize, Deserialize, FromRow)]
pub struct OrganizationDomain {
    /// Always `"organization_domain"`.
    #[sqlx(skip)]
    #[serde(skip_deserializing)]
    pub object: &'static str,
    /// `org_domain_…`
    pub id: OrganizationDomainId,
    /// The owning organization.
    pub organization_id: OrganizationId,
    /// The domain name, lowercased.
    pub domain: String,
    /// `pending`, `verified`, `failed`, …
    pub state: String,
    /// DNS record label prefix (dns strategy only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_prefix: Option<String>,
    /// Token to publish in the TXT record (dns strategy only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_token: Option<String>,
    /// `dns` or `manual`.
    pub verification_strategy: String,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, organization_id, domain, state, verification_prefix, verification_token, \
                       verification_strategy, created_at, updated_at";

/// A `jsonb` array of an organization's domains (oldest first), for embedding in one query:
/// `({DOMAINS_JSON}) as domains` where the outer row is aliased `o`.
pub const DOMAINS_JSON: &str =
    "select coalesce(jsonb_agg(to_jsonb(x) order by x.id), '[]'::jsonb) from (
       select id, organization_id, domain, state, verification_prefix, verification_token,
              verification_strategy, created_at, updated_at
       from organization_domains d
       where d.environment_id = o.environment_id and d.organization_id = o.id) x";

/// Decodes [`DOMAINS_JSON`] output.
pub fn from_json(v: serde_json::Value) -> ApiResult<Vec<OrganizationDomain>> {
    let list: Vec<OrganizationDomain> = serde_json::from_value(v).map_err(anyhow::Error::from)?;
    Ok(list.into_iter().map(tag).collect())
}

fn tag(mut d: OrganizationDomain) -> OrganizationDomain {
    d.object = "organization_domain";
    d
}

/// The initial state of a new domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialState {
    /// Awaiting DNS verification.
    Pending,
    /// Verified by the caller (manual strategy).
    Verified,
}

/// Validates and normalises a domain name: lowercase, no scheme, at least one dot.
pub fn normalize(domain: &str) -> ApiResult<String> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let valid = d.contains('.')
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if valid {
        Ok(d)
    } else {
        Err(ApiError::invalid_field(
            "domain",
            "invalid",
            format!("'{domain}' is not a valid domain."),
        ))
    }
}

/// Adds a domain to an organization and records `organization_domain.created`.
///
/// Errors: 409 `domain_already_exists` when the organization has it already; 409 when another
/// organization of the environment has verified it and this one would be verified too.
pub async fn insert(
    tx: &mut Tx,
    env: &EnvironmentId,
    organization_id: &OrganizationId,
    domain: &str,
    state: InitialState,
) -> ApiResult<OrganizationDomain> {
    let (state, strategy, vprefix, token) = match state {
        InitialState::Pending => (
            "pending",
            "dns",
            Some(format!(
                "keystead-domain-verification-{}",
                random_alphanumeric(6).to_ascii_lowercase()
            )),
            Some(random_alphanumeric(25)),
        ),
        InitialState::Verified => ("verified", "manual", None, None),
    };
    let row: OrganizationDomain = sqlx::query_as(AssertSqlSafe(format!(
        "insert into organization_domains
           (id, environment_id, organization_id, domain, state, verification_prefix, verification_token, verification_strategy)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning {COLUMNS}"
    )))
    .bind(OrganizationDomainId::new())
    .bind(env)
    .bind(organization_id)
    .bind(domain)
    .bind(state)
    .bind(vprefix)
    .bind(token)
    .bind(strategy)
    .fetch_one(&mut **tx)
    .await
    .on_constraint("organization_domains_domain_key", || ApiError::Conflict {
        code: Some("domain_already_exists"),
        message: format!("Domain {domain} already exists for this organization."),
    })
    .on_constraint("organization_domains_verified_key", || ApiError::Conflict {
        code: Some("domain_already_exists"),
        message: format!("Domain {domain} is already verified by another organization."),
    })?;
    let row = tag(row);
    events::record(
        tx,
        env,
        names::ORGANIZATION_DOMAIN_CREATED,
        &row,
        Some(organization_id),
    )
    .await?;
    Ok(row)
}

/// One domain by id.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &OrganizationDomainId,
) -> ApiResult<Option<OrganizationDomain>> {
    let row: Option<OrganizationDomain> = sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from organization_domains where environment_id = $1 and id = $2"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(tag))
}

/// The domains of the given organizations, oldest first.
pub async fn list_for(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    organization_ids: &[OrganizationId],
) -> ApiResult<Vec<OrganizationDomain>> {
    let rows: Vec<OrganizationDomain> = sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from organization_domains
         where environment_id = $1 and organization_id = any($2) order by id"
    )))
    .bind(env)
    .bind(organization_ids)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(tag).collect())
}

/// Deletes a domain and records `organization_domain.deleted`; 404 when absent.
pub async fn delete(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &OrganizationDomainId,
) -> ApiResult<OrganizationDomain> {
    let row: OrganizationDomain = sqlx::query_as(AssertSqlSafe(format!(
        "delete from organization_domains where environment_id = $1 and id = $2 returning {COLUMNS}"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .map(tag)
    .ok_or_else(|| ApiError::not_found("Organization Domain", id))?;
    events::record(
        tx,
        env,
        names::ORGANIZATION_DOMAIN_DELETED,
        &row,
        Some(&row.organization_id),
    )
    .await?;
    Ok(row)
}

/// Locks a domain row for a state change (`select … for update`).
pub async fn find_for_update(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &OrganizationDomainId,
) -> ApiResult<Option<OrganizationDomain>> {
    let row: Option<OrganizationDomain> = sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from organization_domains where environment_id = $1 and id = $2 for update"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(tag))
}

/// Why a verification failed (`organization_domain.verification_failed` `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// The TXT record was not found or did not match.
    PeriodExpired,
    /// Another organization of the environment verified the domain first.
    VerifiedByOtherOrganization,
}

/// Marks a domain `verified` (records `organization_domain.verified` and `.updated`), or
/// `failed` with a reason (records `organization_domain.verification_failed` and `.updated`).
pub async fn set_verification(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &OrganizationDomainId,
    outcome: Result<(), FailureReason>,
) -> ApiResult<OrganizationDomain> {
    let state = if outcome.is_ok() {
        "verified"
    } else {
        "failed"
    };
    let row: OrganizationDomain = sqlx::query_as(AssertSqlSafe(format!(
        "update organization_domains set state = $3 where environment_id = $1 and id = $2 returning {COLUMNS}"
    )))
    .bind(env)
    .bind(id)
    .bind(state)
    .fetch_optional(&mut **tx)
    .await?
    .map(tag)
    .ok_or_else(|| ApiError::not_found("Organization Domain", id))?;
    let org = Some(&row.organization_id);
    match outcome {
        Ok(()) => events::record(tx, env, names::ORGANIZATION_DOMAIN_VERIFIED, &row, org).await?,
        Err(reason) => {
            let reason = match reason {
                FailureReason::PeriodExpired => "domain_verification_period_expired",
                FailureReason::VerifiedByOtherOrganization => {
                    "domain_verified_by_other_organization"
                }
            };
            let data = serde_json::json!({ "reason": reason, "organization_domain": &row });
            events::record(
                tx,
                env,
                names::ORGANIZATION_DOMAIN_VERIFICATION_FAILED,
                &data,
                org,
            )
            .await?;
        }
    }
    events::record(tx, env, names::ORGANIZATION_DOMAIN_UPDATED, &row, org).await?;
    Ok(row)
}

/// True when another organization of the environment has `domain` verified.
pub async fn verified_elsewhere(
    tx: &mut Tx,
    env: &EnvironmentId,
    organization_id: &OrganizationId,
    domain: &str,
) -> ApiResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists(select 1 from organization_domains where environment_id = $1 and domain = $2
           and organization_id <> $3 and state in ('verified', 'legacy_verified'))",
    )
    .bind(env)
    .bind(domain)
    .bind(organization_id)
    .fetch_one(&mut **tx)
    .await?)
}
