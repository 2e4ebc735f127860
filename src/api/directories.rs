//! `/directories` (spec tag `directories`): `GET /directories` (filters `organization_id`,
//! `search`, `domain`), `GET /directories/{id}`, `DELETE /directories/{id}`.
//!
//! Extensions (`x-keystead-extension`): `POST /directories` creates a SCIM directory for an
//! organization and returns it with `scim: {endpoint, bearer_token}`; `POST
//! /directories/{id}/scim_token` rotates the token. The token is shown once and stored as a
//! SHA-256 digest.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::crypto::{random_token, sha256_hex};
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath, List, ListParams, Order, QueryMap};
use crate::ids::{DirectoryId, IdFilter, OrganizationId};
use crate::state::AppState;
use crate::store::directories::{self, Directory, DirectoryFilter, NewDirectory, SCIM_TYPES};
use crate::store::organizations;

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/directories", get(list_directories).post(create_directory))
        .route(
            "/directories/{id}",
            get(get_directory).delete(delete_directory),
        )
        .route("/directories/{id}/scim_token", post(rotate_scim_token))
}

/// Body of `POST /directories` (extension).
#[derive(Debug, Deserialize)]
pub struct CreateDirectory {
    /// The organization (`org_…`) the directory provisions into.
    pub organization_id: String,
    /// Display name.
    pub name: String,
    /// A SCIM directory type, e.g. `okta scim v2.0`; default `generic scim v2.0`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Optional primary domain.
    #[serde(default)]
    pub domain: Option<String>,
}

/// The SCIM credentials of a directory (shown once).
#[derive(Debug, Serialize)]
pub struct ScimCredentials {
    /// The SCIM base URL to configure in the IdP (`<public-url>/scim/v2/{directory_id}`).
    pub endpoint: String,
    /// The bearer token the IdP must send; not retrievable later.
    pub bearer_token: String,
}

/// A directory with its freshly issued SCIM credentials.
#[derive(Debug, Serialize)]
pub struct DirectoryWithScim {
    /// The directory.
    #[serde(flatten)]
    pub directory: Directory,
    /// Endpoint and bearer token.
    pub scim: ScimCredentials,
}

fn new_token() -> String {
    format!("scim_{}", random_token(32))
}

/// `POST /directories` → 201 with `scim.endpoint` and `scim.bearer_token`; records
/// `dsync.activated`. Errors: 404 unknown organization, 422 unknown or non-SCIM `type`.
async fn create_directory(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateDirectory>,
) -> ApiResult<(StatusCode, Json<DirectoryWithScim>)> {
    crate::api::validate::non_blank("name", &body.name)?;
    let name_max = crate::api::validate::NAME_MAX;
    crate::api::validate::max_chars("name", Some(body.name.trim()), name_max)?;
    let kind = body.kind.unwrap_or_else(|| "generic scim v2.0".into());
    if !SCIM_TYPES.contains(&kind.as_str()) {
        return Err(ApiError::invalid_field(
            "type",
            "invalid",
            format!("type must be one of: {}.", SCIM_TYPES.join(", ")),
        ));
    }
    let domain = body
        .domain
        .as_deref()
        .map(crate::store::organization_domains::normalize)
        .transpose()?;
    let env = &ctx.environment_id;
    let token = new_token();
    let mut tx = state.db.begin().await?;
    let organization = match OrganizationId::parse_lenient(&body.organization_id) {
        Some(id) => organizations::find(&mut tx, env, &id).await?,
        None => None,
    }
    .ok_or_else(|| ApiError::not_found("Organization", &body.organization_id))?;
    let new = NewDirectory {
        organization_id: organization.id,
        name: body.name.trim().to_string(),
        kind,
        domain,
    };
    let directory = directories::insert(&mut tx, env, &new, &sha256_hex(&token)).await?;
    tx.commit().await?;
    let endpoint = crate::protocols::scim::endpoint(&state.settings.public_url, &directory.id);
    Ok((
        StatusCode::CREATED,
        Json(DirectoryWithScim {
            directory,
            scim: ScimCredentials {
                endpoint,
                bearer_token: token,
            },
        }),
    ))
}

/// `POST /directories/{id}/scim_token` → 201 with a new token; the previous one stops working.
async fn rotate_scim_token(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<DirectoryId>,
) -> ApiResult<(StatusCode, Json<DirectoryWithScim>)> {
    let env = &ctx.environment_id;
    let token = new_token();
    let mut tx = state.db.begin().await?;
    directories::rotate_token(&mut tx, env, &id, &sha256_hex(&token)).await?;
    let directory = directories::find(&mut tx, env, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Directory", &id))?;
    tx.commit().await?;
    let endpoint = crate::protocols::scim::endpoint(&state.settings.public_url, &id);
    Ok((
        StatusCode::CREATED,
        Json(DirectoryWithScim {
            directory,
            scim: ScimCredentials {
                endpoint,
                bearer_token: token,
            },
        }),
    ))
}

/// `GET /directories`.
async fn list_directories(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
) -> ApiResult<Json<List<Directory>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let filter = DirectoryFilter {
        organization_id: q.get("organization_id").map(IdFilter::parse),
        search: q.get("search").map(String::from),
        domain: q.get("domain").map(String::from),
    };
    let mut conn = state.db.acquire().await?;
    let rows = directories::list(&mut conn, &ctx.environment_id, &filter, &params).await?;
    Ok(Json(params.page(rows, |d| &d.id)))
}

/// `GET /directories/{id}`.
async fn get_directory(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<DirectoryId>,
) -> ApiResult<Json<Directory>> {
    let mut conn = state.db.acquire().await?;
    directories::find(&mut conn, &ctx.environment_id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Directory", id))
}

/// `DELETE /directories/{id}` → 202 `{}`; the directory, its users and groups are gone at
/// once and `dsync.deleted` is recorded.
async fn delete_directory(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<DirectoryId>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut tx = state.db.begin().await?;
    directories::delete(&mut tx, &ctx.environment_id, &id).await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}
