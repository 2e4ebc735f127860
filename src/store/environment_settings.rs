//! Per-environment settings (`environment_settings`, one row per environment, created on the
//! first explicit setting): what `GET`/`PATCH /environment`, `PUT
//! /user_management/app_homepage_url` and `keystead environments update` read and write, and
//! what the sign-in paths, token issuance and URL validation read per request. Keystead
//! extension (WorkOS keeps these in its dashboard).
//!
//! A column is null until set explicitly; [`EnvironmentSettings::resolve`] then falls back to
//! the serving process's flag ([`Settings`]: `KEYSTEAD_REQUIRE_EMAIL_VERIFICATION`,
//! `KEYSTEAD_ACCESS_TOKEN_TTL`, `KEYSTEAD_SESSION_TTL`, `KEYSTEAD_WEBHOOK_ALLOW_HTTP`) or to
//! a default by environment type (plain-HTTP URLs allowed in staging, refused in production).
//! A later area adds a setting with a nullable column (its own migration), a field in
//! [`Stored`], [`EnvironmentSettings`] and [`SettingsPatch`].

use serde::Serialize;
use sqlx::{FromRow, PgConnection};

use super::radar_settings::{self, RadarPatch, RadarSettings, RadarStored};
use crate::db::Tx;
use crate::ids::EnvironmentId;
use crate::settings::Settings;

/// The OAuth providers a sign-in may use (connection types), in the order they are listed.
pub const OAUTH_PROVIDERS: [&str; 4] =
    ["AppleOAuth", "GitHubOAuth", "GoogleOAuth", "MicrosoftOAuth"];

/// Shortest and longest access-token lifetime, in seconds.
pub const ACCESS_TOKEN_TTL_RANGE: std::ops::RangeInclusive<u32> = 60..=86_400;
/// Longest session lifetime (one year), in seconds; the shortest is the access-token lifetime.
pub const MAX_SESSION_TTL: u32 = 31_536_000;

/// The explicit settings of an environment as stored (null: not set).
#[derive(Debug, Clone, Default, FromRow, Serialize)]
pub struct Stored {
    /// See [`EnvironmentSettings::email_verification_required`].
    pub email_verification_required: Option<bool>,
    /// `optional` or `required`.
    pub mfa_enrollment: Option<String>,
    /// Password sign-in enabled.
    pub sign_in_password: Option<bool>,
    /// Magic Auth sign-in enabled.
    pub sign_in_magic_auth: Option<bool>,
    /// Enterprise SSO sign-in enabled.
    pub sign_in_sso: Option<bool>,
    /// The OAuth providers enabled.
    pub sign_in_oauth_providers: Option<Vec<String>>,
    /// Access-token lifetime.
    pub access_token_ttl_seconds: Option<i32>,
    /// Session lifetime.
    pub session_ttl_seconds: Option<i32>,
    /// The application's homepage.
    pub app_homepage_url: Option<String>,
    /// Plain-HTTP webhook endpoints allowed.
    pub allow_http_webhook_endpoints: Option<bool>,
    /// Plain-HTTP redirect URIs allowed.
    pub allow_http_redirect_uris: Option<bool>,
    /// Radar's settings ([`radar_settings`]).
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub radar: RadarStored,
}

/// Whether users must enroll an MFA factor to sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaEnrollment {
    /// Users with a factor are challenged; others sign in without one.
    Optional,
    /// A user without a TOTP factor must enroll one (403 `mfa_enrollment`).
    Required,
}

impl MfaEnrollment {
    /// Parses `optional` / `required`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "optional" => Some(Self::Optional),
            "required" => Some(Self::Required),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Optional => "optional",
            Self::Required => "required",
        }
    }
}

/// The sign-in methods an environment accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignInMethods {
    /// Email and password (the `password` grant and the hosted password form).
    pub password: bool,
    /// Magic Auth codes (the Magic Auth grant and the hosted magic-code pages).
    pub magic_auth: bool,
    /// Enterprise SSO connections (SAML, OIDC).
    pub sso: bool,
    /// OAuth providers (connection types) users may sign in with.
    pub oauth_providers: Vec<String>,
}

impl SignInMethods {
    /// Whether a connection of this type may be used to sign in: an OAuth provider when listed,
    /// any other type when SSO is on.
    pub fn allows_connection_type(&self, connection_type: &str) -> bool {
        if OAUTH_PROVIDERS.contains(&connection_type) {
            self.oauth_providers.iter().any(|p| p == connection_type)
        } else {
            self.sso
        }
    }
}

