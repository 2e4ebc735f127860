//! The one list of event names (WORKOS-API-NOTES §3.1): each name as WorkOS spells it, the Rust
//! type of its `data` payload, and whether webhook endpoints may subscribe to it (the
//! `CreateWebhookEndpointDto.events` enum of the spec).
//!
//! An area adds its events by adding lines to the [`event_registry!`] invocation below; the
//! macro derives [`EventName`] (with `as_str`, `FromStr`, `ALL`, `is_subscribable`) and the
//! [`names`] constants that call sites pass to [`super::record`]. Names the spec defines but
//! Keystead does not emit yet carry [`serde_json::Value`] as their payload.

use std::fmt;
use std::str::FromStr;

// The payload types are named only where they are checked (test builds): the modules that
// define them record events through this registry, so a plain import would be a cycle.
#[cfg(test)]
use crate::store::{
    api_keys::{ApiKey, ApiKeyUpdated},
    connections::Connection,
    directories::Directory,
    directory_groups::DirectoryGroup,
    feature_flags::FlagEvent,
    invitations::Invitation,
    organization_domains::OrganizationDomain,
    organization_memberships::Membership,
    organizations::Organization,
    password_resets::PasswordReset,
    sessions::Session,
    users::User,
    vault_objects::VaultEvent,
};
#[cfg(test)]
use serde_json::Value;

/// Declares the registry: `Variant / CONSTANT => "spec.name", PayloadType, subscribable|internal;`.
macro_rules! event_registry {
    ($( $variant:ident / $konst:ident => $name:literal, $payload:ty, $kind:ident; )*) => {
        /// An event name Keystead knows, as a value.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventName {
            $(
                #[doc = concat!("`", $name, "`; payload `", stringify!($payload), "`.")]
                $variant,
            )*
        }

        impl EventName {
            /// Every registered name, in registry order.
            pub const ALL: &'static [EventName] = &[$(EventName::$variant),*];

            /// The name as WorkOS spells it, e.g. `organization.created`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// Whether a webhook endpoint may subscribe to this event.
            pub const fn is_subscribable(self) -> bool {
                match self {
                    $(Self::$variant => event_registry!(@kind $kind),)*
                }
            }

            /// The Rust type of the event's `data` payload, as written in the registry.
            pub const fn payload_type(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($payload),)*
                }
            }
        }

        /// Every payload type must serialize (checked when the tests compile).
        #[cfg(test)]
        const _: fn() = || {
            fn serializable<T: serde::Serialize>() {}
            $(serializable::<$payload>();)*
        };

        /// The registered names as constants (`names::ORGANIZATION_CREATED`, …).
        pub mod names {
            use crate::store::events::registry::EventName;
            $(
                #[doc = concat!("`", $name, "`")]
                pub const $konst: EventName = EventName::$variant;
            )*
        }
    };
    (@kind subscribable) => { true };
    (@kind internal) => { false };
}

