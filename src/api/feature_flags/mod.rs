//! Feature Flags. Spec tags `feature-flags` (`FeatureFlagsController_list`, `_findBySlug`,
//! `_enableFlag`, `_disableFlag`), `feature-flags.targets` (`FlagTargetsController_createTarget`,
//! `_deleteTarget`), `organizations.feature-flags` and `user-management.users.feature-flags`
//! ([`lists`]); the SDK runtime client's `GET /sdk/feature-flags` ([`sdk`]) and the OpenFeature
//! remote evaluation protocol ([`ofrep`]).
//!
//! Keystead extensions (WorkOS creates flags in its dashboard): `POST /feature-flags` → 201 `Flag`
//! and `DELETE /feature-flags/{slug}` → 204, also `keystead feature-flags create|delete`.
//! Flags are addressed by slug; their `flag_…` id is the list cursor.

pub mod lists;
pub mod ofrep;
pub mod sdk;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::validate;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::has_nul;
use crate::http::{AppJson, Env, List, ListParams, Order, QueryMap};
use crate::state::AppState;
use crate::store::feature_flag_targets::{self, Target};
use crate::store::feature_flags::{self, FeatureFlag, NewFeatureFlag, Subject};

/// Longest slug.
pub const SLUG_MAX: usize = 64;
/// Longest description.
pub const DESCRIPTION_MAX: usize = 1024;
/// Most tags on a flag.
pub const TAGS_MAX: usize = 50;
/// Longest tag.
pub const TAG_MAX: usize = 64;

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/feature-flags", get(list_flags).post(create_flag))
        .route("/feature-flags/{slug}", get(get_flag).delete(delete_flag))
        .route("/feature-flags/{slug}/enable", put(enable_flag))
        .route("/feature-flags/{slug}/disable", put(disable_flag))
        .route(
            "/feature-flags/{slug}/targets/{resourceId}",
            post(add_target).delete(remove_target),
        )
        .merge(lists::router())
        .merge(sdk::router())
        .merge(ofrep::router())
}

/// Body of `POST /feature-flags` (a Keystead extension).
#[derive(Debug, Deserialize)]
pub struct CreateFeatureFlag {
    /// Unique key: lowercase letters, digits, `-` and `_`, starting with a letter or digit, at
    /// most [`SLUG_MAX`] characters.
    pub slug: String,
    /// Display name (1 to 256 characters).
    pub name: String,
    /// Description (at most [`DESCRIPTION_MAX`] characters).
    #[serde(default)]
    pub description: Option<String>,
    /// The value of subjects no target matches (default `false`).
    #[serde(default)]
    pub default_value: Option<bool>,
    /// On from the start (default `false`).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Labels (at most [`TAGS_MAX`], each 1 to [`TAG_MAX`] characters).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// Whether `slug` is a valid flag slug.
pub fn valid_slug(slug: &str) -> bool {
    let mut bytes = slug.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && slug.len() <= SLUG_MAX
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Checks a [`CreateFeatureFlag`] (shared by the API and the CLI).
///
/// Errors: 422 `invalid_request_parameters` naming the field (`slug`, `name`, `description`,
/// `tags`).
pub fn parse_create(body: CreateFeatureFlag) -> ApiResult<NewFeatureFlag> {
    if !valid_slug(&body.slug) {
        return Err(ApiError::invalid_field(
            "slug",
            "invalid",
            format!(
                "slug must be 1-{SLUG_MAX} lowercase letters, digits, '-' or '_', starting with a letter or digit."
            ),
        ));
    }
    validate::non_blank("name", &body.name)?;
    let name = body.name.trim().to_string();
    validate::max_chars("name", Some(&name), validate::NAME_MAX)?;
    validate::max_chars("description", body.description.as_deref(), DESCRIPTION_MAX)?;
    let tags = body.tags.unwrap_or_default();
    if tags.len() > TAGS_MAX
        || tags
            .iter()
            .any(|t| t.trim().is_empty() || t.chars().count() > TAG_MAX)
    {
        return Err(ApiError::invalid_field(
            "tags",
            "invalid",
            format!("tags must be at most {TAGS_MAX} labels of 1-{TAG_MAX} characters."),
        ));
    }
    Ok(NewFeatureFlag {
        slug: body.slug,
        name,
        description: body.description,
        tags,
        enabled: body.enabled.unwrap_or(false),
        default_value: body.default_value.unwrap_or(false),
    })
}

/// `POST /feature-flags` → 201 `Flag`; records `flag.created`.
///
/// Errors: 422 for a malformed field; 409 `feature_flag_slug_conflict`.
async fn create_flag(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateFeatureFlag>,
) -> ApiResult<(StatusCode, Json<FeatureFlag>)> {
    let new = parse_create(body)?;
    let mut tx = state.db.begin().await?;
    let flag = feature_flags::insert(&mut tx, &ctx.environment_id, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(flag)))
}

/// `GET /feature-flags`: every flag, newest first unless `order` says otherwise.
async fn list_flags(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
) -> ApiResult<Json<List<FeatureFlag>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let mut conn = state.db.acquire().await?;
    let rows = feature_flags::list(&mut conn, &ctx.environment_id, Subject::All, &params).await?;
    Ok(Json(params.page(rows, |f| &f.id)))
}

