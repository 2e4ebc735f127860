//! Access tokens: short-lived RS256 JWTs signed with the environment's key, verifiable with the
//! JWKS at `GET /sso/jwks/{client_id}`. Claims as WorkOS issues them: `iss`, `sub` (user id),
//! `sid` (session id), `org_id` (when scoped), `role`/`permissions` (when scoped and known),
//! `exp`, `iat`, `jti`.

use serde::{Deserialize, Serialize};

use super::signing::SigningKey;
use crate::ids::new_id;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer: `<public url>/user_management/<client id>`.
    pub iss: String,
    /// The user id.
    pub sub: String,
    /// The session id (what logout and revoke act on).
    pub sid: String,
    /// The organization the session is scoped to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// The user's role slug in `org_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issue time, seconds since the epoch.
    pub iat: i64,
    /// Unique token id.
    pub jti: String,
}

impl AccessClaims {
    /// Claims for a session, valid for `ttl` from now.
    pub fn new(
        issuer: String,
        user_id: &str,
        session_id: &str,
        org_id: Option<String>,
        role: Option<String>,
        ttl: std::time::Duration,
    ) -> Self {
        let now = chrono::Utc::now().timestamp();
        Self {
            iss: issuer,
            sub: user_id.to_string(),
            sid: session_id.to_string(),
            org_id,
            role,
            exp: now + i64::try_from(ttl.as_secs()).unwrap_or(300),
            iat: now,
            jti: new_id("jti").trim_start_matches("jti_").to_string(),
        }
    }

    /// Signs the claims with `key`.
    pub fn sign(&self, key: &SigningKey) -> anyhow::Result<String> {
        key.sign(self)
    }
}
