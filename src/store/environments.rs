//! Environments (tenants): creation with their client id, first API key and RS256 signing key,
//! the idempotent bootstrap environment, and signing-key lookup. Keystead extension; not in the
//! WorkOS spec (WorkOS manages environments in its dashboard).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};

use crate::crypto::vault::Vault;
use crate::crypto::{self, signing};
use crate::db::Tx;
use crate::ids::{EnvironmentId, EnvironmentKeyId};
use crate::ids::{new_id, prefix};

/// An environment as the CLI prints it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Environment {
    /// `environment_…`
    pub id: EnvironmentId,
    /// Display name.
    pub name: String,
    /// Production environments issue `sk_live_…` keys.
    pub production: bool,
    /// `client_…`, used by `/user_management/authenticate` and the JWKS URL. A key rather than
    /// a typed id: a configured bootstrap client id (`KEYSTEAD_BOOTSTRAP_CLIENT_ID`) is stored
    /// as given, so lookups must not require the prefix.
    pub client_id: String,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
}

/// A new environment with the one-time value of its first API key.
#[derive(Debug, Serialize)]
pub struct CreatedEnvironment {
    /// The environment.
    #[serde(flatten)]
    pub environment: Environment,
    /// The first API key's id (`key_…`).
    pub environment_key_id: EnvironmentKeyId,
    /// The first API key's value; shown once, stored only as a hash.
    pub api_key: String,
}

/// Creates an environment, its signing key and an API key (the given value, or a new one).
pub async fn create(
    tx: &mut Tx,
    vault: &Vault,
    name: &str,
    production: bool,
    client_id: Option<&str>,
    api_key: Option<&str>,
) -> anyhow::Result<CreatedEnvironment> {
    let id = EnvironmentId::new();
    let client_id = client_id.map_or_else(|| new_id(prefix::CLIENT), String::from);
    let environment: Environment = sqlx::query_as(
        "insert into environments (id, name, production, client_id) values ($1, $2, $3, $4)
         returning id, name, production, client_id, created_at",
    )
    .bind(&id)
    .bind(name)
    .bind(production)
    .bind(&client_id)
    .fetch_one(&mut **tx)
    .await?;
    add_signing_key(tx, vault, &id).await?;
    let api_key = api_key.map_or_else(|| crypto::new_environment_key(production), String::from);
    let environment_key_id =
        super::environment_keys::insert(tx, &id, "Default key", &api_key).await?;
    Ok(CreatedEnvironment {
        environment,
        environment_key_id,
        api_key,
    })
}

