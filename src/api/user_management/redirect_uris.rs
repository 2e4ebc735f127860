//! Redirect URIs: `POST /user_management/redirect_uris` (operation `RedirectUrisController_create`,
//! spec tag `user-management.redirect-uris`), plus `GET` (list) and `DELETE …/{id}` as the SDKs
//! call them (Keystead extensions, `docs/openapi-user-management.yaml`).
//!
//! Keystead redirects browsers only to these URIs (logout `return_to`, the hosted login's
//! `redirect_uri`), matched exactly. The first URI of an environment is its default.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath, List, ListParams, Order, QueryMap};
use crate::ids::RedirectUriId;
use crate::state::AppState;
use crate::store::environment_settings;
use crate::store::redirect_uris::{self, RedirectUri};

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/user_management/redirect_uris",
            get(list_redirect_uris).post(create_redirect_uri),
        )
        .route(
            "/user_management/redirect_uris/{id}",
            delete(delete_redirect_uri),
        )
}

/// Body of `POST /user_management/redirect_uris`.
#[derive(Debug, Deserialize)]
pub struct CreateRedirectUri {
    /// An absolute URI without a fragment (`https://…`, `http://…`, or an app scheme).
    pub uri: String,
    /// Make it the default.
    #[serde(default)]
    pub default: Option<bool>,
}

/// Checks a redirect URI: absolute, no fragment, not `javascript:`/`data:`/`file:`/`vbscript:`,
/// and `http://` only when `allow_http` (the environment's `allow_http_redirect_uris` setting:
/// on in staging, off in production by default). Errors: 422 `{message}`.
pub fn validate(uri: &str, allow_http: bool) -> ApiResult<()> {
    let bad = |why: &str| ApiError::Unprocessable {
        code: "invalid_request_parameters",
        message: format!("Invalid redirect URI '{uri}': {why}."),
        errors: vec![serde_json::json!({ "code": "invalid", "field": "uri" })],
    };
    let url = url::Url::parse(uri).map_err(|_| bad("not an absolute URI"))?;
    if matches!(
        url.scheme(),
        "javascript" | "data" | "file" | "vbscript" | "blob"
    ) {
        return Err(bad("scheme not allowed"));
    }
    if url.fragment().is_some() {
        return Err(bad("fragments are not allowed"));
    }
    if matches!(url.scheme(), "http" | "https") && url.host_str().is_none() {
        return Err(bad("no host"));
    }
    if url.scheme() == "http" && !allow_http {
        return Err(bad(
            "http:// redirect URIs are not allowed in this environment (allow_http_redirect_uris)",
        ));
    }
    Ok(())
}

/// `POST /user_management/redirect_uris` → 201 RedirectUri. Errors: 422 invalid URI; 400 for a
/// URI already registered.
async fn create_redirect_uri(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateRedirectUri>,
) -> ApiResult<(StatusCode, Json<RedirectUri>)> {
    let uri = body.uri.trim();
    crate::limits::max_chars("uri", Some(uri), crate::limits::URL_MAX)?;
    let mut tx = state.db.begin().await?;
    let settings = environment_settings::get(&mut tx, &ctx.environment_id, &state.settings).await?;
    validate(uri, settings.allow_http_redirect_uris)?;
    let created = redirect_uris::insert(
        &mut tx,
        &ctx.environment_id,
        uri,
        body.default.unwrap_or(false),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /user_management/redirect_uris` (extension).
async fn list_redirect_uris(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
) -> ApiResult<Json<List<RedirectUri>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let mut conn = state.db.acquire().await?;
    let rows = redirect_uris::list(&mut conn, &ctx.environment_id, &params).await?;
    Ok(Json(params.page(rows, |r| &r.id)))
}

/// `DELETE /user_management/redirect_uris/{id}` (extension) → 204. Errors: 404.
async fn delete_redirect_uri(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<RedirectUriId>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    redirect_uris::delete(&mut tx, &ctx.environment_id, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
