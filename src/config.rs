//! Command line and configuration: `keystead serve | environments | api-keys`.
//!
//! Every option is also read from its environment variable (clap `env`), so compose files and CI
//! configure Keystead without flags. The table in README.md mirrors the doc comments here.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `keystead`: a self-hosted identity API server that speaks the WorkOS REST API.
#[derive(Debug, Parser)]
#[command(name = "keystead", version, about)]
pub struct Cli {
    /// Options for `serve`, which also runs when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// What to do; `serve` when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server (the default).
    Serve(Box<ServeArgs>),
    /// Manage environments (tenants).
    #[command(subcommand)]
    Environments(EnvironmentsCommand),
    /// Manage the API keys of an environment.
    #[command(subcommand, name = "api-keys")]
    ApiKeys(ApiKeysCommand),
    /// Manage the feature flags of an environment (as `POST`/`DELETE /feature-flags`).
    #[command(subcommand, name = "feature-flags")]
    FeatureFlags(FeatureFlagsCommand),
}

/// `keystead feature-flags …`.
#[derive(Debug, Subcommand)]
pub enum FeatureFlagsCommand {
    /// Create a flag (off, and off by default, unless `--enabled` / `--default-value`); records
    /// `flag.created`.
    Create {
        /// The environment (`environment_…`).
        #[arg(long)]
        environment: String,
        /// Unique key: lowercase letters, digits, `-` and `_`.
        #[arg(long)]
        slug: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Serve `true` to subjects no target matches.
        #[arg(long)]
        default_value: bool,
        /// Turn the flag on at once.
        #[arg(long)]
        enabled: bool,
        /// A label. Repeatable.
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Print the flag as JSON.
        #[arg(long)]
        json: bool,
        /// Database options.
        #[command(flatten)]
        db: DbArgs,
    },
    /// Delete a flag and its targets; records `flag.deleted`.
    Delete {
        /// The environment (`environment_…`).
        #[arg(long)]
        environment: String,
        /// The flag's slug.
        slug: String,
        /// Database options.
        #[command(flatten)]
        db: DbArgs,
    },
}

/// `keystead environments …`.
#[derive(Debug, Subcommand)]
pub enum EnvironmentsCommand {
    /// Create an environment with its client id, first API key and JWT signing key.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// A production environment: its API keys are `sk_live_…` instead of `sk_test_…`.
        #[arg(long)]
        production: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// Database options.
        #[command(flatten)]
        db: DbArgs,
    },
    /// Change an environment's settings (the settings of `PATCH /environment`); prints the
    /// settings now set explicitly (null: the serving process's default applies).
    Update {
        /// The environment (`environment_…`).
        #[arg(long)]
        environment: String,
        /// A setting as `key=value`, e.g. `access_token_ttl_seconds=600`,
        /// `sign_in_methods.password=false`, `mfa_enrollment=required`,
        /// `sign_in_methods.oauth_providers=GoogleOAuth,GitHubOAuth`; `key=null` returns it to
        /// its default. Repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// Database options.
        #[command(flatten)]
        db: DbArgs,
    },
    /// List environments.
    List {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// Database options.
        #[command(flatten)]
        db: DbArgs,
    },
}

