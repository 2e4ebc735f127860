//! Prefixes of the resource ids Keystead issues: one constant per WorkOS `object` type
//! (WORKOS-API-NOTES §2.3), and [`ALL`], every prefix in use.

/// Environments (our tenant), `environment_…`.
pub const ENVIRONMENT: &str = "environment";
/// The server's own API keys of an environment (environment keys), `key_…` (never shown to
/// SDKs).
pub const ENVIRONMENT_KEY: &str = "key";
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
/// Authorization codes of the hosted pages and SSO (never shown; the code is),
/// `authorization_code_…`.
pub const AUTHORIZATION_CODE: &str = "authorization_code";
/// Hosted-login flows (never shown; their cookie is), `authkit_flow_…`.
pub const AUTHKIT_FLOW: &str = "authkit_flow";
/// Audit-log actions (list cursors only; an action is named by `name`), `ala_…`.
pub const AUDIT_LOG_ACTION: &str = "ala";
/// Audit-log schema versions (list cursors only; a schema is named by `version`), `alsv_…`
/// (`als_…` is the spec's audit-log stream prefix).
pub const AUDIT_LOG_SCHEMA: &str = "alsv";
/// Ingested audit-log events (never shown), `audit_log_event_…`.
pub const AUDIT_LOG_EVENT: &str = "audit_log_event";
/// Radar attempts, `radar_att_…`.
pub const RADAR_ATTEMPT: &str = "radar_att";
/// Audit-log exports, `audit_log_export_…` (the spec's prefix).
pub const AUDIT_LOG_EXPORT: &str = "audit_log_export";
/// Audit-log streams (spec `AuditLogConfiguration.log_stream.id`), `als_…`.
pub const AUDIT_LOG_STREAM: &str = "als";
/// Feature flags, `flag_…` (addressed by slug; the id is their list cursor).
pub const FEATURE_FLAG: &str = "flag";
/// Authorization permissions, `perm_…` (addressed by slug; the id is their list cursor).
pub const PERMISSION: &str = "perm";
/// Authorization resources, `authz_resource_…`.
pub const AUTHORIZATION_RESOURCE: &str = "authz_resource";
/// Role assignments of organization memberships, `role_assignment_…`.
pub const ROLE_ASSIGNMENT: &str = "role_assignment";
/// Vault objects (`/vault/v1/kv`), `secret_…` as in WorkOS's Vault reference.
pub const VAULT_OBJECT: &str = "secret";
/// Versions of a Vault object, `secret_version_…`.
pub const VAULT_OBJECT_VERSION: &str = "secret_version";
/// An environment's Vault root keys (never shown; named inside encrypted data keys),
/// `vault_root_key_…`.
pub const VAULT_ROOT_KEY: &str = "vault_root_key";
/// Organization and user API keys (the API Keys product), `api_key_…`.
pub const API_KEY: &str = "api_key";
/// Connect applications, `conn_app_…` (told from connections' `conn_…` by [`ALL`]).
pub const CONNECT_APPLICATION: &str = "conn_app";
/// Connect application client secrets, `secret_…`.
pub const CONNECT_CLIENT_SECRET: &str = "secret";

/// Every prefix above, so a short prefix can tell its ids from a longer one's (`org` vs
/// `org_domain`).
pub const ALL: &[&str] = &[
    ENVIRONMENT,
    ENVIRONMENT_KEY,
    CLIENT,
    ORGANIZATION,
    ORGANIZATION_DOMAIN,
    USER,
    SESSION,
    EVENT,
    DIRECTORY,
    DIRECTORY_USER,
    DIRECTORY_GROUP,
    WEBHOOK_ENDPOINT,
    CONNECTION,
    CONNECTION_DOMAIN,
    PROFILE,
    SSO_REQUEST,
    REDIRECT_URI,
    ROLE,
    ORGANIZATION_MEMBERSHIP,
    INVITATION,
    MAGIC_AUTH,
    EMAIL_VERIFICATION,
    PASSWORD_RESET,
    EMAIL_CHANGE,
    AUTHENTICATION_FACTOR,
    AUTHENTICATION_CHALLENGE,
    PENDING_AUTHENTICATION,
    CORS_ORIGIN,
    DEVICE_AUTHORIZATION,
    IDENTITY,
    AUTHORIZATION_CODE,
    AUTHKIT_FLOW,
    AUDIT_LOG_ACTION,
    AUDIT_LOG_SCHEMA,
    AUDIT_LOG_EVENT,
    RADAR_ATTEMPT,
    AUDIT_LOG_EXPORT,
    AUDIT_LOG_STREAM,
    FEATURE_FLAG,
    PERMISSION,
    AUTHORIZATION_RESOURCE,
    ROLE_ASSIGNMENT,
    VAULT_OBJECT,
    VAULT_OBJECT_VERSION,
    VAULT_ROOT_KEY,
    API_KEY,
    CONNECT_APPLICATION,
    CONNECT_CLIENT_SECRET,
];
