//! Radar allow and block lists: `POST /radar/lists/{type}/{action}` `{entry}` → 201 added (with
//! `{message}`, as the SDKs parse a body), 200 `RadarListEntryAlreadyPresentResponse` when the
//! entry was there; `DELETE` with the same body → 204, 404 when it was not there. `type` is one
//! of `ip_address`, `domain`, `email`, `device`, `user_agent`, `device_fingerprint`,
//! `country`; `action` is `block` or `allow`.
//!
//! Entries are normalised before they are stored and matched: an IP address or CIDR network
//! (host bits cleared; a /32 or /128 is the bare address), a lowercase domain or email, an
//! uppercase ISO 3166-1 alpha-2 country, any other value trimmed. Errors: 400 for an unknown
//! list type or action, and for a missing or malformed entry.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ipnet::IpNet;
use serde_json::{Value, json};

use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env};
use crate::state::AppState;
use crate::state::radar::controls::LIST_TYPES;
use crate::store::radar_lists;

/// Longest accepted user agent, device id or list entry, in bytes.
pub const VALUE_MAX: usize = 1024;

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, message)
}

/// The list type and action of the path, checked.
fn list(list_type: &str, action: &str) -> ApiResult<(&'static str, &'static str)> {
    let t = LIST_TYPES
        .into_iter()
        .find(|t| *t == list_type)
        .ok_or_else(|| {
            bad(
                "invalid_list_type",
                format!(
                    "Unknown Radar list type '{list_type}'; expected one of {}.",
                    LIST_TYPES.join(", ")
                ),
            )
        })?;
    let a = ["block", "allow"]
        .into_iter()
        .find(|a| *a == action)
        .ok_or_else(|| {
            bad(
                "invalid_list_action",
                format!("Unknown Radar list action '{action}'; expected block or allow."),
            )
        })?;
    Ok((t, a))
}

/// A normalised IP entry and its network: `Err` for anything but an address or a CIDR.
pub fn ip_entry(raw: &str) -> Result<(String, String), String> {
    let net = match raw.parse::<IpAddr>() {
        Ok(ip) => IpNet::from(ip),
        Err(_) => raw
            .parse::<IpNet>()
            .map_err(|_| format!("'{raw}' is not an IP address or CIDR network."))?
            .trunc(),
    };
    let entry = if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    };
    Ok((entry, net.to_string()))
}

fn domain_entry(raw: &str) -> Option<String> {
    let d = raw.trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    (d.len() <= crate::limits::DOMAIN_MAX && d.contains('.') && d.split('.').all(label_ok))
        .then_some(d)
}

/// The normalised entry (and network) for a list type. Errors: 400 `invalid_entry`.
fn entry(list_type: &str, body: &Value) -> ApiResult<(String, Option<String>)> {
    let raw = match body.get("entry") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= VALUE_MAX => s.trim(),
        _ => {
            return Err(bad(
                "invalid_entry",
                format!("entry must be a non-empty string of at most {VALUE_MAX} bytes."),
            ));
        }
    };
    let invalid = |what: &str| bad("invalid_entry", format!("'{raw}' is not {what}."));
    Ok(match list_type {
        "ip_address" => {
            let (entry, net) = ip_entry(raw).map_err(|m| bad("invalid_entry", m))?;
            (entry, Some(net))
        }
        "domain" => (domain_entry(raw).ok_or_else(|| invalid("a domain"))?, None),
        "email" => (
            EmailAddress::parse(raw)
                .map_err(|_| invalid("an email address"))?
                .as_str()
                .to_lowercase(),
            None,
        ),
        "country" => {
            let ok = raw.len() == 2 && raw.chars().all(|c| c.is_ascii_alphabetic());
            if !ok {
                return Err(invalid("an ISO 3166-1 alpha-2 country code"));
            }
            (raw.to_ascii_uppercase(), None)
        }
        _ => (raw.to_string(), None),
    })
}

/// `POST /radar/lists/{type}/{action}` `{entry}` → 201 `{message}` when added, 200
/// `{message}` when it was already present. Errors: 400 (see the module documentation).
pub async fn add_entry(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path((list_type, action)): Path<(String, String)>,
    AppJson(body): AppJson<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (t, a) = list(&list_type, &action)?;
    let (entry, network) = entry(t, &body)?;
    let mut conn = state.db.acquire().await?;
    let env = &ctx.environment_id;
    let added = radar_lists::add(&mut conn, env, t, a, &entry, network.as_deref()).await?;
    Ok(if added {
        (
            StatusCode::CREATED,
            Json(json!({ "message": "Entry added to list" })),
        )
    } else {
        (
            StatusCode::OK,
            Json(json!({ "message": "Entry already present in list" })),
        )
    })
}

/// `DELETE /radar/lists/{type}/{action}` `{entry}` → 204. Errors: 400 (see the module
/// documentation), 404 when the list has no such entry.
pub async fn remove_entry(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path((list_type, action)): Path<(String, String)>,
    AppJson(body): AppJson<Value>,
) -> ApiResult<StatusCode> {
    let (t, a) = list(&list_type, &action)?;
    let (entry, _) = entry(t, &body)?;
    let mut conn = state.db.acquire().await?;
    if radar_lists::remove(&mut conn, &ctx.environment_id, t, a, &entry).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("Radar list entry", entry))
    }
}
