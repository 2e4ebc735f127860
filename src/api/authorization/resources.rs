//! `/authorization/resources` and
//! `/authorization/organizations/{organizationId}/resources/{resource_type_slug}/{external_id}`:
//! authorization resources by id and by external id. Spec tag `authorization`: list, create,
//! get, update, delete (`AuthorizationResourcesController_*`) and get, update, delete by external
//! id (`AuthorizationResourcesByExternalIdController_*`); schema `AuthorizationResource`.
//! Deleting a resource with children or role assignments needs `cascade_delete=true`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::input;
use crate::api::validate::{self, EXTERNAL_ID_MAX};
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath, List, ListParams, Order, Patch, QueryMap};
use crate::ids::{AuthorizationResourceId, EnvironmentId, IdFilter, OrganizationId};
use crate::state::AppState;
use crate::store::authorization_resources::{
    self as resources, NewResource, ParentRef, Resource, ResourceChanges, ResourceFilter,
    ResourceRef,
};

/// Routes of the resources (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/authorization/resources",
            get(list_resources).post(create_resource),
        )
        .route(
            "/authorization/resources/{resource_id}",
            get(get_resource)
                .patch(update_resource)
                .delete(delete_resource),
        )
        .route(
            "/authorization/organizations/{organizationId}/resources/{resource_type_slug}/{external_id}",
            get(get_by_external_id)
                .patch(update_by_external_id)
                .delete(delete_by_external_id),
        )
}

/// Body of `POST /authorization/resources` (spec: `CreateAuthorizationResourceDto`).
#[derive(Debug, Deserialize)]
pub struct CreateResource {
    /// The caller's key (1–128 characters), unique per organization and type.
    pub external_id: String,
    /// Display name, at most 48 characters.
    pub name: String,
    /// Description, at most 150 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// The resource type.
    pub resource_type_slug: String,
    /// The owning organization.
    pub organization_id: String,
    /// The parent by id (`null`: top level).
    #[serde(default)]
    pub parent_resource_id: Patch<String>,
    /// The parent's external id (with `parent_resource_type_slug`).
    #[serde(default)]
    pub parent_resource_external_id: Option<String>,
    /// The parent's type (with `parent_resource_external_id`).
    #[serde(default)]
    pub parent_resource_type_slug: Option<String>,
}

/// Body of the resource `PATCH`es (spec: `UpdateAuthorizationResourceDto`).
#[derive(Debug, Deserialize)]
pub struct UpdateResource {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New description (`null` clears it).
    #[serde(default)]
    pub description: Patch<String>,
    /// New parent by id (`null`: top level).
    #[serde(default)]
    pub parent_resource_id: Patch<String>,
    /// New parent's external id (with `parent_resource_type_slug`).
    #[serde(default)]
    pub parent_resource_external_id: Option<String>,
    /// New parent's type (with `parent_resource_external_id`).
    #[serde(default)]
    pub parent_resource_type_slug: Option<String>,
}

/// The parent a body names: `None` when it names none.
///
/// Errors: 422 when both forms or half the external pair are given.
fn parent(
    id: Patch<String>,
    external_id: Option<String>,
    type_slug: Option<String>,
) -> ApiResult<Option<ParentRef>> {
    match (id, external_id, type_slug) {
        (Patch::Absent, None, None) => Ok(None),
        (Patch::Null, None, None) => Ok(Some(ParentRef::Root)),
        (Patch::Value(id), None, None) => Ok(Some(ParentRef::Resource(
            AuthorizationResourceId::parse_lenient(&id)
                .map_or(ResourceRef::Malformed(id), ResourceRef::Id),
        ))),
        (Patch::Absent, Some(external_id), Some(resource_type_slug)) => {
            Ok(Some(ParentRef::Resource(ResourceRef::External {
                resource_type_slug,
                external_id,
            })))
        }
        (Patch::Absent, Some(_), None) => Err(ApiError::invalid_field(
            "parent_resource_type_slug",
            "required",
            "parent_resource_type_slug is required with parent_resource_external_id.",
        )),
        (Patch::Absent, None, Some(_)) => Err(ApiError::invalid_field(
            "parent_resource_external_id",
            "required",
            "parent_resource_external_id is required with parent_resource_type_slug.",
        )),
        _ => Err(ApiError::invalid_field(
            "parent_resource_id",
            "mutually_exclusive",
            "Provide either parent_resource_id or parent_resource_external_id and parent_resource_type_slug, not both.",
        )),
    }
}

