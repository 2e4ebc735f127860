//! Prefixed-ULID identifiers, as WorkOS renders them (`org_01EHWNCE74X7JSDV0X3SZ3KJNY`).
//!
//! Every resource id is a type prefix plus a 26-character Crockford-base32 ULID. ULIDs sort by
//! creation time, so the `text collate "C"` primary keys double as keyset-pagination cursors
//! (WORKOS-API-NOTES §2.3, §2.5). Ids from other systems are accepted as opaque strings: WorkOS
//! examples are not always 26 characters, so only the prefix is ever checked.
//!
//! Each kind of id is its own type ([`OrganizationId`], [`UserId`], …), made by [`id_type!`]
//! (svix's `create_id_type!` pattern): a store function that takes `(&EnvironmentId,
//! &OrganizationId)` cannot be called with the pair swapped. The types read from and bind to
//! Postgres `text` columns, serialize as plain strings and parse with [`FromStr`], which checks
//! only the prefix (and that `org_domain_…` is never an `org_…`).

use std::str::FromStr;
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
pub mod prefix;

/// True when `id` starts with `prefix_`. Used to 404 early on obviously foreign ids.
pub fn has_prefix(id: &str, prefix: &str) -> bool {
    id.len() > prefix.len() + 1 && id.starts_with(prefix) && id.as_bytes()[prefix.len()] == b'_'
}

/// True when `id` is a `prefix_…` id and not an id of a longer prefix that starts the same way
/// (`org_domain_…` is not an `org_…` id; `directory_user_…` is not a `directory_…` id).
fn is_of_kind(id: &str, prefix: &str) -> bool {
    // A NUL character can be in no stored id (PostgreSQL refuses it in text).
    !id.contains('\0')
        && has_prefix(id, prefix)
        && !prefix::ALL.iter().any(|longer| {
            longer.len() > prefix.len() && has_prefix(id, longer) && longer.starts_with(prefix)
        })
}

/// A string that is not an id of the expected kind (wrong or missing prefix).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{id}' is not a {entity} id")]
pub struct InvalidId {
    /// The entity the id should have named, e.g. `Organization`.
    pub entity: &'static str,
    /// The rejected input.
    pub id: String,
}

/// What every typed id has in common: its prefix and the entity name its 404 uses.
pub trait TypedId:
    FromStr<Err = InvalidId>
    + AsRef<str>
    + Clone
    + std::fmt::Debug
    + Send
    + Sync
    + Unpin
    + 'static
    + sqlx::Type<sqlx::Postgres>
    + for<'q> sqlx::Encode<'q, sqlx::Postgres>
    + for<'r> sqlx::Decode<'r, sqlx::Postgres>
{
    /// The prefix, without the `_` separator (`org`).
    const PREFIX: &'static str;
    /// The entity name of the WorkOS 404 body, `<ENTITY> not found: '<id>'.`
    const ENTITY: &'static str;
    /// The WorkOS `code` of that 404 where the spec gives one (webhook endpoints:
    /// `entity_not_found`); `None` for the plain `{message}` body.
    const NOT_FOUND_CODE: Option<&'static str> = None;

    /// The one rule for ids a client sends in a body or query string: `Some` when `raw` is an id
    /// of this kind, `None` when it is not. A malformed id names no row, so callers answer it
    /// exactly as an unknown id (the same 404, an empty list, …).
    fn parse_lenient(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }
}

/// An id a list is filtered by (`?organization_id=…`, `?directory=…`): a malformed one names no
/// row, so the filtered list is empty, exactly as for an unknown id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdFilter<T> {
    /// An id of the expected kind.
    Id(T),
    /// Not an id of the expected kind: matches nothing.
    Malformed,
}

impl<T: TypedId> IdFilter<T> {
    /// Parses a filter value with [`TypedId::parse_lenient`].
    pub fn parse(raw: &str) -> Self {
        T::parse_lenient(raw).map_or(Self::Malformed, Self::Id)
    }

    /// The id, `None` when malformed.
    pub fn id(&self) -> Option<&T> {
        match self {
            Self::Id(id) => Some(id),
            Self::Malformed => None,
        }
    }
}

