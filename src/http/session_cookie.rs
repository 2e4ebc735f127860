//! The browser cookies of AuthKit's production mode, for `POST /user_management/authenticate`
//! and `GET /user_management/sessions/logout`.
//!
//! `@workos-inc/authkit-js` runs in dev mode when its page's host is `localhost` or
//! `127.0.0.1`: it keeps the refresh token itself and sends it in the body. Elsewhere it calls
//! with `credentials: "include"`, sends no refresh token, and expects the token in an HttpOnly
//! cookie plus a readable `workos-has-session` cookie (`1`, or a `.`-separated list holding its
//! client id) telling it a session may be restored on page load. Keystead applies the same rule
//! to the request's `Origin`: a public client (no secret) calling from an origin registered for
//! its environment whose host is neither `localhost` nor `127.0.0.1` is in *cookie mode* — the
//! refresh token leaves the JSON body and goes into the cookie `keystead-refresh-<client id>`
//! (HttpOnly, `Path=/user_management`, host-only), read back and rotated on refresh, cleared on
//! logout. `workos-has-session` carries the `KEYSTEAD_COOKIE_DOMAIN` domain so that an app on a
//! sibling subdomain can read it. Both are `SameSite=Lax` (the app and Keystead share a site),
//! `Secure` when `KEYSTEAD_PUBLIC_URL` is https, and last as long as the environment's sessions.

use axum::http::header::{COOKIE, ORIGIN, SET_COOKIE};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

use super::cors::normalize_origin;
use crate::error::ApiResult;
use crate::ids::EnvironmentId;
use crate::settings::Settings;
use crate::state::AppState;
use crate::store::{cors_origins, environment_settings};

/// The readable cookie authkit-js looks for before restoring a session.
pub const HAS_SESSION: &str = "workos-has-session";

/// Where the refresh cookie is sent: the authenticate and logout endpoints.
const REFRESH_PATH: &str = "/user_management";

/// Whether `s` is safe as a cookie name and inside the `.`-separated session list.
fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The refresh cookie's name for `client_id` (one per client, so environments sharing a
/// Keystead host do not overwrite each other's).
pub fn refresh_cookie_name(client_id: &str) -> String {
    if plain(client_id) {
        format!("keystead-refresh-{client_id}")
    } else {
        let digest = Sha256::digest(client_id.as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("keystead-refresh-{hex}")
    }
}

/// Whether a public client's request runs in cookie mode: its `Origin` is an http(s) origin
/// whose host is not `localhost`/`127.0.0.1` (authkit-js's dev-mode rule) and is registered for
/// the environment. No `Origin` (a server, a native app): body mode.
pub async fn cookie_mode(
    state: &AppState,
    headers: &HeaderMap,
    env: &EnvironmentId,
) -> ApiResult<bool> {
    let Some(origin) = headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(normalize_origin)
    else {
        return Ok(false);
    };
    let dev = url::Url::parse(&origin)
        .ok()
        .and_then(|u| u.host_str().map(|h| matches!(h, "localhost" | "127.0.0.1")))
        .unwrap_or(true);
    if dev {
        return Ok(false);
    }
    let mut conn = state.db.acquire().await?;
    cors_origins::is_allowed(&mut conn, env, &origin).await
}

/// The environment's session lifetime: the cookies' `Max-Age`.
pub async fn lifetime(state: &AppState, env: &EnvironmentId) -> ApiResult<Duration> {
    let mut conn = state.db.acquire().await?;
    Ok(environment_settings::get(&mut conn, env, &state.settings)
        .await?
        .session_ttl())
}

/// The value of the request's cookie `name` (the first one, if several).
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
}

fn attributes(settings: &Settings, path: &str, max_age: u64, domain: bool) -> String {
    let mut attrs = format!("Path={path}; Max-Age={max_age}; SameSite=Lax");
    if domain && let Some(d) = &settings.cookie_domain {
        attrs.push_str(&format!("; Domain={d}"));
    }
    if settings.public_url.starts_with("https://") {
        attrs.push_str("; Secure");
    }
    attrs
}

fn push(out: &mut HeaderMap, cookie: String) {
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        out.append(SET_COOKIE, value);
    }
}

