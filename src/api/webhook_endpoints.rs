//! `/webhook_endpoints` (spec tag `webhooks`): list, create (201, `secret` included), `PATCH`
//! (`endpoint_url`, `status`, `events`) and `DELETE` (204); errors `duplicate_endpoint` (409),
//! `invalid_url` / `unknown_event_type` (422) and `entity_not_found` (404).
//!
//! Extension (`x-keystead-extension`): `GET /webhook_endpoints/{id}/deliveries` lists the
//! endpoint's deliveries with every attempt (status code, error, duration), newest first.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::http::{AppJson, Env, IdPath, List, ListParams, Order, QueryMap};
use crate::ids::WebhookEndpointId;
use crate::state::AppState;
use crate::store::events::EventName;
use crate::store::webhook_deliveries::{self as deliveries, Delivery};
use crate::store::webhook_endpoints::{self as endpoints, EndpointUpdate, WebhookEndpoint};

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/webhook_endpoints",
            get(list_webhook_endpoints).post(create_webhook_endpoint),
        )
        .route(
            "/webhook_endpoints/{id}",
            axum::routing::patch(update_webhook_endpoint).delete(delete_webhook_endpoint),
        )
        .route(
            "/webhook_endpoints/{id}/deliveries",
            get(list_webhook_deliveries),
        )
}

/// 404 `{"code": "entity_not_found", "message": …}`: the coded 404 the spec gives webhooks
/// ([`WebhookEndpointId`]'s `NOT_FOUND_CODE`, which [`IdPath`] answers for a malformed id).
fn endpoint_not_found(id: &WebhookEndpointId) -> ApiError {
    ApiError::not_found_id::<WebhookEndpointId>(id.as_str())
}

type Result<T> = crate::error::ApiResult<T>;

/// The environment's `allow_http_webhook_endpoints` setting (default: `KEYSTEAD_WEBHOOK_ALLOW_HTTP`
/// when given, else on in staging and off in production).
async fn allow_http(state: &AppState, env: &crate::ids::EnvironmentId) -> Result<bool> {
    let mut conn = state.db.acquire().await?;
    Ok(
        crate::store::environment_settings::get(&mut conn, env, &state.settings)
            .await?
            .allow_http_webhook_endpoints,
    )
}

/// `endpoint_url` must be an absolute HTTPS URL (plain HTTP only when the environment's
/// `allow_http_webhook_endpoints` setting is on). Errors: 422 `invalid_url`; 422
/// `invalid_request_parameters` past [`crate::limits::URL_MAX`] characters.
fn validate_url(url: &str, allow_http: bool) -> std::result::Result<String, ApiError> {
    crate::limits::max_chars("endpoint_url", Some(url), crate::limits::URL_MAX)?;
    let invalid = || ApiError::Unprocessable {
        code: "invalid_url",
        message: format!("'{url}' is not a valid HTTPS URL."),
        errors: Vec::new(),
    };
    let parsed = url::Url::parse(url.trim()).map_err(|_| invalid())?;
    let scheme_ok = parsed.scheme() == "https" || (allow_http && parsed.scheme() == "http");
    if !scheme_ok || parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid());
    }
    Ok(parsed.to_string())
}