/// `keystead api-keys …`.
#[derive(Debug, Subcommand)]
pub enum ApiKeysCommand {
    /// Create an API key; its value is printed once.
    Create {
        /// The environment (`environment_…`) the key belongs to.
        #[arg(long)]
        environment: String,
        /// Display name.
        #[arg(long, default_value = "API key")]
        name: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// Database options.
        #[command(flatten)]
        db: DbArgs,
    },
    /// List the API keys of an environment (values are never shown again).
    List {
        /// The environment (`environment_…`).
        #[arg(long)]
        environment: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// Database options.
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke an API key by id; requests with it get 401 from then on.
    Revoke {
        /// The key id (`key_…`), as `api-keys list` prints it.
        id: String,
        /// Database options.
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Where the database is: `DATABASE_URL`, or the embedded cluster under the data dir.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Directory for the embedded PostgreSQL cluster and the encryption key file.
    #[arg(long, env = "KEYSTEAD_DATA_DIR", default_value = "./keystead-data")]
    pub data_dir: PathBuf,
    /// PostgreSQL URL; when unset Keystead runs its own cluster under `<data-dir>/postgres`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Base64 of 32 bytes: the key that encrypts JWT signing keys at rest. When unset it is read
    /// from (or created at) `<data-dir>/encryption.key`. Replicas must share it.
    #[arg(long, env = "KEYSTEAD_ENCRYPTION_KEY", hide_env_values = true)]
    pub encryption_key: Option<String>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (production).
    Json,
    /// Human-readable lines (development).
    Pretty,
}

/// Options of `keystead serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KEYSTEAD_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Database options.
    #[command(flatten)]
    pub db: DbArgs,
    /// Externally visible base URL (issuer, links); default `http://<bind>`.
    #[arg(long, env = "KEYSTEAD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Domain of the `workos-has-session` cookie that AuthKit's production mode sets (e.g.
    /// `example.com`, so an app on `app.example.com` sees the cookie Keystead sets on
    /// `auth.example.com`); the public URL's host or a parent of it. Unset: host-only.
    #[arg(long, env = "KEYSTEAD_COOKIE_DOMAIN")]
    pub cookie_domain: Option<String>,
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info,keystead=debug`.
    #[arg(long, env = "KEYSTEAD_LOG", default_value = "info,sqlx=warn")]
    pub log: String,
    /// Log format.
    #[arg(
        long,
        env = "KEYSTEAD_LOG_FORMAT",
        value_enum,
        default_value = "pretty"
    )]
    pub log_format: LogFormat,
    /// Ensure a default environment with exactly this API key (`sk_test_…` or `sk_live_…`).
    #[arg(long, env = "KEYSTEAD_BOOTSTRAP_API_KEY", hide_env_values = true)]
    pub bootstrap_api_key: Option<String>,
    /// Ensure a default environment with exactly this client id (`client_…`).
    #[arg(long, env = "KEYSTEAD_BOOTSTRAP_CLIENT_ID")]
    pub bootstrap_client_id: Option<String>,
    /// Access-token lifetime in seconds: the default of every environment's
    /// `access_token_ttl_seconds` setting.
    #[arg(long, env = "KEYSTEAD_ACCESS_TOKEN_TTL", default_value_t = 300)]
    pub access_token_ttl: u64,
    /// Session (and refresh-token) lifetime in seconds: the default of every environment's
    /// `session_ttl_seconds` setting.
    #[arg(long, env = "KEYSTEAD_SESSION_TTL", default_value_t = 30 * 24 * 3600)]
    pub session_ttl: u64,
    /// Seconds during which an already-rotated refresh token may be used again (concurrent
    /// refreshes from several tabs); after that a reuse revokes the session.
    #[arg(long, env = "KEYSTEAD_REFRESH_REUSE_GRACE", default_value_t = 30)]
    pub refresh_reuse_grace: u64,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "KEYSTEAD_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Password hashes computed at once (each takes ~15 ms of one core); 0 = number of cores.
    #[arg(long, env = "KEYSTEAD_PASSWORD_HASH_CONCURRENCY", default_value_t = 0)]
    pub password_hash_concurrency: usize,
    /// DNS server (`ip:port`) used for domain verification; the system resolver when unset.
    #[arg(long, env = "KEYSTEAD_DNS_SERVER")]
    pub dns_server: Option<SocketAddr>,
    /// Seconds a request may take before it is answered 408.
    #[arg(long, env = "KEYSTEAD_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,
    /// Seconds to drain in-flight requests after SIGTERM/SIGINT before exiting anyway.
    #[arg(long, env = "KEYSTEAD_SHUTDOWN_GRACE", default_value_t = 20)]
    pub shutdown_grace: u64,
    /// Rate limits: `off`, or overrides like `general=6000/60,authenticate_email=10/60`
    /// (classes: general, user_management_read, user_management_write, authenticate_email,
    /// authenticate_ip, sends, sso_authorize, organization_delete, public).
    #[arg(long, env = "KEYSTEAD_RATE_LIMITS", default_value = "")]
    pub rate_limits: String,
    /// Redis URL; when set, rate limits are shared by every replica using it.
    #[arg(long, env = "KEYSTEAD_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Comma-separated proxy networks (CIDR or IP) allowed to set `X-Forwarded-For`.
    #[arg(long, env = "KEYSTEAD_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// When set, `GET /metrics` requires `Authorization: Bearer <token>`.
    #[arg(long, env = "KEYSTEAD_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Webhook delivery options.
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    /// Enterprise SSO options.
    #[command(flatten)]
    pub sso: SsoArgs,
    /// Users whose email is not verified must verify it (403 `email_verification_required`)
    /// before a password or other non-email sign-in completes: the default of every
    /// environment's `email_verification_required` setting.
    #[arg(
        long,
        env = "KEYSTEAD_REQUIRE_EMAIL_VERIFICATION",
        default_value_t = false
    )]
    pub require_email_verification: bool,
    /// Email delivery options.
    #[command(flatten)]
    pub email: EmailArgs,
    /// Audit-log stream delivery and retention purge options.
    #[command(flatten)]
    pub audit_log_streams: AuditLogStreamArgs,
    /// MaxMind-format (GeoIP2/GeoLite2 City) databases for Radar's impossible-travel and
    /// country controls, comma-separated (e.g. an IPv4 and an IPv6 file); unset: no GeoIP.
    #[arg(long, env = "KEYSTEAD_GEOIP_DATABASE")]
    pub geoip_database: Option<String>,
    /// Audit-log export options.
    #[command(flatten)]
    pub audit_log_exports: AuditLogExportArgs,
}

/// Audit-log export options of `keystead serve` (`POST /audit_logs/exports`).
#[derive(Debug, Clone, Args)]
pub struct AuditLogExportArgs {
    /// How often an idle export worker looks for pending exports, in milliseconds (a Postgres
    /// `NOTIFY` from the creating request wakes it at once).
    #[arg(
        long,
        env = "KEYSTEAD_AUDIT_LOG_EXPORT_POLL_INTERVAL_MS",
        default_value_t = 5_000
    )]
    pub audit_log_export_poll_interval_ms: u64,
    /// Seconds a claimed export may go without progress before another replica takes it over.
    #[arg(
        long,
        env = "KEYSTEAD_AUDIT_LOG_EXPORT_LEASE_SECS",
        default_value_t = 60
    )]
    pub audit_log_export_lease_secs: u64,
    /// Attempts per export before it ends in state `error`.
    #[arg(
        long,
        env = "KEYSTEAD_AUDIT_LOG_EXPORT_MAX_ATTEMPTS",
        default_value_t = 3
    )]
    pub audit_log_export_max_attempts: u32,
    /// Do not run the export worker in this process (exports stay `pending` until a replica
    /// with the worker runs them).
    #[arg(
        long,
        env = "KEYSTEAD_AUDIT_LOG_EXPORT_WORKER_DISABLED",
        default_value_t = false
    )]
    pub audit_log_export_worker_disabled: bool,
    /// Store export files in this S3-compatible bucket instead of Postgres.
    #[arg(long, env = "KEYSTEAD_AUDIT_LOG_EXPORT_S3_BUCKET")]
    pub audit_log_export_s3_bucket: Option<String>,
    /// Base URL of the S3-compatible server (`http://127.0.0.1:9000`); unset for AWS S3.
    #[arg(long, env = "KEYSTEAD_AUDIT_LOG_EXPORT_S3_ENDPOINT")]
    pub audit_log_export_s3_endpoint: Option<String>,
    /// The region requests are signed for.
    #[arg(
        long,
        env = "KEYSTEAD_AUDIT_LOG_EXPORT_S3_REGION",
        default_value = "us-east-1"
    )]
    pub audit_log_export_s3_region: String,
    /// Access key id of the bucket.
    #[arg(long, env = "KEYSTEAD_AUDIT_LOG_EXPORT_S3_ACCESS_KEY_ID")]
    pub audit_log_export_s3_access_key_id: Option<String>,
    /// Secret access key of the bucket.
    #[arg(
        long,
        env = "KEYSTEAD_AUDIT_LOG_EXPORT_S3_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub audit_log_export_s3_secret_access_key: Option<String>,
    /// Path-style requests (`<endpoint>/<bucket>/<key>`); default: on with an endpoint, off
    /// for AWS S3 (virtual-hosted style).
    #[arg(long, env = "KEYSTEAD_AUDIT_LOG_EXPORT_S3_PATH_STYLE")]
    pub audit_log_export_s3_path_style: Option<bool>,
    /// Prefix of the export objects' keys.
    #[arg(
        long,
        env = "KEYSTEAD_AUDIT_LOG_EXPORT_S3_PREFIX",
        default_value = "audit-log-exports/"
    )]
    pub audit_log_export_s3_prefix: String,
}