/// The client ids listed in the request's `workos-has-session` (the legacy `1` dropped).
fn listed(request: &HeaderMap) -> Vec<String> {
    read(request, HAS_SESSION)
        .unwrap_or_default()
        .split('.')
        .filter(|c| plain(c) && *c != "1")
        .map(String::from)
        .collect()
}

/// Sets the refresh cookie of `client_id` and adds the client to `workos-has-session`, both
/// for `lifetime`.
pub fn set(
    settings: &Settings,
    request: &HeaderMap,
    out: &mut HeaderMap,
    (client_id, lifetime): (&str, Duration),
    refresh_token: &str,
) {
    let ttl = lifetime.as_secs();
    push(
        out,
        format!(
            "{}={refresh_token}; {}; HttpOnly",
            refresh_cookie_name(client_id),
            attributes(settings, REFRESH_PATH, ttl, false)
        ),
    );
    let mut clients = listed(request);
    let value = if plain(client_id) {
        if !clients.iter().any(|c| c == client_id) {
            clients.push(client_id.to_string());
        }
        clients.join(".")
    } else {
        "1".to_string()
    };
    push(
        out,
        format!(
            "{HAS_SESSION}={value}; {}",
            attributes(settings, "/", ttl, true)
        ),
    );
}

/// Clears the refresh cookie of `client_id` and removes the client from `workos-has-session`
/// (the cookie expires when no client is left; else it is set again for `lifetime`), for the
/// cookies the request carries.
pub fn clear(
    settings: &Settings,
    request: &HeaderMap,
    out: &mut HeaderMap,
    (client_id, lifetime): (&str, Duration),
) {
    let name = refresh_cookie_name(client_id);
    if read(request, &name).is_some() {
        push(
            out,
            format!(
                "{name}=; {}; HttpOnly",
                attributes(settings, REFRESH_PATH, 0, false)
            ),
        );
    }
    if read(request, HAS_SESSION).is_some() {
        let rest: Vec<String> = listed(request)
            .into_iter()
            .filter(|c| c != client_id)
            .collect();
        let cookie = if rest.is_empty() {
            format!("{HAS_SESSION}=; {}", attributes(settings, "/", 0, true))
        } else {
            let ttl = lifetime.as_secs();
            format!(
                "{HAS_SESSION}={}; {}",
                rest.join("."),
                attributes(settings, "/", ttl, true)
            )
        };
        push(out, cookie);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; workos-has-session=client_a.client_b; b=2"),
        );
        assert_eq!(read(&h, "b").as_deref(), Some("2"));
        assert_eq!(listed(&h), ["client_a", "client_b"]);
        assert_eq!(read(&h, "c"), None);
    }

    #[test]
    fn refresh_cookie_names_are_cookie_tokens() {
        assert_eq!(
            refresh_cookie_name("client_01"),
            "keystead-refresh-client_01"
        );
        let odd = refresh_cookie_name("client id;");
        assert!(plain(odd.trim_start_matches("keystead-refresh-")), "{odd}");
    }

    #[test]
    fn set_and_clear_keep_other_clients() {
        let mut settings = Settings::for_tests("https://auth.example.com");
        settings.cookie_domain = Some("example.com".into());
        let mut req = HeaderMap::new();
        req.insert(
            COOKIE,
            HeaderValue::from_static("workos-has-session=client_a; keystead-refresh-client_b=x"),
        );
        let mut out = HeaderMap::new();
        let client = ("client_b", Duration::from_secs(3600));
        set(&settings, &req, &mut out, client, "tok");
        let cookies: Vec<_> = out.get_all(SET_COOKIE).iter().collect();
        assert_eq!(
            cookies[0],
            "keystead-refresh-client_b=tok; Path=/user_management; Max-Age=3600; SameSite=Lax; \
             Secure; HttpOnly"
        );
        assert_eq!(
            cookies[1],
            "workos-has-session=client_a.client_b; Path=/; Max-Age=3600; SameSite=Lax; \
             Domain=example.com; Secure"
        );
        let mut out = HeaderMap::new();
        clear(&settings, &req, &mut out, client);
        let cookies: Vec<_> = out.get_all(SET_COOKIE).iter().collect();
        assert!(cookies[0].to_str().unwrap().contains("Max-Age=0"));
        assert!(
            cookies[1]
                .to_str()
                .unwrap()
                .starts_with("workos-has-session=client_a;")
        );
    }
}
