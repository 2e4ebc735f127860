//! Prefixed-ULID identifiers, as WorkOS renders them (`org_01EHWNCE74X7JSDV0X3SZ3KJNY`).
//!
//! Every resource id is a type prefix plus a 26-character Crockford-base32 ULID. ULIDs sort by
//! creation time, so the `text collate "C"` primary keys double as keyset-pagination cursors
//! (WORKOS-API-NOTES §2.3, §2.5). Ids from other systems are accepted as opaque strings: WorkOS
//! examples are not always 26 characters, so only the prefix is ever checked.

use std::sync::Mutex;

use ulid::Generator;

/// Monotonic within the process: ids made in the same millisecond still sort in creation order,
/// so events recorded in one transaction list in the order they were written.
static GENERATOR: Mutex<Generator> = Mutex::new(Generator::new());

/// Generates a fresh id with the given prefix, e.g. `new_id("org")` → `org_01H…`.
pub fn new_id(prefix: &str) -> String {
    let ulid = GENERATOR
        .lock()
        .ok()
        .and_then(|mut g| g.generate().ok())
        .unwrap_or_default();
    format!("{prefix}_{ulid}")
}

/// Prefixes of the resource ids Keystead issues. One constant per WorkOS `object` type.
pub mod prefix {
    /// Environments (our tenant), `environment_…`.
    pub const ENVIRONMENT: &str = "environment";
    /// API keys of an environment, `key_…` (never shown to SDKs).
    pub const API_KEY: &str = "key";
    /// Client ids of an environment, `client_…`.
    pub const CLIENT: &str = "client";
    /// JWT signing keys, `key_…` in the JWKS `kid`.
    pub const SIGNING_KEY: &str = "key";
    /// Organizations, `org_…`.
    pub const ORGANIZATION: &str = "org";
    /// Organization domains, `org_domain_…`.
    pub const ORGANIZATION_DOMAIN: &str = "org_domain";
    /// Users, `user_…`.
    pub const USER: &str = "user";
    /// Sessions, `session_…`.
    pub const SESSION: &str = "session";
    /// Events, `event_…`.
    pub const EVENT: &str = "event";
    /// Directories, `directory_…`.
    pub const DIRECTORY: &str = "directory";
    /// Directory users, `directory_user_…`.
    pub const DIRECTORY_USER: &str = "directory_user";
    /// Directory groups, `directory_group_…`.
    pub const DIRECTORY_GROUP: &str = "directory_group";
    /// Webhook endpoints, `we_…`.
    pub const WEBHOOK_ENDPOINT: &str = "we";
    /// SSO connections, `conn_…`.
    pub const CONNECTION: &str = "conn";
    /// Connection domains, `conn_domain_…`.
    pub const CONNECTION_DOMAIN: &str = "conn_domain";
    /// SSO profiles, `prof_…`.
    pub const PROFILE: &str = "prof";
    /// In-flight SSO logins (SAML AuthnRequest ID, OIDC `state`), `sso_req_…`.
    pub const SSO_REQUEST: &str = "sso_req";
    /// Redirect URIs, `ruri_…`.
    pub const REDIRECT_URI: &str = "ruri";
    /// Environment roles, `role_…`.
    pub const ROLE: &str = "role";
    /// Organization memberships, `om_…`.
    pub const ORGANIZATION_MEMBERSHIP: &str = "om";
    /// Invitations, `invitation_…`.
    pub const INVITATION: &str = "invitation";
    /// Magic Auth codes, `magic_auth_…`.
    pub const MAGIC_AUTH: &str = "magic_auth";
    /// Email verifications, `email_verification_…`.
    pub const EMAIL_VERIFICATION: &str = "email_verification";
    /// Password resets, `password_reset_…`.
    pub const PASSWORD_RESET: &str = "password_reset";
    /// Email changes (never shown; the API object has no id), `email_change_…`.
    pub const EMAIL_CHANGE: &str = "email_change";
    /// Authentication factors, `auth_factor_…`.
    pub const AUTHENTICATION_FACTOR: &str = "auth_factor";
    /// Authentication challenges, `auth_challenge_…`.
    pub const AUTHENTICATION_CHALLENGE: &str = "auth_challenge";
    /// Pending authentications (never shown; their token is), `pending_auth_…`.
    pub const PENDING_AUTHENTICATION: &str = "pending_auth";
    /// CORS origins, `cors_origin_…`.
    pub const CORS_ORIGIN: &str = "cors_origin";
    /// Device authorizations (never shown; their codes are), `device_auth_…`.
    pub const DEVICE_AUTHORIZATION: &str = "device_auth";
    /// User identities at OAuth providers (never shown), `identity_…`.
    pub const IDENTITY: &str = "identity";
}

/// True when `id` starts with `prefix_`. Used to 404 early on obviously foreign ids.
pub fn has_prefix(id: &str, prefix: &str) -> bool {
    id.len() > prefix.len() + 1 && id.starts_with(prefix) && id.as_bytes()[prefix.len()] == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_sort_by_time() {
        let a = new_id(prefix::ORGANIZATION);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id(prefix::ORGANIZATION);
        assert!(has_prefix(&a, "org"));
        assert!(!has_prefix(&a, "org_domain"));
        assert_eq!(a.len(), 4 + 26);
        assert!(a < b);
    }
}