/// `POST /authorization/resources` → 201 `AuthorizationResource`.
///
/// Errors: 422 for a malformed field, an unknown type, or a parent the type does not allow or
/// of another organization; 404 for an unknown organization or parent; 409
/// `authorization_resource_external_id_conflict`.
async fn create_resource(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateResource>,
) -> ApiResult<(StatusCode, Json<Resource>)> {
    validate::non_blank("external_id", &body.external_id)?;
    validate::max_chars("external_id", Some(&body.external_id), EXTERNAL_ID_MAX)?;
    let name = input::name(&body.name)?;
    input::description(body.description.as_deref())?;
    input::slug("resource_type_slug", &body.resource_type_slug)?;
    let organization_id = OrganizationId::parse_lenient(&body.organization_id)
        .ok_or_else(|| ApiError::not_found_id::<OrganizationId>(&body.organization_id))?;
    let parent = parent(
        body.parent_resource_id,
        body.parent_resource_external_id,
        body.parent_resource_type_slug,
    )?
    .unwrap_or(ParentRef::Root);
    let new = NewResource {
        organization_id,
        resource_type_slug: body.resource_type_slug,
        external_id: body.external_id,
        name,
        description: body.description,
        parent,
    };
    let mut tx = state.db.begin().await?;
    let created = resources::insert(&mut tx, &ctx.environment_id, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /authorization/resources`: a page of `AuthorizationResourceList`, filtered by
/// `organization_id`, `resource_type_slug`, `resource_external_id`, `parent_resource_id` or
/// `parent_resource_type_slug` + `parent_external_id`, and `search` (in the name).
///
/// Errors: 422 for bad list parameters or a half or doubled parent filter.
async fn list_resources(
    State(state): State<AppState>,
    Env(ctx): Env,
    query: QueryMap,
) -> ApiResult<Json<List<Resource>>> {
    let params = ListParams::from_query(&query, Order::Desc)?;
    let parent_external = match (
        query.get("parent_resource_id"),
        query.get("parent_resource_type_slug"),
        query.get("parent_external_id"),
    ) {
        (_, None, None) => None,
        (None, Some(ty), Some(ext)) => Some((ty.to_string(), ext.to_string())),
        (Some(_), _, _) => {
            return Err(ApiError::invalid_field(
                "parent_resource_id",
                "mutually_exclusive",
                "Filter by parent_resource_id or by parent_resource_type_slug and parent_external_id, not both.",
            ));
        }
        (None, _, _) => {
            return Err(ApiError::invalid_field(
                "parent_external_id",
                "required",
                "parent_resource_type_slug and parent_external_id go together.",
            ));
        }
    };
    let filter = ResourceFilter {
        organization_id: query.get("organization_id").map(IdFilter::parse),
        resource_type_slug: query.get("resource_type_slug").map(String::from),
        external_id: query.get("resource_external_id").map(String::from),
        parent_resource_id: query.get("parent_resource_id").map(IdFilter::parse),
        parent_external,
        search: query.get("search").map(String::from),
    };
    let mut conn = state.db.acquire().await?;
    let rows = resources::list(&mut conn, &ctx.environment_id, &filter, &params).await?;
    Ok(Json(params.page(rows, |r| r.id.as_str())))
}

/// `GET /authorization/resources/{resource_id}`. Errors: 404.
async fn get_resource(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<AuthorizationResourceId>,
) -> ApiResult<Json<Resource>> {
    let mut conn = state.db.acquire().await?;
    resources::find(&mut conn, &ctx.environment_id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found_id::<AuthorizationResourceId>(id.as_str()))
}

/// `GET /authorization/organizations/{organizationId}/resources/{resource_type_slug}/{external_id}`.
/// Errors: 404.
async fn get_by_external_id(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(key): Path<(String, String, String)>,
) -> ApiResult<Json<Resource>> {
    Ok(Json(
        input::resource_by_path(&state, &ctx.environment_id, &key).await?,
    ))
}

async fn update(
    state: &AppState,
    env: &EnvironmentId,
    id: &AuthorizationResourceId,
    body: UpdateResource,
) -> ApiResult<Resource> {
    let name = body.name.as_deref().map(input::name).transpose()?;
    input::description(body.description.value().map(String::as_str))?;
    let changes = ResourceChanges {
        name,
        description: body.description.into_update(),
        parent: parent(
            body.parent_resource_id,
            body.parent_resource_external_id,
            body.parent_resource_type_slug,
        )?,
    };
    let mut tx = state.db.begin().await?;
    let updated = resources::update(&mut tx, env, id, &changes)
        .await?
        .ok_or_else(|| ApiError::not_found_id::<AuthorizationResourceId>(id.as_str()))?;
    tx.commit().await?;
    Ok(updated)
}

/// `PATCH /authorization/resources/{resource_id}` → the resource. Errors: 404, 422.
async fn update_resource(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<AuthorizationResourceId>,
    AppJson(body): AppJson<UpdateResource>,
) -> ApiResult<Json<Resource>> {
    Ok(Json(update(&state, &ctx.environment_id, &id, body).await?))
}

/// `PATCH …/resources/{resource_type_slug}/{external_id}` → the resource. Errors: 404, 422.
async fn update_by_external_id(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(key): Path<(String, String, String)>,
    AppJson(body): AppJson<UpdateResource>,
) -> ApiResult<Json<Resource>> {
    let found = input::resource_by_path(&state, &ctx.environment_id, &key).await?;
    Ok(Json(
        update(&state, &ctx.environment_id, &found.id, body).await?,
    ))
}

/// `cascade_delete` of the delete routes. Errors: 422 for a value that is not a boolean.
fn cascade(query: &QueryMap) -> ApiResult<bool> {
    match query.get("cascade_delete") {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::invalid_field(
            "cascade_delete",
            "invalid",
            "cascade_delete must be true or false.",
        )),
    }
}

/// `DELETE /authorization/resources/{resource_id}` → 204.
///
/// Errors: 404; 409 `resource_has_dependents` without `cascade_delete=true`.
async fn delete_resource(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<AuthorizationResourceId>,
    query: QueryMap,
) -> ApiResult<StatusCode> {
    let cascade = cascade(&query)?;
    let mut tx = state.db.begin().await?;
    if !resources::delete(&mut tx, &ctx.environment_id, &id, cascade).await? {
        return Err(ApiError::not_found_id::<AuthorizationResourceId>(
            id.as_str(),
        ));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE …/resources/{resource_type_slug}/{external_id}` → 204.
///
/// Errors: 404; 409 `resource_has_dependents` without `cascade_delete=true`.
async fn delete_by_external_id(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(key): Path<(String, String, String)>,
    query: QueryMap,
) -> ApiResult<StatusCode> {
    let cascade = cascade(&query)?;
    let found = input::resource_by_path(&state, &ctx.environment_id, &key).await?;
    let mut tx = state.db.begin().await?;
    resources::delete(&mut tx, &ctx.environment_id, &found.id, cascade).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
