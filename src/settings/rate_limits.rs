//! Rate-limit settings (`KEYSTEAD_RATE_LIMITS`, `KEYSTEAD_TRUSTED_PROXIES`): the route classes,
//! their limits, and the proxies whose `X-Forwarded-For` is believed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;

/// A route class with its own limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Every API-key route, per API key (WorkOS: 6,000 / 60 s).
    General,
    /// `GET /user_management/*`, per API key (1,000 / 10 s).
    UserManagementRead,
    /// Other `/user_management/*` methods, per API key (500 / 10 s).
    UserManagementWrite,
    /// `POST /user_management/authenticate`, per email, failures included (10 / 60 s).
    AuthenticateEmail,
    /// `POST /user_management/authenticate`, per end-user IP (10 / 60 s).
    AuthenticateIp,
    /// Magic-auth, verification and password-reset sends, per email (3 / 60 s).
    Sends,
    /// `GET /sso/authorize`, per connection (1,000 / 60 s).
    SsoAuthorize,
    /// `DELETE /organizations/{id}`, per API key (50 / 60 s).
    OrganizationDelete,
    /// Public routes, per client IP (6,000 / 60 s).
    Public,
}

impl Class {
    /// Every class.
    pub const ALL: [Class; 9] = [
        Class::General,
        Class::UserManagementRead,
        Class::UserManagementWrite,
        Class::AuthenticateEmail,
        Class::AuthenticateIp,
        Class::Sends,
        Class::SsoAuthorize,
        Class::OrganizationDelete,
        Class::Public,
    ];

    /// The name used in `KEYSTEAD_RATE_LIMITS`, metrics and Redis keys.
    pub fn name(self) -> &'static str {
        match self {
            Class::General => "general",
            Class::UserManagementRead => "user_management_read",
            Class::UserManagementWrite => "user_management_write",
            Class::AuthenticateEmail => "authenticate_email",
            Class::AuthenticateIp => "authenticate_ip",
            Class::Sends => "sends",
            Class::SsoAuthorize => "sso_authorize",
            Class::OrganizationDelete => "organization_delete",
            Class::Public => "public",
        }
    }

    fn default_limit(self) -> Limit {
        let (burst, secs) = match self {
            Class::General | Class::Public => (6000, 60),
            Class::UserManagementRead => (1000, 10),
            Class::UserManagementWrite => (500, 10),
            Class::AuthenticateEmail | Class::AuthenticateIp => (10, 60),
            Class::Sends => (3, 60),
            Class::SsoAuthorize => (1000, 60),
            Class::OrganizationDelete => (50, 60),
        };
        Limit {
            burst,
            period: Duration::from_secs(secs),
        }
    }
}

/// `burst` requests per `period`, replenished evenly (GCRA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests allowed at once (and per period).
    pub burst: u32,
    /// Time to replenish the whole burst.
    pub period: Duration,
}

/// The configured limit of every class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    limits: HashMap<Class, Limit>,
    /// When false, nothing is limited (and no headers are sent).
    pub enabled: bool,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            limits: Class::ALL.iter().map(|c| (*c, c.default_limit())).collect(),
            enabled: true,
        }
    }
}

impl RateLimits {
    /// The limit of `class`.
    pub fn get(&self, class: Class) -> Limit {
        self.limits
            .get(&class)
            .copied()
            .unwrap_or_else(|| class.default_limit())
    }
}

impl FromStr for RateLimits {
    type Err = String;

    /// Parses `off`, or overrides such as `general=6000/60,authenticate_email=10/60`
    /// (`<class>=<requests>/<seconds>`); unnamed classes keep their defaults.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut limits = Self::default();
        if s.trim().eq_ignore_ascii_case("off") {
            limits.enabled = false;
            return Ok(limits);
        }
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, spec) = part
                .split_once('=')
                .ok_or(format!("'{part}' is not <class>=<requests>/<seconds>"))?;
            let class = Class::ALL
                .into_iter()
                .find(|c| c.name() == name.trim())
                .ok_or(format!("unknown rate-limit class '{name}'"))?;
            let (n, secs) = spec
                .split_once('/')
                .ok_or(format!("'{spec}' is not <requests>/<seconds>"))?;
            let burst: u32 = n
                .trim()
                .parse()
                .map_err(|_| format!("bad request count in '{part}'"))?;
            let secs: f64 = secs
                .trim()
                .parse()
                .map_err(|_| format!("bad seconds in '{part}'"))?;
            if burst == 0 || secs <= 0.0 {
                return Err(format!(
                    "'{part}' must allow at least one request per positive period"
                ));
            }
            limits.limits.insert(
                class,
                Limit {
                    burst,
                    period: Duration::from_secs_f64(secs),
                },
            );
        }
        Ok(limits)
    }
}

/// Networks whose `X-Forwarded-For` is believed (`KEYSTEAD_TRUSTED_PROXIES`).
pub fn parse_trusted_proxies(s: &str) -> Result<Vec<IpNet>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("'{p}' is not an IP address or network"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_with_defaults_and_overrides() {
        let l: RateLimits = "general=10/1, authenticate_email=2/60".parse().unwrap();
        assert_eq!(
            l.get(Class::General),
            Limit {
                burst: 10,
                period: Duration::from_secs(1)
            }
        );
        assert_eq!(
            l.get(Class::Sends),
            Limit {
                burst: 3,
                period: Duration::from_secs(60)
            }
        );
        assert!(!"off".parse::<RateLimits>().unwrap().enabled);
        assert!("nope=1/1".parse::<RateLimits>().is_err());
        assert!("general=0/1".parse::<RateLimits>().is_err());
    }
}
