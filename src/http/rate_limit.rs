//! Rate-limit middleware: applies the engine ([`crate::state::rate_limit::RateLimiter`], held by
//! the app state) per request — per API key and route class on API routes ([`limit_api`]), per
//! client IP on public routes ([`limit_public`]) — and finds the client IP behind trusted proxies
//! ([`client_ip`]).
//!
//! Limited responses carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (seconds until the bucket is full again); a rejection is 429 with
//! `Retry-After` (seconds) and `{"code": "rate_limit_exceeded", "message": …}`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

pub use crate::settings::rate_limits::{Class, Limit, RateLimits, parse_trusted_proxies};
use crate::state::AppState;
use crate::state::environment_keys::AuthContext;
use crate::state::rate_limit::Decision;

/// The client's IP: the socket peer, or — when the peer is a trusted proxy — the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(req: &Request, trusted: &[IpNet]) -> Option<IpAddr> {
    client_ip_of(req.extensions(), req.headers(), trusted)
}

/// [`client_ip`] from a request's parts (for extractors).
pub fn client_ip_of(
    extensions: &axum::http::Extensions,
    headers: &HeaderMap,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    if !trusted.iter().any(|n| n.contains(&peer)) {
        return Some(peer);
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    let hops: Vec<IpAddr> = forwarded
        .flat_map(|v| v.split(','))
        .filter_map(|h| h.trim().parse().ok())
        .collect();
    hops.into_iter()
        .rev()
        .find(|ip| !trusted.iter().any(|n| n.contains(ip)))
        .or(Some(peer))
}

/// The classes a request falls into besides [`Class::General`].
fn extra_classes(method: &Method, route: &str) -> Vec<Class> {
    let mut classes = Vec::new();
    if route.starts_with("/user_management/") {
        classes.push(if method == Method::GET {
            Class::UserManagementRead
        } else {
            Class::UserManagementWrite
        });
    }
    if method == Method::DELETE && route == "/organizations/{id}" {
        classes.push(Class::OrganizationDelete);
    }
    classes
}

/// Middleware for API-key routes (runs after authentication): per-key limits by route class.
pub async fn limit_api(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.limiter.enabled() {
        return next.run(req).await;
    }
    let key = req
        .extensions()
        .get::<AuthContext>()
        .map(|c| c.environment_key_id.to_string())
        .unwrap_or_default();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let mut classes = vec![Class::General];
    classes.extend(extra_classes(req.method(), &route));
    let mut tightest: Option<Decision> = None;
    for class in classes {
        let d = state.limiter.check(class, &key).await;
        if !d.allowed {
            return d.reject();
        }
        if tightest.is_none_or(|t| d.remaining < t.remaining) {
            tightest = Some(d);
        }
    }
    let mut res = next.run(req).await;
    if let Some(d) = tightest {
        d.write_headers(res.headers_mut());
    }
    res
}

/// Middleware for public routes: per client IP.
pub async fn limit_public(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.limiter.enabled() {
        return next.run(req).await;
    }
    let Some(ip) = client_ip(&req, &state.settings.trusted_proxies) else {
        return next.run(req).await;
    };
    let d = state.limiter.check(Class::Public, &ip.to_string()).await;
    if !d.allowed {
        return d.reject();
    }
    let mut res = next.run(req).await;
    d.write_headers(res.headers_mut());
    res
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = parse_trusted_proxies("10.0.0.0/8, 127.0.0.1").unwrap();
        let mut req = Request::new(axum::body::Body::empty());
        req.headers_mut().insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9, 10.1.2.3"),
        );
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 1))));
        assert_eq!(
            client_ip(&req, &trusted),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(client_ip(&req, &[]), Some("127.0.0.1".parse().unwrap()));
    }
}