/// An environment's effective settings (explicit values, else the defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentSettings {
    /// Sign-ins of users with an unverified email stop at 403 `email_verification_required`.
    pub email_verification_required: bool,
    /// Whether users must enroll an MFA factor.
    pub mfa_enrollment: MfaEnrollment,
    /// The sign-in methods accepted.
    pub sign_in_methods: SignInMethods,
    /// Access-token lifetime, in seconds.
    pub access_token_ttl_seconds: u32,
    /// Session (and refresh-token) lifetime, in seconds.
    pub session_ttl_seconds: u32,
    /// The application's homepage (links back from the hosted pages); null when unset.
    pub app_homepage_url: Option<String>,
    /// `http://` webhook endpoint URLs are accepted.
    pub allow_http_webhook_endpoints: bool,
    /// `http://` redirect URIs are accepted.
    pub allow_http_redirect_uris: bool,
    /// Radar: on or off for Keystead's sign-ins, and the controls' thresholds.
    pub radar: RadarSettings,
}

fn seconds(v: Option<i32>, default: std::time::Duration) -> u32 {
    v.and_then(|s| u32::try_from(s).ok())
        .unwrap_or_else(|| u32::try_from(default.as_secs()).unwrap_or(u32::MAX))
}

impl EnvironmentSettings {
    /// The effective settings: the explicit ones, else the process flags in `d`, else a default
    /// by environment type (`production`).
    pub fn resolve(s: Stored, production: bool, d: &Settings) -> Self {
        let http_default = d.webhooks.allow_http.unwrap_or(!production);
        Self {
            email_verification_required: s
                .email_verification_required
                .unwrap_or(d.require_email_verification),
            mfa_enrollment: s
                .mfa_enrollment
                .as_deref()
                .and_then(MfaEnrollment::parse)
                .unwrap_or(MfaEnrollment::Optional),
            sign_in_methods: SignInMethods {
                password: s.sign_in_password.unwrap_or(true),
                magic_auth: s.sign_in_magic_auth.unwrap_or(true),
                sso: s.sign_in_sso.unwrap_or(true),
                oauth_providers: s
                    .sign_in_oauth_providers
                    .unwrap_or_else(|| OAUTH_PROVIDERS.iter().map(|p| p.to_string()).collect()),
            },
            access_token_ttl_seconds: seconds(s.access_token_ttl_seconds, d.access_token_ttl),
            session_ttl_seconds: seconds(s.session_ttl_seconds, d.session_ttl),
            app_homepage_url: s.app_homepage_url,
            allow_http_webhook_endpoints: s.allow_http_webhook_endpoints.unwrap_or(http_default),
            allow_http_redirect_uris: s.allow_http_redirect_uris.unwrap_or(!production),
            radar: RadarSettings::resolve(&s.radar),
        }
    }

    /// The access-token lifetime.
    pub fn access_token_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.access_token_ttl_seconds.into())
    }

    /// The session lifetime.
    pub fn session_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.session_ttl_seconds.into())
    }
}

/// A partial update: `None` leaves a setting alone, `Some(None)` clears it back to its default,
/// `Some(Some(v))` sets it.
#[derive(Debug, Clone, Default)]
pub struct SettingsPatch {
    /// See [`EnvironmentSettings::email_verification_required`].
    pub email_verification_required: Option<Option<bool>>,
    /// See [`EnvironmentSettings::mfa_enrollment`].
    pub mfa_enrollment: Option<Option<MfaEnrollment>>,
    /// `sign_in_methods.password`.
    pub sign_in_password: Option<Option<bool>>,
    /// `sign_in_methods.magic_auth`.
    pub sign_in_magic_auth: Option<Option<bool>>,
    /// `sign_in_methods.sso`.
    pub sign_in_sso: Option<Option<bool>>,
    /// `sign_in_methods.oauth_providers`.
    pub sign_in_oauth_providers: Option<Option<Vec<String>>>,
    /// See [`EnvironmentSettings::access_token_ttl_seconds`].
    pub access_token_ttl_seconds: Option<Option<u32>>,
    /// See [`EnvironmentSettings::session_ttl_seconds`].
    pub session_ttl_seconds: Option<Option<u32>>,
    /// See [`EnvironmentSettings::app_homepage_url`].
    pub app_homepage_url: Option<Option<String>>,
    /// See [`EnvironmentSettings::allow_http_webhook_endpoints`].
    pub allow_http_webhook_endpoints: Option<Option<bool>>,
    /// See [`EnvironmentSettings::allow_http_redirect_uris`].
    pub allow_http_redirect_uris: Option<Option<bool>>,
    /// See [`EnvironmentSettings::radar`].
    pub radar: RadarPatch,
}

const COLUMNS: &str = "s.email_verification_required, s.mfa_enrollment, s.sign_in_password, \
    s.sign_in_magic_auth, s.sign_in_sso, s.sign_in_oauth_providers, s.access_token_ttl_seconds, \
    s.session_ttl_seconds, s.app_homepage_url, s.allow_http_webhook_endpoints, \
    s.allow_http_redirect_uris";

#[derive(FromRow)]
struct Row {
    production: bool,
    #[sqlx(flatten)]
    stored: Stored,
}