/// Defines a prefixed-ULID id newtype: `id_type!(OrganizationId, prefix::ORGANIZATION,
/// "Organization")`, optionally followed by `not_found_code = Some("entity_not_found")` when the
/// entity's 404 carries a WorkOS `code` ([`TypedId::NOT_FOUND_CODE`]).
///
/// The type is a `String` inside. It offers `new()` (a fresh monotonic id), `as_str`,
/// `Display`, `AsRef<str>`, `Deref<Target = str>` (so `&id` still goes where a `&str` does),
/// comparisons with strings, serde as a plain string (deserializing checks the prefix), `FromStr`
/// checking the prefix, and sqlx `Type`/`Encode`/`Decode` as `text` (decoding trusts the
/// database and does not check).
#[macro_export]
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $prefix:expr, $entity:literal) => {
        $crate::id_type!($(#[$meta])* $name, $prefix, $entity, not_found_code = None);
    };
    ($(#[$meta:meta])* $name:ident, $prefix:expr, $entity:literal, not_found_code = $code:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix, without the `_` separator.
            pub const PREFIX: &'static str = $prefix;
            /// The entity name of the WorkOS 404 body.
            pub const ENTITY: &'static str = $entity;

            /// A fresh id; ids made later sort after it.
            #[expect(clippy::new_without_default, reason = "a fresh id is not a default value")]
            pub fn new() -> Self {
                Self($crate::ids::new_id(Self::PREFIX))
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }

            /// `Some` when `raw` (from a body or query string) is an id of this kind, `None`
            /// otherwise: [`TypedId::parse_lenient`], callable without importing the trait.
            pub fn parse_lenient(raw: &str) -> Option<Self> {
                <Self as $crate::ids::TypedId>::parse_lenient(raw)
            }
        }

        impl $crate::ids::TypedId for $name {
            const PREFIX: &'static str = $prefix;
            const ENTITY: &'static str = $entity;
            const NOT_FOUND_CODE: Option<&'static str> = $code;
        }

        impl std::str::FromStr for $name {
            type Err = $crate::ids::InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::ids::check(s, Self::PREFIX, Self::ENTITY).map(|()| Self(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::ids::InvalidId;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                $crate::ids::check(&s, Self::PREFIX, Self::ENTITY).map(|()| Self(s))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> String {
                id.0.clone()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::try_from(s).map_err(serde::de::Error::custom)
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }

        impl<'q> sqlx::Encode<'q, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, sqlx::Postgres>>::encode(self.0.as_str(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                <String as sqlx::Decode<'r, sqlx::Postgres>>::decode(value).map(Self)
            }
        }
    };
}

/// `Ok` when `id` is an id of the kind `prefix`; the check behind every typed id's `FromStr`.
#[doc(hidden)]
pub fn check(id: &str, prefix: &str, entity: &'static str) -> Result<(), InvalidId> {
    if is_of_kind(id, prefix) {
        Ok(())
    } else {
        Err(InvalidId {
            entity,
            id: id.to_owned(),
        })
    }
}

id_type!(
    /// An environment (the tenant), `environment_…`.
    EnvironmentId, prefix::ENVIRONMENT, "Environment"
);
id_type!(
    /// An organization, `org_…`.
    OrganizationId, prefix::ORGANIZATION, "Organization"
);
id_type!(
    /// An organization domain, `org_domain_…`.
    OrganizationDomainId, prefix::ORGANIZATION_DOMAIN, "Organization Domain"
);
id_type!(
    /// A user, `user_…`.
    UserId, prefix::USER, "User"
);
id_type!(
    /// An organization membership, `om_…`.
    OrganizationMembershipId, prefix::ORGANIZATION_MEMBERSHIP, "Organization membership"
);
id_type!(
    /// An SSO connection, `conn_…`.
    ConnectionId, prefix::CONNECTION, "Connection"
);
id_type!(
    /// A connection domain, `conn_domain_…`.
    ConnectionDomainId, prefix::CONNECTION_DOMAIN, "Connection Domain"
);
id_type!(
    /// A directory, `directory_…`.
    DirectoryId, prefix::DIRECTORY, "Directory"
);
id_type!(
    /// A directory user, `directory_user_…`.
    DirectoryUserId, prefix::DIRECTORY_USER, "Directory User"
);
id_type!(
    /// A directory group, `directory_group_…`.
    DirectoryGroupId, prefix::DIRECTORY_GROUP, "Directory Group"
);
id_type!(
    /// A session, `session_…`.
    SessionId, prefix::SESSION, "Session"
);
id_type!(
    /// An event, `event_…`.
    EventId, prefix::EVENT, "Event"
);
id_type!(
    /// A webhook endpoint, `we_…`; its 404 carries `code: entity_not_found`.
    WebhookEndpointId, prefix::WEBHOOK_ENDPOINT, "Webhook Endpoint",
    not_found_code = Some("entity_not_found")
);
id_type!(
    /// An invitation, `invitation_…`.
    InvitationId, prefix::INVITATION, "Invitation"
);
id_type!(
    /// An environment role, `role_…`.
    RoleId, prefix::ROLE, "Role"
);
id_type!(
    /// An authentication factor, `auth_factor_…`.
    AuthenticationFactorId, prefix::AUTHENTICATION_FACTOR, "Authentication Factor"
);
id_type!(
    /// An authentication challenge, `auth_challenge_…`.
    AuthenticationChallengeId, prefix::AUTHENTICATION_CHALLENGE, "Authentication Challenge"
);
id_type!(
    /// A Magic Auth code, `magic_auth_…`.
    MagicAuthId, prefix::MAGIC_AUTH, "Magic Auth"
);
id_type!(
    /// An email verification, `email_verification_…`.
    EmailVerificationId, prefix::EMAIL_VERIFICATION, "Email Verification"
);
id_type!(
    /// A password reset, `password_reset_…`.
    PasswordResetId, prefix::PASSWORD_RESET, "Password Reset"
);
id_type!(
    /// A redirect URI, `ruri_…`.
    RedirectUriId, prefix::REDIRECT_URI, "Redirect URI"
);
id_type!(
    /// A CORS origin, `cors_origin_…`.
    CorsOriginId, prefix::CORS_ORIGIN, "CORS origin"
);
id_type!(
    /// An SSO profile, `prof_…`.
    ProfileId, prefix::PROFILE, "Profile"
);
id_type!(
    /// An in-flight SSO login, `sso_req_…`.
    SsoRequestId, prefix::SSO_REQUEST, "SSO request"
);
id_type!(
    /// An email change (never shown), `email_change_…`.
    EmailChangeId, prefix::EMAIL_CHANGE, "Email change"
);
id_type!(
    /// A pending authentication (never shown), `pending_auth_…`.
    PendingAuthenticationId, prefix::PENDING_AUTHENTICATION, "Pending authentication"
);
id_type!(
    /// A device authorization (never shown), `device_auth_…`.
    DeviceAuthorizationId, prefix::DEVICE_AUTHORIZATION, "Device authorization"
);
id_type!(
    /// A user identity at an OAuth provider (never shown), `identity_…`.
    IdentityId, prefix::IDENTITY, "Identity"
);
id_type!(
    /// An API key of an environment (an environment key), `key_…`.
    EnvironmentKeyId, prefix::ENVIRONMENT_KEY, "API key"
);
id_type!(
    /// An authorization code's row (never shown; the code is), `authorization_code_…`.
    AuthorizationCodeId, prefix::AUTHORIZATION_CODE, "Authorization code"
);
id_type!(
    /// A hosted-login flow (never shown; its cookie is), `authkit_flow_…`.
    AuthKitFlowId, prefix::AUTHKIT_FLOW, "Flow"
);
id_type!(
    /// An audit-log action (its id is only a list cursor), `ala_…`.
    AuditLogActionId, prefix::AUDIT_LOG_ACTION, "Audit Log Action"
);
id_type!(
    /// One version of an audit-log action's schema (its id is only a list cursor), `alsv_…`.
    AuditLogSchemaId, prefix::AUDIT_LOG_SCHEMA, "Audit Log Schema"
);
id_type!(
    /// An ingested audit-log event (never shown), `audit_log_event_…`.
    AuditLogEventId, prefix::AUDIT_LOG_EVENT, "Audit Log Event"
);
id_type!(
    /// A Radar attempt, `radar_att_…`.
    RadarAttemptId, prefix::RADAR_ATTEMPT, "Radar attempt"
);
id_type!(
    /// An audit-log export, `audit_log_export_…`.
    AuditLogExportId, prefix::AUDIT_LOG_EXPORT, "Audit Log Export"
);
id_type!(
    /// An organization's audit-log stream, `als_…`.
    AuditLogStreamId, prefix::AUDIT_LOG_STREAM, "Audit Log Stream"
);
id_type!(
    /// A feature flag, `flag_…` (the API addresses flags by slug).
    FeatureFlagId, prefix::FEATURE_FLAG, "Feature flag"
);
id_type!(
    /// An authorization permission, `perm_…` (the API addresses permissions by slug).
    PermissionId, prefix::PERMISSION, "Permission"
);
id_type!(
    /// An authorization resource, `authz_resource_…`.
    AuthorizationResourceId, prefix::AUTHORIZATION_RESOURCE, "Authorization resource"
);
id_type!(
    /// A role assignment of an organization membership, `role_assignment_…`.
    RoleAssignmentId, prefix::ROLE_ASSIGNMENT, "Role assignment"
);
id_type!(
    /// A Vault object, `secret_…`.
    VaultObjectId, prefix::VAULT_OBJECT, "Object"
);
id_type!(
    /// A version of a Vault object, `secret_version_…`.
    VaultObjectVersionId, prefix::VAULT_OBJECT_VERSION, "Object version"
);
id_type!(
    /// A Vault root key of an environment (never shown), `vault_root_key_…`.
    VaultRootKeyId, prefix::VAULT_ROOT_KEY, "Root key"
);
id_type!(
    /// An organization or user API key (the API Keys product), `api_key_…`.
    ApiKeyId, prefix::API_KEY, "API key"
);
id_type!(
    /// A Connect application, `conn_app_…`.
    ConnectApplicationId, prefix::CONNECT_APPLICATION, "Connect Application"
);
id_type!(
    /// A Connect application's client secret, `secret_…`.
    ConnectClientSecretId, prefix::CONNECT_CLIENT_SECRET, "Client secret"
);

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

    #[test]
    fn typed_ids_round_trip_through_strings() {
        let id = OrganizationId::new();
        assert!(id.as_str().starts_with("org_"));
        assert_eq!(id.len(), 4 + 26);
        let parsed: OrganizationId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
        assert_eq!(OrganizationId::try_from(id.to_string()).unwrap(), id);
        assert_eq!(String::from(id.clone()), id.as_str());
        // Ids from other systems are opaque: only the prefix is checked.
        let foreign: UserId = "user_123".parse().unwrap();
        assert_eq!(foreign, "user_123");
        assert_eq!(format!("{foreign}"), "user_123");
        assert_eq!(format!("{foreign:?}"), "\"user_123\"");
    }

    #[test]
    fn parsing_checks_the_prefix() {
        for bad in ["", "org", "org_", "orgx_1", "user_01H", "ORG_1", "xorg_1"] {
            let e = bad.parse::<OrganizationId>().unwrap_err();
            assert_eq!(e.entity, "Organization");
            assert_eq!(e.id, bad);
        }
        // A longer prefix that starts like a shorter one is not the shorter one's id.
        assert!("org_domain_01H".parse::<OrganizationId>().is_err());
        assert!("org_domain_01H".parse::<OrganizationDomainId>().is_ok());
        assert!("org_01H".parse::<OrganizationDomainId>().is_err());
        assert!("directory_user_1".parse::<DirectoryId>().is_err());
        assert!("directory_group_1".parse::<DirectoryId>().is_err());
        assert!("directory_1".parse::<DirectoryId>().is_ok());
        assert!("conn_domain_1".parse::<ConnectionId>().is_err());
        assert!("conn_1".parse::<ConnectionId>().is_ok());
        assert_eq!(OrganizationId::ENTITY, "Organization");
        assert_eq!(<OrganizationDomainId as TypedId>::PREFIX, "org_domain");
    }

    #[test]
    fn serde_is_a_plain_string_and_checks_the_prefix() {
        let id = UserId::new();
        let json = serde_json::to_value(&id).unwrap();
        assert_eq!(json, serde_json::Value::String(id.to_string()));
        let back: UserId = serde_json::from_value(json).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<UserId>("\"org_1\"").is_err());
        assert!(serde_json::from_str::<UserId>("5").is_err());
    }

    #[test]
    fn typed_ids_sort_in_creation_order() {
        let ids: Vec<EventId> = (0..100).map(|_| EventId::new()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
