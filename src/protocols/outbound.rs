//! Outbound HTTP to identity providers (SAML metadata URLs, OIDC discovery, JWKS, token and
//! user-info endpoints), with an SSRF guard.
//!
//! Every request has a timeout, follows no redirects and reads at most 1 MiB. Destinations are
//! checked after DNS resolution (the resolver below is the only one the client uses, so a name
//! cannot re-resolve elsewhere later): loopback, private, link-local, CGNAT, multicast and other
//! special-purpose addresses are refused unless they fall in the configured allow-list
//! (`KEYSTEAD_SSO_OUTBOUND_ALLOW`, e.g. `127.0.0.1/32` for tests). Plain `http://` is only
//! allowed to allow-listed addresses.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Largest response body read from an IdP.
const MAX_BODY: usize = 1024 * 1024;

/// Which destinations outbound requests may reach.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Special-purpose networks that are allowed anyway (tests, on-premises IdPs).
    pub allow: Vec<ipnet::IpNet>,
}

impl Policy {
    /// True when `ip` may be contacted.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.allow.iter().any(|n| n.contains(&ip)) || is_public(ip)
    }

    /// True when `ip` is explicitly allow-listed (plain HTTP is accepted for those).
    pub fn allow_listed(&self, ip: IpAddr) -> bool {
        self.allow.iter().any(|n| n.contains(&ip))
    }
}

/// True for globally routable unicast addresses.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x64 && s[1] == 0xff9b))
        }
    }
}

/// Why an outbound request failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The URL is malformed or uses another scheme.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The destination is not allowed (SSRF guard).
    #[error("destination not allowed: {0}")]
    Forbidden(String),
    /// Transport failure or timeout.
    #[error("request failed: {0}")]
    Transport(String),
    /// The body exceeded the size limit.
    #[error("response too large")]
    TooLarge,
}

struct GuardedResolver {
    policy: Arc<Policy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(
                    format!("{host} resolves only to addresses that are not allowed").into(),
                );
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The guarded client; cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    policy: Arc<Policy>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("policy", &self.policy)
            .finish()
    }
}

/// A response: status, headers and the (bounded) body.
#[derive(Debug)]
pub struct Fetched {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body bytes (≤ 1 MiB).
    pub body: Vec<u8>,
}

impl Outbound {
    /// A client with the given policy and per-request timeout.
    pub fn new(policy: Policy, timeout: Duration) -> anyhow::Result<Self> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .user_agent(concat!("keystead/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, policy })
    }

    /// Checks a URL before connecting: http(s) only, IP literals against the policy, plain
    /// `http` only to allow-listed literal addresses or names resolving to them.
    pub async fn check_url(&self, raw: &str) -> Result<url::Url, OutboundError> {
        let url = url::Url::parse(raw).map_err(|e| OutboundError::InvalidUrl(e.to_string()))?;
        let host = url
            .host()
            .ok_or_else(|| OutboundError::InvalidUrl("no host".into()))?;
        let ips: Vec<IpAddr> = match host {
            url::Host::Ipv4(ip) => vec![IpAddr::V4(ip)],
            url::Host::Ipv6(ip) => vec![IpAddr::V6(ip)],
            url::Host::Domain(d) => tokio::net::lookup_host((d, 0))
                .await
                .map_err(|e| OutboundError::Transport(e.to_string()))?
                .map(|a| a.ip())
                .collect(),
        };
        if ips.is_empty() || !ips.iter().all(|ip| self.policy.permits(*ip)) {
            return Err(OutboundError::Forbidden(format!(
                "{} is a private or reserved address",
                url.host_str().unwrap_or_default()
            )));
        }
        match url.scheme() {
            "https" => {}
            "http" if ips.iter().all(|ip| self.policy.allow_listed(*ip)) => {}
            "http" => {
                return Err(OutboundError::Forbidden(
                    "plain http is only allowed to allow-listed addresses".into(),
                ));
            }
            other => return Err(OutboundError::InvalidUrl(format!("scheme {other}"))),
        }
        Ok(url)
    }

    /// `GET url`, body bounded.
    pub async fn get(&self, raw: &str) -> Result<Fetched, OutboundError> {
        let req = axum::http::Request::get(raw)
            .body(Vec::new())
            .map_err(|e| OutboundError::InvalidUrl(e.to_string()))?;
        self.execute(req).await
    }

    /// Sends an `http::Request` (the shape the OIDC client library uses).
    pub async fn execute(
        &self,
        req: axum::http::Request<Vec<u8>>,
    ) -> Result<Fetched, OutboundError> {
        let url = self.check_url(&req.uri().to_string()).await?;
        let (parts, body) = req.into_parts();
        let mut resp = self
            .client
            .request(parts.method, url)
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| OutboundError::Transport(e.to_string()))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| OutboundError::Transport(e.to_string()))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(OutboundError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_purpose_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_public("93.184.216.34".parse().unwrap()));
        assert!(is_public("2606:4700::1111".parse().unwrap()));
    }

    #[test]
    fn the_allow_list_opens_exactly_its_networks() {
        let policy = Policy {
            allow: vec!["127.0.0.0/8".parse().unwrap()],
        };
        assert!(policy.permits("127.0.0.1".parse().unwrap()));
        assert!(!policy.permits("10.0.0.1".parse().unwrap()));
    }

    #[tokio::test]
    async fn private_destinations_are_refused_before_connecting() {
        let out = Outbound::new(Policy::default(), Duration::from_secs(2)).unwrap();
        for url in [
            "http://127.0.0.1:1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "http://localhost/",
            "file:///etc/passwd",
        ] {
            assert!(out.get(url).await.is_err(), "{url}");
        }
    }
}