/// Email delivery options of `keystead serve` (magic-auth codes, verification codes,
/// password-reset links, invitations).
#[derive(Debug, Clone, Args)]
pub struct EmailArgs {
    /// SMTP server URL: `smtps://user:pass@host:465` (TLS), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtp://host:25` (plain, development only). When unset no email is sent.
    #[arg(long, env = "KEYSTEAD_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The `From:` of every email, e.g. `Acme <no-reply@acme.com>`.
    #[arg(
        long,
        env = "KEYSTEAD_SMTP_FROM",
        default_value = "Keystead <no-reply@localhost>"
    )]
    pub smtp_from: String,
    /// Timeout of one SMTP exchange (connect, and each command), in milliseconds.
    #[arg(long, env = "KEYSTEAD_SMTP_TIMEOUT_MS", default_value_t = 10_000)]
    pub smtp_timeout_ms: u64,
    /// Attempts per email before it is marked failed.
    #[arg(long, env = "KEYSTEAD_EMAIL_MAX_ATTEMPTS", default_value_t = 8)]
    pub email_max_attempts: u32,
    /// First retry delay in milliseconds; each further retry doubles it (the default schedule of
    /// 8 attempts spans about an hour).
    #[arg(long, env = "KEYSTEAD_EMAIL_RETRY_BASE_MS", default_value_t = 30_000)]
    pub email_retry_base_ms: u64,
    /// How often an idle worker looks for queued emails, in milliseconds.
    #[arg(long, env = "KEYSTEAD_EMAIL_POLL_INTERVAL_MS", default_value_t = 1_000)]
    pub email_poll_interval_ms: u64,
    /// Emails sent at once per replica (also the SMTP connection pool size).
    #[arg(long, env = "KEYSTEAD_EMAIL_CONCURRENCY", default_value_t = 4)]
    pub email_concurrency: usize,
    /// Do not run the email worker in this process (emails still queue).
    #[arg(long, env = "KEYSTEAD_EMAIL_WORKER_DISABLED", default_value_t = false)]
    pub email_worker_disabled: bool,
}