event_registry! {
    AuthenticationEmailVerificationSucceeded / AUTHENTICATION_EMAIL_VERIFICATION_SUCCEEDED =>
        "authentication.email_verification_succeeded", Value, subscribable;
    AuthenticationEmailVerificationFailed / AUTHENTICATION_EMAIL_VERIFICATION_FAILED =>
        "authentication.email_verification_failed", Value, internal;
    AuthenticationMagicAuthFailed / AUTHENTICATION_MAGIC_AUTH_FAILED =>
        "authentication.magic_auth_failed", Value, subscribable;
    AuthenticationMagicAuthSucceeded / AUTHENTICATION_MAGIC_AUTH_SUCCEEDED =>
        "authentication.magic_auth_succeeded", Value, subscribable;
    AuthenticationMfaSucceeded / AUTHENTICATION_MFA_SUCCEEDED =>
        "authentication.mfa_succeeded", Value, subscribable;
    AuthenticationMfaFailed / AUTHENTICATION_MFA_FAILED =>
        "authentication.mfa_failed", Value, internal;
    AuthenticationOauthFailed / AUTHENTICATION_OAUTH_FAILED =>
        "authentication.oauth_failed", Value, subscribable;
    AuthenticationOauthSucceeded / AUTHENTICATION_OAUTH_SUCCEEDED =>
        "authentication.oauth_succeeded", Value, subscribable;
    AuthenticationPasswordFailed / AUTHENTICATION_PASSWORD_FAILED =>
        "authentication.password_failed", Value, subscribable;
    AuthenticationPasswordSucceeded / AUTHENTICATION_PASSWORD_SUCCEEDED =>
        "authentication.password_succeeded", Value, subscribable;
    AuthenticationPasskeyFailed / AUTHENTICATION_PASSKEY_FAILED =>
        "authentication.passkey_failed", Value, subscribable;
    AuthenticationPasskeySucceeded / AUTHENTICATION_PASSKEY_SUCCEEDED =>
        "authentication.passkey_succeeded", Value, subscribable;
    AuthenticationSsoFailed / AUTHENTICATION_SSO_FAILED =>
        "authentication.sso_failed", Value, subscribable;
    AuthenticationSsoStarted / AUTHENTICATION_SSO_STARTED =>
        "authentication.sso_started", Value, subscribable;
    AuthenticationSsoSucceeded / AUTHENTICATION_SSO_SUCCEEDED =>
        "authentication.sso_succeeded", Value, subscribable;
    AuthenticationSsoTimedOut / AUTHENTICATION_SSO_TIMED_OUT =>
        "authentication.sso_timed_out", Value, subscribable;
    AuthenticationRadarRiskDetected / AUTHENTICATION_RADAR_RISK_DETECTED =>
        "authentication.radar_risk_detected", Value, subscribable;
    ApiKeyCreated / API_KEY_CREATED => "api_key.created", ApiKey, subscribable;
    ApiKeyRevoked / API_KEY_REVOKED => "api_key.revoked", ApiKey, subscribable;
    // Not in the spec's webhook enum; the Python SDK parses it (`ApiKeyUpdated`).
    ApiKeyUpdated / API_KEY_UPDATED => "api_key.updated", ApiKeyUpdated, internal;
    ConnectionActivated / CONNECTION_ACTIVATED => "connection.activated", Connection, subscribable;
    ConnectionDeactivated / CONNECTION_DEACTIVATED =>
        "connection.deactivated", Connection, subscribable;
    ConnectionSamlCertificateRenewalRequired / CONNECTION_SAML_CERTIFICATE_RENEWAL_REQUIRED =>
        "connection.saml_certificate_renewal_required", Value, subscribable;
    ConnectionSamlCertificateRenewed / CONNECTION_SAML_CERTIFICATE_RENEWED =>
        "connection.saml_certificate_renewed", Value, subscribable;
    ConnectionDeleted / CONNECTION_DELETED => "connection.deleted", Connection, subscribable;
    DsyncActivated / DSYNC_ACTIVATED => "dsync.activated", Directory, subscribable;
    DsyncDeleted / DSYNC_DELETED => "dsync.deleted", Directory, subscribable;
    DsyncGroupCreated / DSYNC_GROUP_CREATED => "dsync.group.created", DirectoryGroup, subscribable;
    DsyncGroupDeleted / DSYNC_GROUP_DELETED => "dsync.group.deleted", DirectoryGroup, subscribable;
    DsyncGroupUpdated / DSYNC_GROUP_UPDATED => "dsync.group.updated", Value, subscribable;
    DsyncGroupUserAdded / DSYNC_GROUP_USER_ADDED => "dsync.group.user_added", Value, subscribable;
    DsyncGroupUserRemoved / DSYNC_GROUP_USER_REMOVED =>
        "dsync.group.user_removed", Value, subscribable;
    DsyncUserCreated / DSYNC_USER_CREATED => "dsync.user.created", Value, subscribable;
    DsyncUserDeleted / DSYNC_USER_DELETED => "dsync.user.deleted", Value, subscribable;
    DsyncUserUpdated / DSYNC_USER_UPDATED => "dsync.user.updated", Value, subscribable;
    EmailVerificationCreated / EMAIL_VERIFICATION_CREATED =>
        "email_verification.created", Value, subscribable;
    GroupCreated / GROUP_CREATED => "group.created", Value, subscribable;
    GroupDeleted / GROUP_DELETED => "group.deleted", Value, subscribable;
    GroupMemberAdded / GROUP_MEMBER_ADDED => "group.member_added", Value, subscribable;
    GroupMemberRemoved / GROUP_MEMBER_REMOVED => "group.member_removed", Value, subscribable;
    GroupUpdated / GROUP_UPDATED => "group.updated", Value, subscribable;
    FlagCreated / FLAG_CREATED => "flag.created", FlagEvent, subscribable;
    FlagDeleted / FLAG_DELETED => "flag.deleted", FlagEvent, subscribable;
    FlagUpdated / FLAG_UPDATED => "flag.updated", FlagEvent, subscribable;
    FlagRuleUpdated / FLAG_RULE_UPDATED => "flag.rule_updated", FlagEvent, subscribable;
    InvitationAccepted / INVITATION_ACCEPTED => "invitation.accepted", Invitation, subscribable;
    InvitationCreated / INVITATION_CREATED => "invitation.created", Invitation, subscribable;
    InvitationResent / INVITATION_RESENT => "invitation.resent", Invitation, subscribable;
    InvitationRevoked / INVITATION_REVOKED => "invitation.revoked", Invitation, subscribable;
    MagicAuthCreated / MAGIC_AUTH_CREATED => "magic_auth.created", Value, subscribable;
    OrganizationCreated / ORGANIZATION_CREATED =>
        "organization.created", Organization, subscribable;
    OrganizationDeleted / ORGANIZATION_DELETED =>
        "organization.deleted", Organization, subscribable;
    OrganizationUpdated / ORGANIZATION_UPDATED =>
        "organization.updated", Organization, subscribable;
    OrganizationDomainCreated / ORGANIZATION_DOMAIN_CREATED =>
        "organization_domain.created", OrganizationDomain, subscribable;
    OrganizationDomainDeleted / ORGANIZATION_DOMAIN_DELETED =>
        "organization_domain.deleted", OrganizationDomain, subscribable;
    OrganizationDomainUpdated / ORGANIZATION_DOMAIN_UPDATED =>
        "organization_domain.updated", OrganizationDomain, subscribable;
    OrganizationDomainVerified / ORGANIZATION_DOMAIN_VERIFIED =>
        "organization_domain.verified", OrganizationDomain, subscribable;
    OrganizationDomainVerificationFailed / ORGANIZATION_DOMAIN_VERIFICATION_FAILED =>
        "organization_domain.verification_failed", Value, subscribable;
    PasswordResetCreated / PASSWORD_RESET_CREATED =>
        "password_reset.created", PasswordReset, subscribable;
    PasswordResetSucceeded / PASSWORD_RESET_SUCCEEDED =>
        "password_reset.succeeded", PasswordReset, subscribable;
    UserCreated / USER_CREATED => "user.created", User, subscribable;
    UserUpdated / USER_UPDATED => "user.updated", User, subscribable;
    UserDeleted / USER_DELETED => "user.deleted", User, subscribable;
    OrganizationMembershipCreated / ORGANIZATION_MEMBERSHIP_CREATED =>
        "organization_membership.created", Membership, subscribable;
    OrganizationMembershipDeleted / ORGANIZATION_MEMBERSHIP_DELETED =>
        "organization_membership.deleted", Membership, subscribable;
    OrganizationMembershipUpdated / ORGANIZATION_MEMBERSHIP_UPDATED =>
        "organization_membership.updated", Membership, subscribable;
    RoleCreated / ROLE_CREATED => "role.created", Value, subscribable;
    RoleDeleted / ROLE_DELETED => "role.deleted", Value, subscribable;
    RoleUpdated / ROLE_UPDATED => "role.updated", Value, subscribable;
    OrganizationRoleCreated / ORGANIZATION_ROLE_CREATED =>
        "organization_role.created", Value, subscribable;
    OrganizationRoleDeleted / ORGANIZATION_ROLE_DELETED =>
        "organization_role.deleted", Value, subscribable;
    OrganizationRoleUpdated / ORGANIZATION_ROLE_UPDATED =>
        "organization_role.updated", Value, subscribable;
    PermissionCreated / PERMISSION_CREATED => "permission.created", Value, subscribable;
    PermissionDeleted / PERMISSION_DELETED => "permission.deleted", Value, subscribable;
    PermissionUpdated / PERMISSION_UPDATED => "permission.updated", Value, subscribable;
    SessionCreated / SESSION_CREATED => "session.created", Session, subscribable;
    SessionRevoked / SESSION_REVOKED => "session.revoked", Session, subscribable;
    VaultByokKeyDeleted / VAULT_BYOK_KEY_DELETED => "vault.byok_key.deleted", Value, internal;
    VaultByokKeyVerificationCompleted / VAULT_BYOK_KEY_VERIFICATION_COMPLETED =>
        "vault.byok_key.verification_completed", Value, internal;
    VaultDataCreated / VAULT_DATA_CREATED => "vault.data.created", VaultEvent, internal;
    VaultDataDeleted / VAULT_DATA_DELETED => "vault.data.deleted", VaultEvent, internal;
    VaultDataRead / VAULT_DATA_READ => "vault.data.read", VaultEvent, internal;
    VaultDataUpdated / VAULT_DATA_UPDATED => "vault.data.updated", VaultEvent, internal;
    VaultDekDecrypted / VAULT_DEK_DECRYPTED => "vault.dek.decrypted", VaultEvent, internal;
    VaultDekRead / VAULT_DEK_READ => "vault.dek.read", VaultEvent, internal;
    VaultKekCreated / VAULT_KEK_CREATED => "vault.kek.created", Value, internal;
    VaultMetadataRead / VAULT_METADATA_READ => "vault.metadata.read", VaultEvent, internal;
    VaultNamesListed / VAULT_NAMES_LISTED => "vault.names.listed", VaultEvent, internal;
    WaitlistUserApproved / WAITLIST_USER_APPROVED => "waitlist_user.approved", Value, subscribable;
    WaitlistUserCreated / WAITLIST_USER_CREATED => "waitlist_user.created", Value, subscribable;
    WaitlistUserDenied / WAITLIST_USER_DENIED => "waitlist_user.denied", Value, subscribable;
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEventName;

impl FromStr for EventName {
    type Err = UnknownEventName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|e| e.as_str() == s)
            .ok_or(UnknownEventName)
    }
}

impl serde::Serialize for EventName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for (i, e) in EventName::ALL.iter().enumerate() {
            assert_eq!(e.as_str().parse::<EventName>(), Ok(*e));
            assert!(
                !EventName::ALL[..i].iter().any(|o| o.as_str() == e.as_str()),
                "{e} twice"
            );
        }
        assert_eq!(
            "organization.made".parse::<EventName>(),
            Err(UnknownEventName)
        );
    }

    #[test]
    fn failures_the_spec_does_not_list_are_not_subscribable() {
        assert!(names::ORGANIZATION_CREATED.is_subscribable());
        assert!(!names::AUTHENTICATION_MFA_FAILED.is_subscribable());
        assert!(!names::AUTHENTICATION_EMAIL_VERIFICATION_FAILED.is_subscribable());
        assert_eq!(
            EventName::ALL
                .iter()
                .filter(|e| e.is_subscribable())
                .count(),
            77
        );
    }
}