/// Generates an RS256 key for the environment and stores it encrypted.
pub async fn add_signing_key(
    tx: &mut Tx,
    vault: &Vault,
    env: &EnvironmentId,
) -> anyhow::Result<()> {
    let generated = tokio::task::spawn_blocking({
        let subject = format!("Keystead {env}");
        move || signing::generate(&subject)
    })
    .await??;
    sqlx::query(
        "insert into signing_keys (id, environment_id, private_key_enc, certificate_der) values ($1, $2, $3, $4)",
    )
    .bind(new_id(prefix::SIGNING_KEY))
    .bind(env)
    .bind(vault.seal(&generated.pkcs8_der)?)
    .bind(&generated.certificate_der)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// All environments, oldest first.
pub async fn list(conn: &mut PgConnection) -> anyhow::Result<Vec<Environment>> {
    Ok(sqlx::query_as(
        "select id, name, production, client_id, created_at from environments order by id",
    )
    .fetch_all(conn)
    .await?)
}

/// The environment with this id.
pub async fn find(
    conn: &mut PgConnection,
    id: &EnvironmentId,
) -> sqlx::Result<Option<Environment>> {
    sqlx::query_as(
        "select id, name, production, client_id, created_at from environments where id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The environment with this client id.
pub async fn find_by_client_id(
    conn: &mut PgConnection,
    client_id: &str,
) -> sqlx::Result<Option<Environment>> {
    sqlx::query_as(
        "select id, name, production, client_id, created_at from environments where client_id = $1",
    )
    .bind(client_id)
    .fetch_optional(conn)
    .await
}

/// The client id of the environment `id`.
pub async fn client_id(
    conn: &mut PgConnection,
    id: &EnvironmentId,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select client_id from environments where id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The environment's active signing keys, newest first (the first one signs).
pub async fn signing_keys(
    pool: &PgPool,
    vault: &Vault,
    env: &EnvironmentId,
) -> anyhow::Result<Vec<signing::SigningKey>> {
    let rows: Vec<(String, Vec<u8>, Vec<u8>)> = sqlx::query_as(
        "select id, private_key_enc, certificate_der from signing_keys
         where environment_id = $1 and retired_at is null order by id desc",
    )
    .bind(env)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(kid, enc, cert)| signing::SigningKey::from_parts(&kid, &vault.open(&enc)?, &cert))
        .collect()
}

/// What [`bootstrap`] did.
#[derive(Debug)]
pub enum Bootstrap {
    /// Environments already existed and nothing was requested.
    Existing,
    /// The requested key / client id is in place (created now or already there).
    Ensured(Environment),
    /// First start on an empty database: a default environment was created.
    Created(CreatedEnvironment),
}

/// Ensures the bootstrap environment: with `api_key` and/or `client_id`, an environment having
/// exactly those (created if missing, key added if missing); with neither, a default staging
/// environment on an empty database. Idempotent; serialized by an advisory lock so replicas
/// starting together create one environment.
pub async fn bootstrap(
    pool: &PgPool,
    vault: &Vault,
    api_key: Option<&str>,
    client_id: Option<&str>,
) -> anyhow::Result<Bootstrap> {
    let mut tx = pool.begin().await?;
    sqlx::query("select pg_advisory_xact_lock(7001)")
        .execute(&mut *tx)
        .await?;
    let production = api_key.is_some_and(|k| k.starts_with("sk_live_"));
    let by_key: Option<String> = match api_key {
        Some(k) => {
            sqlx::query_scalar("select environment_id from api_keys where key_hash = $1")
                .bind(crypto::sha256_hex(k))
                .fetch_optional(&mut *tx)
                .await?
        }
        None => None,
    };
    let by_client = match client_id {
        Some(c) => find_by_client_id(&mut tx, c).await?,
        None => None,
    };
    let outcome = match (api_key, client_id, by_key, by_client) {
        (None, None, _, _) => {
            let any: bool = sqlx::query_scalar("select exists(select 1 from environments)")
                .fetch_one(&mut *tx)
                .await?;
            if any {
                Bootstrap::Existing
            } else {
                Bootstrap::Created(create(&mut tx, vault, "Default", false, None, None).await?)
            }
        }
        (_, _, _, Some(env)) => {
            if let (Some(k), false) = (api_key, matches_env(&mut tx, api_key, &env.id).await?) {
                super::environment_keys::insert(&mut tx, &env.id, "Bootstrap key", k).await?;
            }
            Bootstrap::Ensured(env)
        }
        (Some(_), _, Some(env_id), None) => {
            let env: Environment =
                sqlx::query_as("select id, name, production, client_id, created_at from environments where id = $1")
                    .bind(&env_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if let Some(c) = client_id {
                anyhow::bail!(
                    "KEYSTEAD_BOOTSTRAP_API_KEY belongs to environment {} whose client id is {}, not {c}",
                    env.id,
                    env.client_id
                );
            }
            Bootstrap::Ensured(env)
        }
        (k, c, _, None) => Bootstrap::Ensured(
            create(&mut tx, vault, "Default", production, c, k)
                .await?
                .environment,
        ),
    };
    tx.commit().await?;
    Ok(outcome)
}

async fn matches_env(
    tx: &mut Tx,
    api_key: Option<&str>,
    env: &EnvironmentId,
) -> anyhow::Result<bool> {
    let Some(k) = api_key else { return Ok(true) };
    let owner: Option<EnvironmentId> =
        sqlx::query_scalar("select environment_id from api_keys where key_hash = $1")
            .bind(crypto::sha256_hex(k))
            .fetch_optional(&mut **tx)
            .await?;
    match owner {
        None => Ok(false),
        Some(o) if o == *env => Ok(true),
        Some(o) => anyhow::bail!("KEYSTEAD_BOOTSTRAP_API_KEY already belongs to environment {o}"),
    }
}