/// The 404 of an unknown slug.
fn unknown(slug: &str) -> ApiError {
    ApiError::not_found("Feature flag", slug)
}

/// `GET /feature-flags/{slug}`. Errors: 404.
async fn get_flag(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(slug): Path<String>,
) -> ApiResult<Json<FeatureFlag>> {
    if has_nul(&slug) {
        return Err(unknown(&slug));
    }
    let mut conn = state.db.acquire().await?;
    feature_flags::find_by_slug(&mut conn, &ctx.environment_id, &slug)
        .await?
        .map(Json)
        .ok_or_else(|| unknown(&slug))
}

/// `DELETE /feature-flags/{slug}` → 204 (its targets go with it); records `flag.deleted`.
/// Errors: 404.
async fn delete_flag(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    if has_nul(&slug) {
        return Err(unknown(&slug));
    }
    let mut tx = state.db.begin().await?;
    if feature_flags::delete(&mut tx, &ctx.environment_id, &slug)
        .await?
        .is_none()
    {
        return Err(unknown(&slug));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_enabled(
    state: &AppState,
    ctx: &Env,
    slug: &str,
    on: bool,
) -> ApiResult<Json<FeatureFlag>> {
    if has_nul(slug) {
        return Err(unknown(slug));
    }
    let mut tx = state.db.begin().await?;
    let flag = feature_flags::set_enabled(&mut tx, &ctx.0.environment_id, slug, on)
        .await?
        .ok_or_else(|| unknown(slug))?;
    tx.commit().await?;
    Ok(Json(flag))
}

/// `PUT /feature-flags/{slug}/enable` → 200 `FeatureFlag`; records `flag.updated` when it was
/// off. Errors: 404.
async fn enable_flag(
    State(state): State<AppState>,
    ctx: Env,
    Path(slug): Path<String>,
) -> ApiResult<Json<FeatureFlag>> {
    set_enabled(&state, &ctx, &slug, true).await
}

/// `PUT /feature-flags/{slug}/disable` → 200 `FeatureFlag`; records `flag.updated` when it was
/// on. Errors: 404.
async fn disable_flag(
    State(state): State<AppState>,
    ctx: Env,
    Path(slug): Path<String>,
) -> ApiResult<Json<FeatureFlag>> {
    set_enabled(&state, &ctx, &slug, false).await
}

/// The path of the target routes: the flag's slug and the target's id.
#[derive(Debug)]
pub struct TargetPath {
    /// The flag's slug.
    pub slug: String,
    /// The raw `resourceId`.
    pub resource_id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for TargetPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((slug, resource_id)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| unknown(""))?;
        Ok(Self { slug, resource_id })
    }
}

impl TargetPath {
    /// The target, after the flag's slug is known to be storable.
    ///
    /// Errors: 400 `invalid_resource_id_format` for an id that is neither `org_…` nor `user_…`;
    /// 404 for a slug with a NUL character.
    fn parse(&self) -> ApiResult<Target> {
        let target = Target::parse(&self.resource_id).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_resource_id_format",
                "Invalid resource id: expected 'org_<id>' or 'user_<id>'.",
            )
        })?;
        if has_nul(&self.slug) {
            return Err(unknown(&self.slug));
        }
        Ok(target)
    }
}

/// `POST /feature-flags/{slug}/targets/{resourceId}` → 204: the flag is on for that
/// organization or user; records `flag.rule_updated` when it was not a target yet.
///
/// Errors: 400 `invalid_resource_id_format`; 404 for an unknown flag, organization or user
/// (another environment's ids included).
async fn add_target(
    State(state): State<AppState>,
    Env(ctx): Env,
    path: TargetPath,
) -> ApiResult<StatusCode> {
    let target = path.parse()?;
    let mut tx = state.db.begin().await?;
    feature_flag_targets::add(&mut tx, &ctx.environment_id, &path.slug, &target).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /feature-flags/{slug}/targets/{resourceId}` → 204; records `flag.rule_updated` when
/// it was a target.
///
/// Errors: 400 `invalid_resource_id_format`; 404 for an unknown flag, organization or user.
async fn remove_target(
    State(state): State<AppState>,
    Env(ctx): Env,
    path: TargetPath,
) -> ApiResult<StatusCode> {
    let target = path.parse()?;
    let mut tx = state.db.begin().await?;
    feature_flag_targets::remove(&mut tx, &ctx.environment_id, &path.slug, &target).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_keys() {
        for ok in ["a", "advanced-analytics", "beta_2", "0day"] {
            assert!(valid_slug(ok), "{ok}");
        }
        for bad in ["", "-a", "A", "a b", "a.b", "é", &"a".repeat(SLUG_MAX + 1)] {
            assert!(!valid_slug(bad), "{bad}");
        }
    }
}
