//! The environment of the API key and its settings (Keystead extension,
//! `docs/openapi-environment.yaml`): `GET /environment` → `{object: "environment", id, name,
//! type, client_id, settings}`, `PATCH /environment` with `{settings: {…}}` (partial; a `null`
//! value returns a setting to its default), and `PUT /user_management/app_homepage_url` with
//! `{url}` as the `workos` CLI sends it (not in the WorkOS spec).
//!
//! The settings are stored by [`crate::store::environment_settings`]; every sign-in, token and
//! URL check reads them per request, so a change applies to the next request on every replica.
//! [`parse_patch`] is shared with `keystead environments update`.

use axum::extract::State;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env};
use crate::ids::EnvironmentId;
use crate::state::AppState;
use crate::store::environment_settings::{
    self, ACCESS_TOKEN_TTL_RANGE, EnvironmentSettings, MAX_SESSION_TTL, MfaEnrollment,
    OAUTH_PROVIDERS, SettingsPatch,
};
use crate::store::environments;

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/environment",
            get(get_environment).patch(patch_environment),
        )
        .route(
            "/user_management/app_homepage_url",
            put(put_app_homepage_url),
        )
}

/// `GET /environment`'s body.
#[derive(Debug, Serialize)]
pub struct EnvironmentView {
    /// Always `environment`.
    pub object: &'static str,
    /// `environment_…`
    pub id: EnvironmentId,
    /// Display name.
    pub name: String,
    /// `staging` or `production`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `client_…`
    pub client_id: String,
    /// The effective settings.
    pub settings: EnvironmentSettings,
}

/// The longest accepted URL, in bytes.
const MAX_URL_BYTES: usize = 2048;

async fn view(state: &AppState, env: &EnvironmentId) -> ApiResult<EnvironmentView> {
    let mut conn = state.db.acquire().await?;
    let e = environments::find(&mut conn, env)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("Unauthorized".into()))?;
    let settings = environment_settings::get(&mut conn, env, &state.settings).await?;
    Ok(EnvironmentView {
        object: "environment",
        id: e.id,
        name: e.name,
        kind: if e.production {
            "production"
        } else {
            "staging"
        },
        client_id: e.client_id,
        settings,
    })
}

/// `GET /environment` → 200 the API key's environment with its effective settings.
async fn get_environment(
    State(state): State<AppState>,
    Env(ctx): Env,
) -> ApiResult<Json<EnvironmentView>> {
    Ok(Json(view(&state, &ctx.environment_id).await?))
}

/// `PATCH /environment` with `{settings: {…}}` → 200 the environment. Errors: 422
/// `invalid_request_parameters` naming the field (unknown key, wrong type, out of range).
async fn patch_environment(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<Value>,
) -> ApiResult<Json<EnvironmentView>> {
    let Value::Object(mut body) = body else {
        return Err(ApiError::invalid_field(
            "settings",
            "invalid",
            "The body must be an object with a settings object.",
        ));
    };
    if let Some(key) = body.keys().find(|k| *k != "settings") {
        return Err(unknown(key));
    }
    let settings = body.remove("settings").unwrap_or_else(|| json!({}));
    let patch = parse_patch(&settings)?;
    apply(&state, &ctx.environment_id, patch).await?;
    Ok(Json(view(&state, &ctx.environment_id).await?))
}

/// Applies a validated patch in one transaction; the new lifetimes must keep the session at
/// least as long as the access token (422 on `settings.session_ttl_seconds` otherwise).
pub async fn apply(
    state: &AppState,
    env: &EnvironmentId,
    patch: SettingsPatch,
) -> ApiResult<EnvironmentSettings> {
    let ttl_changed =
        patch.access_token_ttl_seconds.is_some() || patch.session_ttl_seconds.is_some();
    let mut tx = state.db.begin().await?;
    let updated = environment_settings::update(&mut tx, env, patch)
        .await?
        .resolve(&state.settings);
    if ttl_changed && updated.session_ttl_seconds < updated.access_token_ttl_seconds {
        return Err(ApiError::invalid_field(
            "settings.session_ttl_seconds",
            "invalid",
            format!(
                "session_ttl_seconds ({}) must be at least access_token_ttl_seconds ({}).",
                updated.session_ttl_seconds, updated.access_token_ttl_seconds
            ),
        ));
    }
    tx.commit().await?;
    Ok(updated)
}

/// `PUT /user_management/app_homepage_url` with `{url}` → 200 `{url}`: sets the environment's
/// `app_homepage_url`. Errors: 422 for a missing or malformed URL.
async fn put_app_homepage_url(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<Value>,
) -> ApiResult<Json<Value>> {
    let url = match body.get("url") {
        Some(Value::String(u)) => homepage_url("url", u)?,
        _ => {
            return Err(ApiError::invalid_field(
                "url",
                "required",
                "url must be an absolute http(s) URL.",
            ));
        }
    };
    let patch = SettingsPatch {
        app_homepage_url: Some(Some(url.clone())),
        ..Default::default()
    };
    apply(&state, &ctx.environment_id, patch).await?;
    Ok(Json(json!({ "url": url })))
}

