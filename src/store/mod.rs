//! All SQL lives here, one module per aggregate. Every function takes the environment id and
//! filters on it; mutating functions take `&mut Tx` and record their event in the same
//! transaction ([`events::record`]).

pub mod allowed_urls;
pub mod api_keys;
pub mod audit_log_exports;
pub mod audit_log_purge;
pub mod audit_log_streams;
pub mod audit_logs;
pub mod auth_factors;
pub mod authkit_flows;
pub mod authorization_checks;
pub mod authorization_codes;
pub mod authorization_resources;
pub mod connect_applications;
pub mod connect_client_secrets;
pub mod connections;
pub mod cors_origins;
pub mod device_authorizations;
pub mod directories;
pub mod directory_group_members;
pub mod directory_groups;
pub mod directory_users;
pub mod email_changes;
pub mod email_outbox;
pub mod email_verifications;
pub mod environment_keys;
pub mod environment_settings;
pub mod environments;
pub mod events;
pub mod feature_flag_targets;
pub mod feature_flags;
pub mod idempotency;
pub mod invitations;
pub mod jwt_templates;
pub mod magic_auths;
pub mod metadata;
pub mod one_time_codes;
pub mod organization_domains;
pub mod organization_memberships;
pub mod organizations;
pub mod page;
pub mod password_resets;
pub mod pending_authentications;
pub mod permissions;
pub mod radar_attempts;
pub mod radar_lists;
pub mod radar_settings;
pub mod redirect_uris;
pub mod resource_types;
pub mod role_assignments;
pub mod roles;
pub mod scim_filter;
pub mod scim_resources;
pub mod sessions;
pub mod sso;
pub mod user_identities;
pub mod users;
pub mod vault_keys;
pub mod vault_objects;
pub mod webhook_deliveries;
pub mod webhook_endpoints;

use serde_json::{Map, Value};

/// Decodes a `jsonb` object column into a string map (non-string values are dropped).
pub fn string_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m.into_iter().filter(|(_, v)| v.is_string()).collect(),
        _ => Map::new(),
    }
}
