//! `/authorization/roles`: the environment role catalogue — list, create (custom slugs), get by
//! slug. Spec tag `authorization` (operations `AuthorizationRolesController_create`, `_list`,
//! `_get`; schema `Role`). `member` and `admin` exist in every environment; permissions are not
//! modelled yet.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::http::extract::has_nul;
use crate::http::{AppJson, Env};
use crate::state::AppState;
use crate::store::roles::{self, NewRole, Role};

/// Routes of the role catalogue (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/authorization/roles", get(list_roles).post(create_role))
        .route("/authorization/roles/{slug}", get(get_role))
}

/// Body of `POST /authorization/roles` (spec: `CreateRoleDto`).
#[derive(Debug, Deserialize)]
pub struct CreateRole {
    /// Unique slug: lowercase letters, digits, `-` and `_`, at most 48 characters.
    pub slug: String,
    /// Display name, at most 48 characters.
    pub name: String,
    /// Description, at most 150 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// Resource type the role applies to (`organization`).
    #[serde(default)]
    pub resource_type_slug: Option<String>,
}

/// `RoleList`: `{object: "list", data}` (not paginated).
#[derive(Debug, Serialize)]
pub struct RoleList {
    /// Always `"list"`.
    pub object: &'static str,
    /// Every role, oldest first.
    pub data: Vec<Role>,
}

fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 48
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// `POST /authorization/roles` → 201 Role; records `role.created`.
///
/// Errors: 422 for a malformed slug, name or description; 409 `role_slug_conflict`.
async fn create_role(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateRole>,
) -> ApiResult<(StatusCode, Json<Role>)> {
    if !valid_slug(&body.slug) {
        return Err(ApiError::invalid_field(
            "slug",
            "invalid",
            "slug must be 1-48 lowercase letters, digits, '-' or '_'.",
        ));
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 48 {
        return Err(ApiError::invalid_field(
            "name",
            "invalid",
            "name must be 1-48 characters.",
        ));
    }
    if body
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 150)
    {
        return Err(ApiError::invalid_field(
            "description",
            "invalid",
            "description must be at most 150 characters.",
        ));
    }
    let resource_type_slug = body
        .resource_type_slug
        .unwrap_or_else(|| "organization".to_string());
    if resource_type_slug != "organization" {
        return Err(ApiError::invalid_field(
            "resource_type_slug",
            "invalid",
            "Only organization roles exist.",
        ));
    }
    let new = NewRole {
        slug: body.slug,
        name: name.to_string(),
        description: body.description,
        resource_type_slug,
    };
    let mut tx = state.db.begin().await?;
    let role = roles::insert(&mut tx, &ctx.environment_id, new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(role)))
}

/// `GET /authorization/roles`.
async fn list_roles(State(state): State<AppState>, Env(ctx): Env) -> ApiResult<Json<RoleList>> {
    let mut conn = state.db.acquire().await?;
    let data = roles::list(&mut conn, &ctx.environment_id).await?;
    Ok(Json(RoleList {
        object: "list",
        data,
    }))
}

/// `GET /authorization/roles/{slug}`. Errors: 404.
async fn get_role(
    State(state): State<AppState>,
    Env(ctx): Env,
    // Roles are addressed by slug (`admin`), a key of the environment, not by their `role_…` id.
    Path(slug): Path<String>,
) -> ApiResult<Json<Role>> {
    let found = if has_nul(&slug) {
        None
    } else {
        let mut conn = state.db.acquire().await?;
        roles::find_by_slug(&mut conn, &ctx.environment_id, &slug).await?
    };
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Role", slug))
}