/// The environment's effective settings; `None` for an unknown environment.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    defaults: &Settings,
) -> sqlx::Result<Option<EnvironmentSettings>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select e.production, {COLUMNS}, {} from environments e
         left join environment_settings s on s.environment_id = e.id
         left join radar_settings r on r.environment_id = e.id where e.id = $1",
        radar_settings::COLUMNS
    )))
    .bind(env)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| EnvironmentSettings::resolve(r.stored, r.production, defaults)))
}

/// The environment's effective settings (the defaults for an unknown environment, which no
/// caller with a resolved environment id has).
pub async fn get(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    defaults: &Settings,
) -> sqlx::Result<EnvironmentSettings> {
    Ok(find(conn, env, defaults)
        .await?
        .unwrap_or_else(|| EnvironmentSettings::resolve(Stored::default(), true, defaults)))
}

fn apply<T>(slot: &mut Option<T>, change: Option<Option<T>>) {
    if let Some(v) = change {
        *slot = v;
    }
}

/// What [`update`] stored.
#[derive(Debug, Clone)]
pub struct Updated {
    /// The explicit settings now stored.
    pub stored: Stored,
    /// Whether the environment is a production one.
    pub production: bool,
}

impl Updated {
    /// The effective settings under the process flags in `defaults`.
    pub fn resolve(&self, defaults: &Settings) -> EnvironmentSettings {
        EnvironmentSettings::resolve(self.stored.clone(), self.production, defaults)
    }
}

/// Applies a partial update to an existing environment under a row lock. The caller checks
/// the result (e.g. session ≥ access-token lifetime) before committing.
pub async fn update(
    tx: &mut Tx,
    env: &EnvironmentId,
    patch: SettingsPatch,
) -> sqlx::Result<Updated> {
    sqlx::query(
        "insert into environment_settings (environment_id) values ($1) on conflict do nothing",
    )
    .bind(env)
    .execute(&mut **tx)
    .await?;
    let Row {
        production,
        mut stored,
    } = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select e.production, {COLUMNS}, {} from environment_settings s
         join environments e on e.id = s.environment_id
         left join radar_settings r on r.environment_id = s.environment_id
         where s.environment_id = $1 for update of s",
        radar_settings::COLUMNS
    )))
    .bind(env)
    .fetch_one(&mut **tx)
    .await?;
    let s = &mut stored;
    apply(
        &mut s.email_verification_required,
        patch.email_verification_required,
    );
    apply(
        &mut s.mfa_enrollment,
        patch
            .mfa_enrollment
            .map(|m| m.map(|m| m.as_str().to_string())),
    );
    apply(&mut s.sign_in_password, patch.sign_in_password);
    apply(&mut s.sign_in_magic_auth, patch.sign_in_magic_auth);
    apply(&mut s.sign_in_sso, patch.sign_in_sso);
    apply(
        &mut s.sign_in_oauth_providers,
        patch.sign_in_oauth_providers,
    );
    let to_i32 =
        |v: Option<Option<u32>>| v.map(|v| v.map(|n| i32::try_from(n).unwrap_or(i32::MAX)));
    apply(
        &mut s.access_token_ttl_seconds,
        to_i32(patch.access_token_ttl_seconds),
    );
    apply(
        &mut s.session_ttl_seconds,
        to_i32(patch.session_ttl_seconds),
    );
    apply(&mut s.app_homepage_url, patch.app_homepage_url);
    apply(
        &mut s.allow_http_webhook_endpoints,
        patch.allow_http_webhook_endpoints,
    );
    apply(
        &mut s.allow_http_redirect_uris,
        patch.allow_http_redirect_uris,
    );
    sqlx::query(
        "update environment_settings set email_verification_required = $2, mfa_enrollment = $3,
         sign_in_password = $4, sign_in_magic_auth = $5, sign_in_sso = $6,
         sign_in_oauth_providers = $7, access_token_ttl_seconds = $8, session_ttl_seconds = $9,
         app_homepage_url = $10, allow_http_webhook_endpoints = $11,
         allow_http_redirect_uris = $12
         where environment_id = $1",
    )
    .bind(env)
    .bind(s.email_verification_required)
    .bind(&s.mfa_enrollment)
    .bind(s.sign_in_password)
    .bind(s.sign_in_magic_auth)
    .bind(s.sign_in_sso)
    .bind(&s.sign_in_oauth_providers)
    .bind(s.access_token_ttl_seconds)
    .bind(s.session_ttl_seconds)
    .bind(&s.app_homepage_url)
    .bind(s.allow_http_webhook_endpoints)
    .bind(s.allow_http_redirect_uris)
    .execute(&mut **tx)
    .await?;
    stored.radar.apply(patch.radar);
    radar_settings::store(tx, env, &stored.radar).await?;
    Ok(Updated { stored, production })
}
