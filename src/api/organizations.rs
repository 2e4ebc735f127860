//! `/organizations`: list, create, get, get by external id, update (`PUT`, partial), delete.
//! Spec tag `organizations` (operations `OrganizationsController_*`).

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::validate;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::has_nul;
use crate::http::idempotency::{IdempotentTx, InHandlerRoute};
use crate::http::{AppJson, Env, IdPath, List, ListParams, Order, Patch, QueryMap};
use crate::ids::OrganizationId;
use crate::state::AppState;
use crate::store::metadata::MetadataChange;
use crate::store::organization_domains::{InitialState, normalize};
use crate::store::organizations::{
    self, NewOrganization, Organization, OrganizationChanges, OrganizationFilter,
};

/// Routes whose handlers claim their `Idempotency-Key` in their own transaction.
pub const IDEMPOTENT_IN_HANDLER: &[InHandlerRoute] = &[(Method::POST, "/organizations")];

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/organizations",
            get(list_organizations).post(create_organization),
        )
        .route(
            "/organizations/{id}",
            get(get_organization)
                .put(update_organization)
                .delete(delete_organization),
        )
        .route(
            "/organizations/external_id/{external_id}",
            get(get_organization_by_external_id),
        )
}

/// `domain_data[]` item: a domain and its initial state.
#[derive(Debug, Deserialize)]
pub struct DomainData {
    /// The domain name.
    pub domain: String,
    /// `pending` (DNS verification) or `verified` (manual).
    pub state: DomainDataState,
}

/// Initial state of a domain given in `domain_data`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DomainDataState {
    /// Verify by DNS.
    Pending,
    /// Already verified by the caller.
    Verified,
}

/// Body of `POST /organizations` (spec: `CreateOrganizationDto`).
#[derive(Debug, Deserialize)]
pub struct CreateOrganization {
    /// Display name; required.
    pub name: String,
    /// Allow SSO profiles outside the organization's domains.
    #[serde(default)]
    pub allow_profiles_outside_organization: Option<bool>,
    /// Deprecated: domain names, created verified.
    #[serde(default)]
    pub domains: Option<Vec<String>>,
    /// Domains with their initial state.
    #[serde(default)]
    pub domain_data: Option<Vec<DomainData>>,
    /// String-to-string metadata.
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// The caller's id for the organization (unique per environment).
    #[serde(default)]
    pub external_id: Option<String>,
    /// Stripe customer id.
    #[serde(default)]
    pub stripe_customer_id: Option<String>,
}

/// Body of `PUT /organizations/{id}`: every field optional (partial update).
#[derive(Debug, Deserialize)]
pub struct UpdateOrganization {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New `allow_profiles_outside_organization`.
    #[serde(default)]
    pub allow_profiles_outside_organization: Option<bool>,
    /// Deprecated: the complete domain set, new ones created verified.
    #[serde(default)]
    pub domains: Option<Vec<String>>,
    /// The complete domain set with states for new ones.
    #[serde(default)]
    pub domain_data: Option<Vec<DomainData>>,
    /// Metadata to merge: strings set keys, `null` removes them; `null` clears all.
    #[serde(default)]
    pub metadata: Patch<Map<String, Value>>,
    /// New external id; `null` clears it.
    #[serde(default)]
    pub external_id: Patch<String>,
    /// New Stripe customer id; `null` clears it.
    #[serde(default)]
    pub stripe_customer_id: Patch<String>,
}

/// Normalises `domains` / `domain_data` into one deduplicated list.
fn domain_set(
    domains: Option<Vec<String>>,
    data: Option<Vec<DomainData>>,
) -> ApiResult<Option<Vec<(String, InitialState)>>> {
    if domains.is_none() && data.is_none() {
        return Ok(None);
    }
    let mut out: Vec<(String, InitialState)> = Vec::new();
    let items = domains
        .unwrap_or_default()
        .into_iter()
        .map(|d| (d, InitialState::Verified))
        .chain(data.unwrap_or_default().into_iter().map(|d| {
            let state = match d.state {
                DomainDataState::Pending => InitialState::Pending,
                DomainDataState::Verified => InitialState::Verified,
            };
            (d.domain, state)
        }));
    for (domain, state) in items {
        let domain = normalize(&domain)?;
        if !out.iter().any(|(d, _)| *d == domain) {
            out.push((domain, state));
        }
    }
    Ok(Some(out))
}

