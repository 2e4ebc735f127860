//! `/organization_domains`: create, get, delete, and `POST /organization_domains/{id}/verify`,
//! which looks up the TXT record `<verification_prefix>.<domain>` and expects the
//! `verification_token` in it. Spec tag `organization-domains`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath};
use crate::ids::{OrganizationDomainId, OrganizationId};
use crate::state::AppState;
use crate::store::organization_domains::{
    self as domains, FailureReason, InitialState, OrganizationDomain,
};
use crate::store::organizations;

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organization_domains", post(create_organization_domain))
        .route(
            "/organization_domains/{id}",
            get(get_organization_domain).delete(delete_organization_domain),
        )
        .route(
            "/organization_domains/{id}/verify",
            post(verify_organization_domain),
        )
}

/// Body of `POST /organization_domains`.
#[derive(Debug, Deserialize)]
pub struct CreateOrganizationDomain {
    /// The domain to add, e.g. `foo-corp.com`.
    pub domain: String,
    /// The organization (`org_…`) it belongs to.
    pub organization_id: String,
}

/// `POST /organization_domains` → 201, state `pending` with a verification token.
/// Errors: 404 unknown organization, 409 `domain_already_exists`, 422 invalid domain.
async fn create_organization_domain(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateOrganizationDomain>,
) -> ApiResult<(StatusCode, Json<OrganizationDomain>)> {
    let domain = domains::normalize(&body.domain)?;
    let env = &ctx.environment_id;
    let mut tx = state.db.begin().await?;
    let organization = match OrganizationId::parse_lenient(&body.organization_id) {
        Some(id) => organizations::find(&mut tx, env, &id).await?,
        None => None,
    }
    .ok_or_else(|| ApiError::not_found("Organization", &body.organization_id))?;
    let row = domains::insert(
        &mut tx,
        env,
        &organization.id,
        &domain,
        InitialState::Pending,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// `GET /organization_domains/{id}`.
async fn get_organization_domain(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationDomainId>,
) -> ApiResult<Json<OrganizationDomain>> {
    let mut conn = state.db.acquire().await?;
    domains::find(&mut conn, &ctx.environment_id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Organization Domain", id))
}

/// `DELETE /organization_domains/{id}` → 204.
async fn delete_organization_domain(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationDomainId>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    domains::delete(&mut tx, &ctx.environment_id, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /organization_domains/{id}/verify` → 201 with the domain in its new state:
/// `verified` when the TXT record holds the token, else `failed`.
///
/// The DNS lookup runs before any transaction opens. Errors: 400 `domain_already_verified`,
/// 404 unknown domain, 503 when the resolver itself fails (the state is left unchanged).
async fn verify_organization_domain(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<OrganizationDomainId>,
) -> ApiResult<(StatusCode, Json<OrganizationDomain>)> {
    let env = &ctx.environment_id;
    let domain = {
        let mut conn = state.db.acquire().await?;
        domains::find(&mut conn, env, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("Organization Domain", &id))?
    };
    if matches!(domain.state.as_str(), "verified" | "legacy_verified") {
        return Err(ApiError::bad_request(
            "domain_already_verified",
            "Domain is already verified.",
        ));
    }
    let (Some(vprefix), Some(token)) = (&domain.verification_prefix, &domain.verification_token)
    else {
        return Err(ApiError::bad_request(
            "domain_already_verified",
            "Domain is verified manually.",
        ));
    };
    let name = format!("{vprefix}.{}", domain.domain);
    let records = state.dns.lookup_txt(&name).await.map_err(|e| {
        tracing::warn!(error = %e, "DNS lookup failed during domain verification");
        ApiError::Unavailable
    })?;
    let found = records.iter().any(|r| r.trim() == token);

    let mut tx = state.db.begin().await?;
    let current = domains::find_for_update(&mut tx, env, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Organization Domain", &id))?;
    if current.state == "verified" {
        return Ok((StatusCode::CREATED, Json(current)));
    }
    let outcome = if !found {
        Err(FailureReason::PeriodExpired)
    } else if domains::verified_elsewhere(&mut tx, env, &current.organization_id, &current.domain)
        .await?
    {
        Err(FailureReason::VerifiedByOtherOrganization)
    } else {
        Ok(())
    };
    let row = domains::set_verification(&mut tx, env, &id, outcome).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row)))
}
