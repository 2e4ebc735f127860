//! Connect applications: spec tag `applications` (`ApplicationsController_list`, `_create`,
//! `_find`, `_update`, `_delete`: `GET`/`POST /connect/applications`, `GET`/`PUT`/`DELETE
//! /connect/applications/{id}`, where `{id}` is the `conn_app_…` id or the `client_…` client
//! id) and its client secrets ([`secrets`], tag `application.client-secrets`).
//!
//! An OAuth application (`application_type: "oauth"`) says whether it is first-party
//! (`is_first_party`, required); a third-party one needs `organization_id`. It has redirect
//! URIs (exactly one of them the default when there are any: the first unless one says
//! `default: true`) and `uses_pkce` (default `true`). An M2M application (`"m2m"`) needs
//! `organization_id` and takes neither redirect URIs, PKCE nor `is_first_party`. `scopes` are
//! the OAuth scope tokens the application may request. `null` in an update leaves a field as it
//! is (the Node SDK sends `null` for every field it was not given).
//!
//! M2M applications obtain access tokens from `POST /oauth2/token` ([`token`], public).

pub mod lookup;
pub mod secrets;
pub mod token;

use self::lookup::{find, unknown};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::validate;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::http::extract::{from_value, has_nul};
use crate::http::{AppJson, Env, List, ListParams, Order, QueryMap};
use crate::ids::{EnvironmentId, IdFilter, OrganizationId};
use crate::state::AppState;
use crate::store::connect_applications::{
    self, ApplicationChanges, ApplicationType, ConnectApplication, NewApplication, RedirectUri,
};
use crate::store::organizations;

/// Longest description.
pub const DESCRIPTION_MAX: usize = 1024;
/// Most scopes of an application.
pub const SCOPES_MAX: usize = 50;
/// Longest scope token.
pub const SCOPE_MAX: usize = 128;
/// Most redirect URIs of an application.
pub const REDIRECT_URIS_MAX: usize = 20;

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/connect/applications",
            get(list_applications).post(create_application),
        )
        .route(
            "/connect/applications/{id}",
            get(get_application)
                .put(update_application)
                .delete(delete_application),
        )
        .merge(secrets::router())
}

/// Public routes of this area: the token endpoint.
pub fn public_router() -> Router<AppState> {
    token::public_router()
}

/// A redirect URI as a request gives it (`RedirectUriDto`).
#[derive(Debug, Deserialize)]
pub struct RedirectUriInput {
    /// The URI.
    pub uri: String,
    /// Whether it is the default.
    #[serde(default)]
    pub default: Option<bool>,
}

/// Body of `POST /connect/applications` (`CreateOAuthApplicationDto` or
/// `CreateM2MApplicationDto`).
#[derive(Debug, Deserialize)]
pub struct CreateApplication {
    /// Display name.
    pub name: String,
    /// `oauth` or `m2m`.
    pub application_type: ApplicationType,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Scopes the application may request.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// OAuth: redirect URIs.
    #[serde(default)]
    pub redirect_uris: Option<Vec<RedirectUriInput>>,
    /// OAuth: PKCE required (default `true`).
    #[serde(default)]
    pub uses_pkce: Option<bool>,
    /// OAuth: first-party (required).
    #[serde(default)]
    pub is_first_party: Option<bool>,
    /// M2M and third-party OAuth: the organization.
    #[serde(default)]
    pub organization_id: Option<String>,
}

/// Body of `PUT /connect/applications/{id}` (`UpdateOAuthApplicationDto`).
#[derive(Debug, Deserialize)]
pub struct UpdateApplication {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New description (an empty string clears it).
    #[serde(default)]
    pub description: Option<String>,
    /// New scopes.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// New redirect URIs (OAuth applications).
    #[serde(default)]
    pub redirect_uris: Option<Vec<RedirectUriInput>>,
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_field(field, "invalid", message)
}

/// A checked name.
fn name(raw: &str) -> ApiResult<String> {
    validate::non_blank("name", raw)?;
    let name = raw.trim().to_string();
    validate::max_chars("name", Some(&name), validate::NAME_MAX)?;
    Ok(name)
}

/// A checked description (`""` is none).
fn description(raw: Option<String>) -> ApiResult<Option<String>> {
    validate::max_chars("description", raw.as_deref(), DESCRIPTION_MAX)?;
    Ok(raw.filter(|d| !d.trim().is_empty()))
}