fn unknown(field: &str) -> ApiError {
    ApiError::invalid_field(field, "unknown_field", format!("Unknown field '{field}'."))
}

fn invalid(field: &str, what: &str) -> ApiError {
    ApiError::invalid_field(field, "invalid", format!("{field} must be {what}."))
}

/// An absolute `http`/`https` URL with a host, at most 2048 bytes.
fn homepage_url(field: &str, raw: &str) -> ApiResult<String> {
    let raw = raw.trim();
    let ok = raw.len() <= MAX_URL_BYTES
        && url::Url::parse(raw).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        });
    if ok {
        Ok(raw.to_string())
    } else {
        Err(invalid(field, "an absolute http(s) URL"))
    }
}

fn boolean(field: &str, v: &Value) -> ApiResult<Option<bool>> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        _ => Err(invalid(field, "a boolean or null")),
    }
}

fn seconds(field: &str, v: &Value, range: std::ops::RangeInclusive<u32>) -> ApiResult<Option<u32>> {
    if v.is_null() {
        return Ok(None);
    }
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| range.contains(n))
        .map(Some)
        .ok_or_else(|| {
            invalid(
                field,
                &format!(
                    "an integer from {} to {}, or null",
                    range.start(),
                    range.end()
                ),
            )
        })
}

/// Parses the `settings` object of `PATCH /environment` (also what `keystead environments
/// update` builds). Errors: 422 `invalid_request_parameters` naming the field
/// (`settings.<key>`) for an unknown key, a wrong type or a value out of range.
pub fn parse_patch(settings: &Value) -> ApiResult<SettingsPatch> {
    let Value::Object(map) = settings else {
        return Err(invalid("settings", "an object"));
    };
    let mut p = SettingsPatch::default();
    for (key, v) in map {
        let field = format!("settings.{key}");
        let f = field.as_str();
        match key.as_str() {
            "email_verification_required" => p.email_verification_required = Some(boolean(f, v)?),
            "allow_http_webhook_endpoints" => p.allow_http_webhook_endpoints = Some(boolean(f, v)?),
            "allow_http_redirect_uris" => p.allow_http_redirect_uris = Some(boolean(f, v)?),
            "mfa_enrollment" => {
                p.mfa_enrollment = Some(match v {
                    Value::Null => None,
                    Value::String(s) => Some(
                        MfaEnrollment::parse(s)
                            .ok_or_else(|| invalid(f, "'optional' or 'required'"))?,
                    ),
                    _ => return Err(invalid(f, "'optional' or 'required'")),
                });
            }
            "access_token_ttl_seconds" => {
                p.access_token_ttl_seconds = Some(seconds(f, v, ACCESS_TOKEN_TTL_RANGE)?);
            }
            "session_ttl_seconds" => {
                p.session_ttl_seconds = Some(seconds(f, v, 60..=MAX_SESSION_TTL)?);
            }
            "app_homepage_url" => {
                p.app_homepage_url = Some(match v {
                    Value::Null => None,
                    Value::String(s) => Some(homepage_url(f, s)?),
                    _ => return Err(invalid(f, "an absolute http(s) URL or null")),
                });
            }
            "sign_in_methods" => sign_in_methods(&mut p, v)?,
            "radar" => p.radar = super::radar::settings::parse(v)?,
            _ => return Err(unknown(f)),
        }
    }
    Ok(p)
}

/// `sign_in_methods`: `null` resets all of them; an object sets the keys it has.
fn sign_in_methods(p: &mut SettingsPatch, v: &Value) -> ApiResult<()> {
    let empty = Map::new();
    let map = match v {
        Value::Null => {
            p.sign_in_password = Some(None);
            p.sign_in_magic_auth = Some(None);
            p.sign_in_sso = Some(None);
            p.sign_in_oauth_providers = Some(None);
            &empty
        }
        Value::Object(m) => m,
        _ => return Err(invalid("settings.sign_in_methods", "an object or null")),
    };
    for (key, v) in map {
        let field = format!("settings.sign_in_methods.{key}");
        let f = field.as_str();
        match key.as_str() {
            "password" => p.sign_in_password = Some(boolean(f, v)?),
            "magic_auth" => p.sign_in_magic_auth = Some(boolean(f, v)?),
            "sso" => p.sign_in_sso = Some(boolean(f, v)?),
            "oauth_providers" => {
                let what = format!("a list of {} or null", OAUTH_PROVIDERS.join(", "));
                p.sign_in_oauth_providers = Some(match v {
                    Value::Null => None,
                    Value::Array(items) => {
                        let mut list: Vec<String> = Vec::new();
                        for item in items {
                            let name = item
                                .as_str()
                                .filter(|s| OAUTH_PROVIDERS.contains(s))
                                .ok_or_else(|| invalid(f, &what))?;
                            if !list.iter().any(|l| l == name) {
                                list.push(name.to_string());
                            }
                        }
                        Some(list)
                    }
                    _ => return Err(invalid(f, &what)),
                });
            }
            _ => return Err(unknown(f)),
        }
    }
    Ok(())
}
