//! The server's settings, built once from the `serve` options ([`crate::config::ServeArgs`]).
//!
//! [`Settings`] holds the general settings and one field per area; each area's settings live in
//! their own file here ([`webhooks`], [`email`], [`sso`], [`rate_limits`],
//! [`audit_log_exports`], [`audit_log_streams`]) with a `from_args`,
//! so an area adds its settings by adding a file and one field.

pub mod audit_log_exports;
pub mod audit_log_streams;
pub mod email;
pub mod radar;
pub mod rate_limits;
pub mod sso;
pub mod webhooks;

use std::time::Duration;

use ipnet::IpNet;

use crate::config::ServeArgs;

pub use audit_log_exports::AuditLogExportSettings;
pub use audit_log_streams::AuditLogStreamSettings;
pub use email::EmailSettings;
pub use rate_limits::RateLimits;
pub use sso::SsoSettings;
pub use webhooks::WebhookSettings;

/// Settings the handlers and middleware read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Externally visible base URL, no trailing slash.
    pub public_url: String,
    /// Domain attribute of the `workos-has-session` cookie (AuthKit production mode), if any.
    pub cookie_domain: Option<String>,
    /// Access-token lifetime: the default of environments' `access_token_ttl_seconds`.
    pub access_token_ttl: Duration,
    /// Session and refresh-token lifetime: the default of environments' `session_ttl_seconds`.
    pub session_ttl: Duration,
    /// How long a rotated refresh token may still be used.
    pub refresh_reuse_grace: Duration,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Requests taking longer are answered 408.
    pub request_timeout: Duration,
    /// Rate limits per route class.
    pub rate_limits: RateLimits,
    /// Redis URL for shared rate limits.
    pub redis_url: Option<String>,
    /// Proxies allowed to set `X-Forwarded-For`.
    pub trusted_proxies: Vec<IpNet>,
    /// Bearer token protecting `/metrics`.
    pub metrics_token: Option<String>,
    /// Webhook delivery settings.
    pub webhooks: WebhookSettings,
    /// Enterprise SSO settings.
    pub sso: SsoSettings,
    /// Sign-ins of users with an unverified email stop at `email_verification_required`: the
    /// default of environments' `email_verification_required` setting.
    pub require_email_verification: bool,
    /// Email delivery settings.
    pub email: EmailSettings,
    /// Radar's server-wide settings (the GeoIP database).
    pub radar: radar::RadarConfig,
    /// Audit-log export settings.
    pub audit_log_exports: AuditLogExportSettings,
    /// Audit-log stream delivery and retention purge settings.
    pub audit_log_streams: AuditLogStreamSettings,
}

impl Settings {
    /// Settings from the `serve` options. Errors on malformed rate limits or proxy lists.
    pub fn from_args(args: &ServeArgs) -> anyhow::Result<Self> {
        Ok(Self {
            public_url: args.public_url(),
            cookie_domain: cookie_domain(&args.public_url(), args.cookie_domain.as_deref())
                .map_err(|e| anyhow::anyhow!("KEYSTEAD_COOKIE_DOMAIN: {e}"))?,
            access_token_ttl: Duration::from_secs(args.access_token_ttl),
            session_ttl: Duration::from_secs(args.session_ttl),
            refresh_reuse_grace: Duration::from_secs(args.refresh_reuse_grace),
            max_body_bytes: args.max_body_bytes,
            request_timeout: Duration::from_secs(args.request_timeout.max(1)),
            rate_limits: args
                .rate_limits
                .parse()
                .map_err(|e: String| anyhow::anyhow!("KEYSTEAD_RATE_LIMITS: {e}"))?,
            redis_url: args.redis_url.clone(),
            trusted_proxies: rate_limits::parse_trusted_proxies(&args.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("KEYSTEAD_TRUSTED_PROXIES: {e}"))?,
            metrics_token: args.metrics_token.clone(),
            webhooks: WebhookSettings::from_args(&args.webhooks),
            sso: SsoSettings::from_args(&args.sso),
            require_email_verification: args.require_email_verification,
            email: EmailSettings::from_args(&args.email)?,
            radar: radar::RadarConfig::from_args(args.geoip_database.as_deref()),
            audit_log_exports: AuditLogExportSettings::from_args(&args.audit_log_exports)?,
            audit_log_streams: AuditLogStreamSettings::from_args(&args.audit_log_streams),
        })
    }

    /// Defaults for tests and embedding: public URL `http://localhost`, default limits.
    pub fn for_tests(public_url: &str) -> Self {
        Self {
            public_url: public_url.to_string(),
            cookie_domain: None,
            access_token_ttl: Duration::from_secs(300),
            session_ttl: Duration::from_secs(3600),
            refresh_reuse_grace: Duration::from_secs(2),
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            rate_limits: RateLimits::default(),
            redis_url: None,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            webhooks: WebhookSettings::default(),
            sso: SsoSettings::default(),
            require_email_verification: false,
            email: EmailSettings::default(),
            radar: radar::RadarConfig::default(),
            // Tests that need the export worker enable it (or drive `run_once`).
            audit_log_exports: AuditLogExportSettings {
                worker_enabled: false,
                ..AuditLogExportSettings::default()
            },
            // Tests that need the stream worker or the purge enable them (or drive `run_once`
            // and `purge_once`).
            audit_log_streams: AuditLogStreamSettings {
                worker_enabled: false,
                purge_enabled: false,
                ..AuditLogStreamSettings::default()
            },
        }
    }
}

/// The cookie domain, lowercase without a leading dot; it must be the host of `public_url` or a
/// parent domain of it (browsers drop a cookie whose `Domain` does not cover the setting host).
pub fn cookie_domain(public_url: &str, domain: Option<&str>) -> Result<Option<String>, String> {
    let Some(domain) = domain.map(|d| d.trim().trim_start_matches('.').to_ascii_lowercase()) else {
        return Ok(None);
    };
    if domain.is_empty() {
        return Ok(None);
    }
    let host = url::Url::parse(public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .ok_or_else(|| format!("the public URL '{public_url}' has no host"))?;
    let valid = domain
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if valid && (host == domain || host.ends_with(&format!(".{domain}"))) {
        Ok(Some(domain))
    } else {
        Err(format!(
            "'{domain}' is neither the public URL's host '{host}' nor a parent domain of it"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::cookie_domain;

    #[test]
    fn the_cookie_domain_covers_the_public_host() {
        let url = "https://auth.example.com";
        assert_eq!(cookie_domain(url, None), Ok(None));
        assert_eq!(
            cookie_domain(url, Some(".Example.com")),
            Ok(Some("example.com".into()))
        );
        assert_eq!(
            cookie_domain(url, Some("auth.example.com")),
            Ok(Some("auth.example.com".into()))
        );
        for bad in ["other.com", "ample.com", "app.example.com", "exa mple.com"] {
            assert!(cookie_domain(url, Some(bad)).is_err(), "{bad}");
        }
    }
}