/// Whether `s` is an RFC 6749 §3.3 scope token.
fn scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= SCOPE_MAX
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Checked scopes, duplicates dropped.
fn scopes(raw: Vec<String>) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for s in raw {
        if !scope_token(&s) {
            return Err(invalid(
                "scopes",
                format!("'{s}' is not a scope token (RFC 6749 §3.3)."),
            ));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    if out.len() > SCOPES_MAX {
        return Err(invalid(
            "scopes",
            format!("An application has at most {SCOPES_MAX} scopes."),
        ));
    }
    Ok(out)
}

/// Whether a redirect URI may be registered: absolute, no fragment, not a script or data URL,
/// plain `http` only for a loopback host (RFC 8252 §7.3); other schemes are native apps' own.
fn redirect_uri_ok(raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else {
        return false;
    };
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    raw.len() <= crate::limits::URL_MAX
        && url.fragment().is_none()
        && match url.scheme() {
            "https" => url.host_str().is_some(),
            "http" => loopback,
            "javascript" | "data" | "file" | "vbscript" | "blob" | "about" => false,
            _ => true,
        }
}

/// Checked redirect URIs: unique, at most one default; the first is the default when none is.
fn redirect_uris(raw: Vec<RedirectUriInput>) -> ApiResult<Vec<RedirectUri>> {
    if raw.len() > REDIRECT_URIS_MAX {
        return Err(invalid(
            "redirect_uris",
            format!("An application has at most {REDIRECT_URIS_MAX} redirect URIs."),
        ));
    }
    let mut out: Vec<RedirectUri> = Vec::new();
    for r in raw {
        if !redirect_uri_ok(&r.uri) {
            return Err(invalid(
                "redirect_uris",
                format!(
                    "'{}' is not a valid redirect URI (absolute, no fragment; http only for loopback hosts).",
                    r.uri
                ),
            ));
        }
        if out.iter().any(|o| o.uri == r.uri) {
            return Err(invalid(
                "redirect_uris",
                format!("'{}' is listed twice.", r.uri),
            ));
        }
        out.push(RedirectUri {
            uri: r.uri,
            default: r.default.unwrap_or(false),
        });
    }
    match out.iter().filter(|r| r.default).count() {
        0 => {
            if let Some(first) = out.first_mut() {
                first.default = true;
            }
        }
        1 => {}
        _ => {
            return Err(invalid(
                "redirect_uris",
                "At most one redirect URI may be the default.",
            ));
        }
    }
    Ok(out)
}

/// The organization of the body: 422 when malformed or missing where required, 404 when not
/// the environment's.
async fn organization(
    state: &AppState,
    env: &EnvironmentId,
    raw: &str,
) -> ApiResult<OrganizationId> {
    let unknown = || ApiError::not_found_id::<OrganizationId>(raw);
    let id = OrganizationId::parse_lenient(raw).ok_or_else(unknown)?;
    let mut conn = state.db.acquire().await?;
    organizations::find(&mut conn, env, &id)
        .await?
        .map(|o| o.id)
        .ok_or_else(unknown)
}

/// Checks a create body. Errors: 422 naming the field; 404 for an unknown organization.
async fn parse_create(
    state: &AppState,
    env: &EnvironmentId,
    body: CreateApplication,
) -> ApiResult<NewApplication> {
    let name = name(&body.name)?;
    let description = description(body.description)?;
    let scopes = scopes(body.scopes.unwrap_or_default())?;
    let required = |field: &str, why: &str| {
        ApiError::invalid_field(field, "required", format!("{field} is required {why}."))
    };
    let (redirect_uris, uses_pkce, is_first_party, organization_id) = match body.application_type {
        ApplicationType::Oauth => {
            let first_party = body
                .is_first_party
                .ok_or_else(|| required("is_first_party", "for OAuth applications"))?;
            let org = match (first_party, body.organization_id.as_deref()) {
                (false, None) => {
                    return Err(required("organization_id", "for third-party applications"));
                }
                (false, Some(raw)) => Some(organization(state, env, raw).await?),
                (true, None) => None,
                (true, Some(_)) => {
                    return Err(invalid(
                        "organization_id",
                        "A first-party application belongs to no organization.",
                    ));
                }
            };
            let uris = redirect_uris(body.redirect_uris.unwrap_or_default())?;
            (uris, body.uses_pkce.unwrap_or(true), first_party, org)
        }
        ApplicationType::M2m => {
            for (field, given) in [
                ("redirect_uris", body.redirect_uris.is_some()),
                ("uses_pkce", body.uses_pkce.is_some()),
                ("is_first_party", body.is_first_party.is_some()),
            ] {
                if given {
                    return Err(invalid(
                        field,
                        format!("{field} is for OAuth applications only."),
                    ));
                }
            }
            let raw = body
                .organization_id
                .ok_or_else(|| required("organization_id", "for M2M applications"))?;
            (
                Vec::new(),
                false,
                false,
                Some(organization(state, env, &raw).await?),
            )
        }
    };
    Ok(NewApplication {
        application_type: body.application_type,
        name,
        description,
        scopes,
        redirect_uris,
        uses_pkce,
        is_first_party,
        organization_id,
    })
}

/// `POST /connect/applications` → 201 `ConnectApplication`. Errors: 422 for a bad field; 404
/// for an unknown `organization_id`.
async fn create_application(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<Value>,
) -> ApiResult<(StatusCode, Json<ConnectApplication>)> {
    let env = &ctx.environment_id;
    let body: CreateApplication = from_value(body)?;
    let new = parse_create(&state, env, body).await?;
    let org = new.organization_id.clone();
    let mut tx = state.db.begin().await?;
    let app = connect_applications::insert(&mut tx, env, &new)
        .await
        .on_constraint("connect_applications_organization_fkey", || {
            ApiError::not_found_id::<OrganizationId>(org.map(String::from).unwrap_or_default())
        })?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(app)))
}