/// Webhook delivery options of `keystead serve`.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Attempts per event and endpoint before a delivery is marked failed.
    #[arg(long, env = "KEYSTEAD_WEBHOOK_MAX_ATTEMPTS", default_value_t = 12)]
    pub webhook_max_attempts: u32,
    /// First retry delay in milliseconds; each further retry doubles it (the default schedule of
    /// 12 attempts spans about 2.8 days).
    #[arg(
        long,
        env = "KEYSTEAD_WEBHOOK_RETRY_BASE_MS",
        default_value_t = 120_000
    )]
    pub webhook_retry_base_ms: u64,
    /// Timeout of one delivery POST (connect + response), in milliseconds.
    #[arg(long, env = "KEYSTEAD_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    pub webhook_timeout_ms: u64,
    /// How often an idle worker looks for due deliveries, in milliseconds.
    #[arg(
        long,
        env = "KEYSTEAD_WEBHOOK_POLL_INTERVAL_MS",
        default_value_t = 1_000
    )]
    pub webhook_poll_interval_ms: u64,
    /// Deliveries in flight at once per replica.
    #[arg(long, env = "KEYSTEAD_WEBHOOK_CONCURRENCY", default_value_t = 16)]
    pub webhook_concurrency: usize,
    /// Accept plain `http://` endpoint URLs: the default of every environment's
    /// `allow_http_webhook_endpoints` setting. When not given, staging environments accept them
    /// and production environments do not.
    #[arg(
        long,
        env = "KEYSTEAD_WEBHOOK_ALLOW_HTTP",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub webhook_allow_http: Option<bool>,
    /// Do not run the delivery worker in this process (events still queue).
    #[arg(
        long,
        env = "KEYSTEAD_WEBHOOK_WORKER_DISABLED",
        default_value_t = false
    )]
    pub webhook_worker_disabled: bool,
}

impl ServeArgs {
    /// The externally visible base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.bind),
        }
    }
}

