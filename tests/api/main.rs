//! The integration test binary: every test drives the real router over real PostgreSQL.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test loudly; clippy's allow-*-in-tests covers #[test] fns only"
)]

mod support;

mod api_keys;
mod audit_log_exports;
mod audit_log_streams;
mod audit_logs;
mod auth_seams;
mod authenticate;
mod authkit_settings;
mod authorization;
mod bad_input;
mod binary;
mod cli;
mod connect;
mod connections;
mod device;
mod directories;
mod dns;
mod email;
mod email_flows;
mod environment_settings;
mod events;
mod feature_flags;
mod hosted_login;
mod idempotency;
mod idp;
mod input_limits;
mod input_limits_more;
mod invitations;
mod layers;
mod magic_auth;
mod mfa;
mod object_storage;
mod openapi;
mod operations;
mod organization_domains;
mod organization_memberships;
mod organizations;
mod platform;
mod postman;
mod queue_check;
mod radar;
mod rate_limits;
mod schemathesis;
mod scim_bad_input;
mod scim_compliance;
mod scim_dialects;
mod scim_filters;
mod sdk;
mod sdk_python;
mod sign_in_steps;
mod smtp_sink;
mod sso_api;
mod sso_oidc;
mod sso_org_policy;
mod sso_saml;
mod sso_user_management;
mod um;
mod um_schemas;
mod users;
mod vault;
mod webhooks;
mod workos_cli;