/// `GET /connect/applications[?organization_id=]`: newest first. Errors: 422 for bad list
/// parameters.
async fn list_applications(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
) -> ApiResult<Json<List<ConnectApplication>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let org = q
        .get("organization_id")
        .map(IdFilter::<OrganizationId>::parse);
    let mut conn = state.db.acquire().await?;
    let rows =
        connect_applications::list(&mut conn, &ctx.environment_id, org.as_ref(), &params).await?;
    Ok(Json(params.page(rows, |a| &a.id)))
}

/// `GET /connect/applications/{id}` (id or client id). Errors: 404.
async fn get_application(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectApplication>> {
    find(&state, &ctx.environment_id, &id).await.map(Json)
}

/// `PUT /connect/applications/{id}` `{name?, description?, scopes?, redirect_uris?}` → 200.
/// Errors: 404; 422 for a bad field, or redirect URIs for an M2M application.
async fn update_application(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(id): Path<String>,
    AppJson(body): AppJson<UpdateApplication>,
) -> ApiResult<Json<ConnectApplication>> {
    let env = &ctx.environment_id;
    if has_nul(&id) {
        return Err(unknown(&id));
    }
    let changes = ApplicationChanges {
        name: body.name.as_deref().map(name).transpose()?,
        description: body.description.map(|d| description(Some(d))).transpose()?,
        scopes: body.scopes.map(scopes).transpose()?,
        redirect_uris: body.redirect_uris.map(redirect_uris).transpose()?,
    };
    let mut tx = state.db.begin().await?;
    let current = connect_applications::lock(&mut tx, env, &id)
        .await?
        .ok_or_else(|| unknown(&id))?;
    if current.application_type == ApplicationType::M2m && changes.redirect_uris.is_some() {
        return Err(invalid(
            "redirect_uris",
            "redirect_uris is for OAuth applications only.",
        ));
    }
    let app = connect_applications::update(&mut tx, env, &current.id, &changes).await?;
    tx.commit().await?;
    Ok(Json(app))
}

/// `DELETE /connect/applications/{id}` → 204 (its secrets go with it). Errors: 404.
async fn delete_application(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let env = &ctx.environment_id;
    if has_nul(&id) {
        return Err(unknown(&id));
    }
    let mut tx = state.db.begin().await?;
    let current = connect_applications::lock(&mut tx, env, &id)
        .await?
        .ok_or_else(|| unknown(&id))?;
    connect_applications::delete(&mut tx, env, &current.id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