/// Enterprise SSO options (`KEYSTEAD_SSO_*`).
#[derive(Debug, Clone, Args)]
pub struct SsoArgs {
    /// Clock skew, in seconds, tolerated on SAML `NotBefore`/`NotOnOrAfter` and ID-token times.
    #[arg(
        long = "sso-clock-skew",
        env = "KEYSTEAD_SSO_CLOCK_SKEW",
        default_value_t = 180
    )]
    pub clock_skew: u64,
    /// Seconds a started SSO login may take at the identity provider.
    #[arg(
        long = "sso-request-ttl",
        env = "KEYSTEAD_SSO_REQUEST_TTL",
        default_value_t = 600
    )]
    pub request_ttl: u64,
    /// Timeout, in seconds, of each request to an identity provider (metadata, discovery,
    /// JWKS, token, user info).
    #[arg(
        long = "sso-outbound-timeout",
        env = "KEYSTEAD_SSO_OUTBOUND_TIMEOUT",
        default_value_t = 10
    )]
    pub outbound_timeout: u64,
    /// Comma-separated networks (`127.0.0.1/32`, `10.0.0.0/8`) identity-provider requests may
    /// reach although they are private, loopback or otherwise special (SSRF guard; plain http is
    /// allowed only to these). Empty: public addresses over https only.
    #[arg(
        long = "sso-outbound-allow",
        env = "KEYSTEAD_SSO_OUTBOUND_ALLOW",
        value_delimiter = ',',
        value_parser = parse_ip_net
    )]
    pub outbound_allow: Vec<ipnet::IpNet>,
}

/// `addr/prefix`, or a bare address (a single host).
fn parse_ip_net(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("'{s}' is not an IP address or network"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbound_allow_networks_parse() {
        let net = parse_ip_net("127.0.0.0/8").unwrap();
        assert!(net.contains(&"127.0.0.1".parse::<std::net::IpAddr>().unwrap()));
        assert_eq!(parse_ip_net(" 10.0.0.1 ").unwrap().prefix_len(), 32);
        assert!(parse_ip_net("1.2.3.4/33").is_err());
        assert!(parse_ip_net("nope").is_err());
    }
}

/// Audit-log stream delivery and retention purge options (`KEYSTEAD_AUDIT_LOG_*`).
#[derive(Debug, Clone, Args)]
pub struct AuditLogStreamArgs {
    /// Most events sent in one batch to a stream's sink.
    #[arg(
        long,
        env = "KEYSTEAD_AUDIT_LOG_STREAM_BATCH_SIZE",
        default_value_t = 500
    )]
    pub audit_log_stream_batch_size: usize,
    /// First retry delay after a failed batch, in milliseconds; each further failure doubles it,
    /// up to `KEYSTEAD_AUDIT_LOG_STREAM_MAX_BACKOFF_MS`. A stream is retried until it succeeds.
    #[arg(
        long,
        env = "KEYSTEAD_AUDIT_LOG_STREAM_RETRY_BASE_MS",
        default_value_t = 10_000
    )]
    pub audit_log_stream_retry_base_ms: u64,
    /// Longest delay between two attempts of a failing stream, in milliseconds.
    #[arg(
        long,
        env = "KEYSTEAD_AUDIT_LOG_STREAM_MAX_BACKOFF_MS",
        default_value_t = 3_600_000
    )]
    pub audit_log_stream_max_backoff_ms: u64,
    /// Timeout of one request to a sink, in milliseconds.
    #[arg(
        long,
        env = "KEYSTEAD_AUDIT_LOG_STREAM_TIMEOUT_MS",
        default_value_t = 30_000
    )]
    pub audit_log_stream_timeout_ms: u64,
    /// How often an idle worker looks for streams with queued events, in milliseconds.
    #[arg(
        long,
        env = "KEYSTEAD_AUDIT_LOG_STREAM_POLL_INTERVAL_MS",
        default_value_t = 1_000
    )]
    pub audit_log_stream_poll_interval_ms: u64,
    /// Streams sent to at once per replica.
    #[arg(
        long,
        env = "KEYSTEAD_AUDIT_LOG_STREAM_CONCURRENCY",
        default_value_t = 8
    )]
    pub audit_log_stream_concurrency: usize,
    /// Do not run the stream delivery worker in this process (events still queue).
    #[arg(
        long,
        env = "KEYSTEAD_AUDIT_LOG_STREAM_WORKER_DISABLED",
        default_value_t = false
    )]
    pub audit_log_stream_worker_disabled: bool,
    /// How often the retention purge runs, in seconds.
    #[arg(
        long,
        env = "KEYSTEAD_AUDIT_LOG_PURGE_INTERVAL_SECS",
        default_value_t = 3_600
    )]
    pub audit_log_purge_interval_secs: u64,
    /// Events deleted per purge statement (each in its own short transaction).
    #[arg(long, env = "KEYSTEAD_AUDIT_LOG_PURGE_BATCH", default_value_t = 1_000)]
    pub audit_log_purge_batch: i64,
    /// Do not run the retention purge in this process.
    #[arg(
        long,
        env = "KEYSTEAD_AUDIT_LOG_PURGE_DISABLED",
        default_value_t = false
    )]
    pub audit_log_purge_disabled: bool,
}