/// `GET /organizations` — filters `domains` (comma-joined or repeated), `search`.
async fn list_organizations(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
) -> ApiResult<Json<List<Organization>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let filter = OrganizationFilter {
        domains: q.list("domains"),
        search: q.get("search").map(String::from),
    };
    let mut conn = state.db.acquire().await?;
    let rows = organizations::list(&mut conn, &ctx.environment_id, &filter, &params).await?;
    Ok(Json(params.page(rows, |o| &o.id)))
}

/// `POST /organizations` → 201 Organization (the `Idempotency-Key` claimed in the same
/// transaction).
async fn create_organization(
    Env(ctx): Env,
    mut tx: IdempotentTx,
    AppJson(body): AppJson<CreateOrganization>,
) -> ApiResult<Response> {
    validate::non_blank("name", &body.name)?;
    validate::max_chars("name", Some(body.name.trim()), validate::NAME_MAX)?;
    validate::external_id(body.external_id.as_deref())?;
    validate::max_chars(
        "stripe_customer_id",
        body.stripe_customer_id.as_deref(),
        validate::STRIPE_CUSTOMER_ID_MAX,
    )?;
    let new = NewOrganization {
        name: body.name.trim().to_string(),
        external_id: body.external_id,
        metadata: validate::new_metadata(body.metadata)?,
        stripe_customer_id: body.stripe_customer_id,
        allow_profiles_outside_organization: body
            .allow_profiles_outside_organization
            .unwrap_or(false),
        domains: domain_set(body.domains, body.domain_data)?.unwrap_or_default(),
    };
    let org = organizations::insert(&mut tx, &ctx.environment_id, new).await?;
    tx.commit_json(StatusCode::CREATED, &org).await
}

/// `GET /organizations/{id}`.
async fn get_organization(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationId>,
) -> ApiResult<Json<Organization>> {
    let mut conn = state.db.acquire().await?;
    organizations::find(&mut conn, &ctx.environment_id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Organization", id))
}

/// `GET /organizations/external_id/{external_id}`.
async fn get_organization_by_external_id(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(external_id): Path<String>,
) -> ApiResult<Json<Organization>> {
    let found = if has_nul(&external_id) {
        None
    } else {
        let mut conn = state.db.acquire().await?;
        organizations::find_by_external_id(&mut conn, &ctx.environment_id, &external_id).await?
    };
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Organization", external_id))
}

/// `PUT /organizations/{id}` — partial update.
async fn update_organization(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationId>,
    AppJson(body): AppJson<UpdateOrganization>,
) -> ApiResult<Json<Organization>> {
    if let Some(name) = &body.name {
        validate::non_blank("name", name)?;
        validate::max_chars("name", Some(name.trim()), validate::NAME_MAX)?;
    }
    validate::external_id(body.external_id.value().map(String::as_str))?;
    validate::max_chars(
        "stripe_customer_id",
        body.stripe_customer_id.value().map(String::as_str),
        validate::STRIPE_CUSTOMER_ID_MAX,
    )?;
    let domains = domain_set(body.domains, body.domain_data)?;
    let env = &ctx.environment_id;
    let mut tx = state.db.begin().await?;
    let metadata = match body.metadata {
        Patch::Absent => None,
        Patch::Null => Some(MetadataChange::Clear),
        Patch::Value(update) => {
            validate::metadata(&update)?;
            Some(MetadataChange::Merge(update))
        }
    };
    let changes = OrganizationChanges {
        name: body.name.map(|n| n.trim().to_string()),
        external_id: body.external_id.into_update(),
        metadata,
        stripe_customer_id: body.stripe_customer_id.into_update(),
        allow_profiles_outside_organization: body.allow_profiles_outside_organization,
        domains,
    };
    let org = organizations::update(&mut tx, env, &id, changes).await?;
    tx.commit().await?;
    Ok(Json(org))
}

/// `DELETE /organizations/{id}` → 202 with no body (deletion is complete when it answers).
async fn delete_organization(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationId>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    organizations::delete(&mut tx, &ctx.environment_id, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED)
}