/// Every name must be a subscribable event of the registry ([`EventName::is_subscribable`]). Errors: 422 `invalid_request_parameters` with
/// `errors[{code: "unknown_event_type", message}]`.
fn validate_events(events: &[String]) -> std::result::Result<Vec<String>, ApiError> {
    if events.is_empty() {
        return Err(ApiError::invalid_field(
            "events",
            "required",
            "events must name at least one event.",
        ));
    }
    let unknown: Vec<_> = events
        .iter()
        .filter(|e| {
            !e.parse::<EventName>()
                .is_ok_and(EventName::is_subscribable)
        })
        .map(|e| json!({"code": "unknown_event_type", "message": format!("Invalid enum value: '{e}'.")}))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::Unprocessable {
            code: "invalid_request_parameters",
            message: "Validation failed: events contains unknown event types.".into(),
            errors: unknown,
        });
    }
    let mut out: Vec<String> = Vec::new();
    for e in events {
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

/// Body of `POST /webhook_endpoints`.
#[derive(Debug, Deserialize)]
pub struct CreateWebhookEndpoint {
    /// Where events are POSTed (HTTPS).
    pub endpoint_url: String,
    /// Event names to subscribe to.
    pub events: Vec<String>,
}

/// Body of `PATCH /webhook_endpoints/{id}`.
#[derive(Debug, Deserialize)]
pub struct UpdateWebhookEndpoint {
    /// New URL.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// `enabled` or `disabled`.
    #[serde(default)]
    pub status: Option<String>,
    /// New subscription.
    #[serde(default)]
    pub events: Option<Vec<String>>,
}

/// `GET /webhook_endpoints`.
async fn list_webhook_endpoints(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
) -> Result<Json<List<WebhookEndpoint>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let mut conn = state.db.acquire().await?;
    let rows = endpoints::list(&mut conn, &state.vault, &ctx.environment_id, &params).await?;
    Ok(Json(params.page(rows, |e| &e.id)))
}

/// `POST /webhook_endpoints` → 201.
async fn create_webhook_endpoint(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateWebhookEndpoint>,
) -> Result<(StatusCode, Json<WebhookEndpoint>)> {
    let allow_http = allow_http(&state, &ctx.environment_id).await?;
    let url = validate_url(&body.endpoint_url, allow_http)?;
    let events = validate_events(&body.events)?;
    let mut tx = state.db.begin().await?;
    let e = endpoints::insert(&mut tx, &state.vault, &ctx.environment_id, &url, &events).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(e)))
}

/// `PATCH /webhook_endpoints/{id}`.
async fn update_webhook_endpoint(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<WebhookEndpointId>,
    AppJson(body): AppJson<UpdateWebhookEndpoint>,
) -> Result<Json<WebhookEndpoint>> {
    let allow_http = match body.endpoint_url {
        Some(_) => allow_http(&state, &ctx.environment_id).await?,
        None => false,
    };
    let up = EndpointUpdate {
        endpoint_url: body
            .endpoint_url
            .as_deref()
            .map(|u| validate_url(u, allow_http))
            .transpose()?,
        status: match body.status.as_deref() {
            None => None,
            Some(s @ ("enabled" | "disabled")) => Some(s.to_string()),
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "status",
                    "invalid",
                    "status must be enabled or disabled.",
                ));
            }
        },
        events: body.events.as_deref().map(validate_events).transpose()?,
    };
    let mut tx = state.db.begin().await?;
    let e = endpoints::update(&mut tx, &state.vault, &ctx.environment_id, &id, &up)
        .await?
        .ok_or_else(|| endpoint_not_found(&id))?;
    tx.commit().await?;
    Ok(Json(e))
}

/// `DELETE /webhook_endpoints/{id}` → 204.
async fn delete_webhook_endpoint(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<WebhookEndpointId>,
) -> Result<StatusCode> {
    let mut tx = state.db.begin().await?;
    if !endpoints::delete(&mut tx, &ctx.environment_id, &id).await? {
        return Err(endpoint_not_found(&id));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /webhook_endpoints/{id}/deliveries` (extension): deliveries newest first, each with
/// its attempts; cursors are event ids.
async fn list_webhook_deliveries(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<WebhookEndpointId>,
    q: QueryMap,
) -> Result<Json<List<Delivery>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let env = &ctx.environment_id;
    let mut conn = state.db.acquire().await?;
    endpoints::find(&mut conn, &state.vault, env, &id)
        .await?
        .ok_or_else(|| endpoint_not_found(&id))?;
    let rows = deliveries::list(&mut conn, env, &id, &params).await?;
    Ok(Json(params.page(rows, |d| &d.event_id)))
}
