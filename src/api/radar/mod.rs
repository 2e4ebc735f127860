//! Radar (spec tag `radar`, `docs/openapi-radar.yaml`):
//!
//! - `POST /radar/attempts` (`RadarStandaloneController_assess`) → 200
//!   `RadarStandaloneResponse` `{verdict, reason, attempt_id, control?, blocklist_type?}`;
//! - `PUT /radar/attempts/{id}` (`RadarStandaloneController_updateRadarAttempt`) with
//!   `{attempt_status?: "success", challenge_status?: "success"}` → 204;
//! - `POST`/`DELETE /radar/lists/{type}/{action}`
//!   (`RadarStandaloneController_updateRadarList`, `…_deleteRadarListEntry`): [`lists`].
//!
//! The engine is `crate::state::radar`; the environment's thresholds are `settings.radar` of
//! `GET`/`PATCH /environment` ([`settings`]). Bad input is a 422 `invalid_request_parameters`
//! naming the field (the project's validation dialect; the spec only documents a 400).

pub mod lists;
pub mod settings;

use std::net::IpAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{post, put};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;

use self::lists::VALUE_MAX;
use super::validate;
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath};
use crate::ids::RadarAttemptId;
use crate::state::AppState;
use crate::state::radar::Request;
use crate::state::radar::controls::Action;

/// The spec's `auth_method` values.
pub const AUTH_METHODS: [&str; 8] = [
    "Password",
    "Passkey",
    "Authenticator",
    "SMS_OTP",
    "Email_OTP",
    "Social",
    "SSO",
    "Other",
];

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/radar/attempts", post(create_attempt))
        .route("/radar/attempts/{id}", put(update_attempt))
        .route(
            "/radar/lists/{type}/{action}",
            post(lists::add_entry).delete(lists::remove_entry),
        )
}

/// `RadarStandaloneResponse`.
#[derive(Debug, Serialize)]
pub struct AttemptView {
    /// `allow`, `block` or `challenge`.
    pub verdict: &'static str,
    /// Human-readable reason.
    pub reason: String,
    /// `radar_att_…`
    pub attempt_id: RadarAttemptId,
    /// The control behind a `block` or `challenge`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control: Option<&'static str>,
    /// The list type behind a `restriction`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocklist_type: Option<&'static str>,
}

fn invalid(field: &str, code: &str, what: &str) -> ApiError {
    ApiError::invalid_field(field, code, format!("{field} must be {what}."))
}

/// A required string field.
fn required<'a>(body: &'a Value, field: &str) -> ApiResult<&'a str> {
    match body.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        None | Some(Value::Null) => Err(invalid(field, "required", "a non-empty string")),
        Some(_) => Err(invalid(field, "invalid", "a non-empty string")),
    }
}

/// An optional string field of at most [`VALUE_MAX`] bytes (empty counts as absent).
fn optional<'a>(body: &'a Value, field: &str) -> ApiResult<Option<&'a str>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= VALUE_MAX => {
            Ok(Some(s.trim()).filter(|s| !s.is_empty()))
        }
        Some(_) => Err(invalid(
            field,
            "invalid",
            &format!("a string of at most {VALUE_MAX} bytes"),
        )),
    }
}

/// Parses an IP address field. Errors: 422 naming `field`.
pub fn ip_address(field: &str, raw: &str) -> ApiResult<IpAddr> {
    raw.trim()
        .parse()
        .map_err(|_| invalid(field, "invalid", "an IPv4 or IPv6 address"))
}

/// `POST /radar/attempts` → 200 `RadarStandaloneResponse`. Errors: 422 naming the field for
/// a missing or malformed `ip_address`, `user_agent`, `email`, `auth_method` or `action`.
async fn create_attempt(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<Value>,
) -> ApiResult<Json<AttemptView>> {
    if !body.is_object() {
        return Err(invalid("body", "invalid", "a JSON object"));
    }
    let ip = ip_address("ip_address", required(&body, "ip_address")?)?;
    let user_agent = required(&body, "user_agent")?;
    if user_agent.len() > VALUE_MAX {
        return Err(invalid(
            "user_agent",
            "invalid",
            &format!("at most {VALUE_MAX} bytes"),
        ));
    }
    let email = validate::email(required(&body, "email")?)?;
    let auth_method = required(&body, "auth_method")?;
    let auth_method = AUTH_METHODS
        .into_iter()
        .find(|m| m.eq_ignore_ascii_case(auth_method))
        .ok_or_else(|| invalid("auth_method", "invalid", &AUTH_METHODS.join(", ")))?;
    let action = Action::parse(required(&body, "action")?)
        .ok_or_else(|| invalid("action", "invalid", "sign-in or sign-up"))?;
    let device = optional(&body, "signals_id")?;
    let device_fingerprint = optional(&body, "device_fingerprint")?;
    optional(&body, "bot_score")?;
    let env = &ctx.environment_id;
    let request = Request {
        email: email.as_str(),
        ip_address: Some(ip),
        user_agent: Some(user_agent.trim()),
        device,
        device_fingerprint,
        action,
        auth_method,
    };
    let assessed = state
        .radar
        .assess(&state.db, env, &request, false)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("Radar recorded no attempt")))?;
    let d = assessed.decision;
    Ok(Json(AttemptView {
        verdict: d.verdict,
        reason: d.reason,
        attempt_id: assessed.id,
        control: d.control,
        blocklist_type: d.blocklist_type,
    }))
}

/// `attempt_status` / `challenge_status`: absent, or `"success"`.
fn success(body: &Value, field: &str) -> ApiResult<bool> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::String(s)) if s == "success" => Ok(true),
        Some(_) => Err(invalid(field, "invalid", "\"success\"")),
    }
}

/// `PUT /radar/attempts/{id}` → 204. Errors: 404 for an attempt of no environment of this key
/// (or a malformed id), 422 for a status other than `"success"` or a body with neither.
async fn update_attempt(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<RadarAttemptId>,
    AppJson(body): AppJson<Value>,
) -> ApiResult<StatusCode> {
    if !body.is_object() {
        return Err(invalid("body", "invalid", "a JSON object"));
    }
    let attempt = success(&body, "attempt_status")?;
    let challenge = success(&body, "challenge_status")?;
    if !attempt && !challenge {
        return Err(invalid(
            "attempt_status",
            "required",
            "\"success\" (or challenge_status \"success\")",
        ));
    }
    let env = &ctx.environment_id;
    if state
        .radar
        .mark(&state.db, env, &id, attempt, challenge)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found_id::<RadarAttemptId>(id.as_str()))
    }
}
