//! `keystead environments …` (create, update settings, list), `keystead api-keys …` and
//! `keystead feature-flags …` (create, delete): tenant management against the same database the server uses (`DATABASE_URL` or the data dir),
//! whether or not it is running.
//!
//! With the embedded default and a server already running on the same data dir, the CLI
//! connects to that server's socket instead of starting a second cluster.

use anyhow::{Context, bail};
use serde_json::json;
use sqlx::ConnectOptions;

use crate::config::{ApiKeysCommand, DbArgs, EnvironmentsCommand, FeatureFlagsCommand};
use crate::crypto::{self, vault::Vault};
use crate::db::{self, Database};
use crate::ids::{EnvironmentId, EnvironmentKeyId};
use crate::store::{environment_keys, environment_settings, environments, feature_flags};

/// Opens the database for a CLI command: `DATABASE_URL`, the running server's embedded cluster,
/// or a freshly started one.
async fn open(args: &DbArgs) -> anyhow::Result<Database> {
    if args.database_url.is_none() {
        let sock = args.data_dir.join("postgres").join("sock");
        if sock.join(".s.PGSQL.5432").exists() {
            let opts = sqlx::postgres::PgConnectOptions::new()
                .socket(std::fs::canonicalize(&sock)?)
                .port(5432)
                .username("postgres")
                .database("keystead");
            if opts.connect().await.is_ok() {
                let pool = db::pool(opts).await?;
                db::MIGRATOR.run(&pool).await?;
                return Ok(Database {
                    pool,
                    embedded: None,
                });
            }
        }
    }
    db::open(args).await
}

/// Runs `keystead environments …`.
pub async fn environments(cmd: EnvironmentsCommand) -> anyhow::Result<()> {
    match cmd {
        EnvironmentsCommand::Create {
            name,
            production,
            json,
            db,
        } => {
            let database = open(&db).await?;
            let vault = Vault::load(db.encryption_key.as_deref(), &db.data_dir)?;
            let mut tx = database.pool.begin().await?;
            let created =
                environments::create(&mut tx, &vault, &name, production, None, None).await?;
            tx.commit().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&created)?);
            } else {
                println!("environment: {}", created.environment.id);
                println!("client id:   {}", created.environment.client_id);
                println!("API key:     {}   (shown once)", created.api_key);
            }
        }
        EnvironmentsCommand::Update {
            environment,
            set,
            json,
            db,
        } => {
            let env = parse_environment(&environment)?;
            let patch = crate::api::environment::parse_patch(&settings_object(&set)?)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let database = open(&db).await?;
            let mut tx = database.pool.begin().await?;
            if environments::find(&mut tx, &env).await?.is_none() {
                bail!("no environment {environment}");
            }
            let updated = environment_settings::update(&mut tx, &env, patch).await?;
            let s = &updated.stored;
            if let (Some(access), Some(session)) =
                (s.access_token_ttl_seconds, s.session_ttl_seconds)
                && session < access
            {
                bail!(
                    "session_ttl_seconds ({session}) must be at least access_token_ttl_seconds ({access})"
                );
            }
            tx.commit().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&updated.stored)?);
            } else {
                let map = serde_json::to_value(&updated.stored)?;
                for (k, v) in map.as_object().into_iter().flatten() {
                    println!(
                        "{k}: {}",
                        if v.is_null() {
                            "(default)".to_string()
                        } else {
                            v.to_string()
                        }
                    );
                }
            }
        }
        EnvironmentsCommand::List { json, db } => {
            let database = open(&db).await?;
            let mut conn = database.pool.acquire().await?;
            let list = environments::list(&mut conn).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for e in list {
                    let kind = if e.production {
                        "production"
                    } else {
                        "staging"
                    };
                    println!("{}  {}  {}  {}", e.id, e.client_id, kind, e.name);
                }
            }
        }
    }
    Ok(())
}

/// The `settings` object of `--set key=value` arguments: `null`, `true`/`false` and integers as
/// JSON, `sign_in_methods.oauth_providers` as a comma-separated list, anything else a string;
/// `sign_in_methods.<method>` keys nest.
fn settings_object(set: &[String]) -> anyhow::Result<serde_json::Value> {
    use serde_json::Value;
    let mut root = serde_json::Map::new();
    for item in set {
        let (key, raw) = item
            .split_once('=')
            .with_context(|| format!("--set {item}: expected KEY=VALUE"))?;
        let value = match raw {
            "null" => Value::Null,
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ if key == "sign_in_methods.oauth_providers" => Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            ),
            _ => raw
                .parse::<u64>()
                .map_or_else(|_| Value::String(raw.to_string()), Value::from),
        };
        match key.split_once('.') {
            Some((outer, inner)) => {
                let slot = root
                    .entry(outer.to_string())
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                match slot {
                    Value::Object(m) => {
                        m.insert(inner.to_string(), value);
                    }
                    _ => bail!("--set {item}: {outer} is not an object"),
                }
            }
            None => {
                root.insert(key.to_string(), value);
            }
        }
    }
    Ok(Value::Object(root))
}

/// An environment id given on the command line; a malformed one names no environment.
fn parse_environment(environment: &str) -> anyhow::Result<EnvironmentId> {
    EnvironmentId::parse_lenient(environment)
        .ok_or_else(|| anyhow::anyhow!("no environment {environment}"))
}

/// Runs `keystead api-keys …`.
pub async fn api_keys(cmd: ApiKeysCommand) -> anyhow::Result<()> {
    match cmd {
        ApiKeysCommand::Create {
            environment,
            name,
            json,
            db,
        } => {
            let environment = parse_environment(&environment)?;
            let database = open(&db).await?;
            let mut tx = database.pool.begin().await?;
            let production: Option<bool> =
                sqlx::query_scalar("select production from environments where id = $1")
                    .bind(&environment)
                    .fetch_optional(&mut *tx)
                    .await?;
            let production = production.with_context(|| format!("no environment {environment}"))?;
            let value = crypto::new_environment_key(production);
            let id = environment_keys::insert(&mut tx, &environment, &name, &value).await?;
            tx.commit().await?;
            if json {
                println!(
                    "{}",
                    json!({ "id": id, "environment_id": environment, "name": name, "api_key": value })
                );
            } else {
                println!("API key {id}: {value}   (shown once)");
            }
        }
        ApiKeysCommand::List {
            environment,
            json,
            db,
        } => {
            let environment = parse_environment(&environment)?;
            let database = open(&db).await?;
            let mut conn = database.pool.acquire().await?;
            let keys = environment_keys::list(&mut conn, &environment).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                for k in keys {
                    let state = if k.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!("{}  {}  {}  {}", k.id, k.obfuscated_value, state, k.name);
                }
            }
        }
        ApiKeysCommand::Revoke { id, db } => {
            let database = open(&db).await?;
            let mut conn = database.pool.acquire().await?;
            // An id that is not a `key_…` id names no key: the same answer as an unknown one.
            let revoked = match EnvironmentKeyId::parse_lenient(&id) {
                Some(key) => environment_keys::revoke(&mut conn, &key).await?,
                None => false,
            };
            if !revoked {
                bail!("no API key {id}");
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

/// Runs `keystead feature-flags …`: the same checks and events as `POST /feature-flags` and
/// `DELETE /feature-flags/{slug}`.
pub async fn feature_flags(cmd: FeatureFlagsCommand) -> anyhow::Result<()> {
    match cmd {
        FeatureFlagsCommand::Create {
            environment,
            slug,
            name,
            description,
            default_value,
            enabled,
            tags,
            json,
            db,
        } => {
            let env = parse_environment(&environment)?;
            let new = crate::api::feature_flags::parse_create(
                crate::api::feature_flags::CreateFeatureFlag {
                    slug,
                    name,
                    description,
                    default_value: Some(default_value),
                    enabled: Some(enabled),
                    tags: Some(tags),
                },
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let database = open(&db).await?;
            let mut tx = database.pool.begin().await?;
            if environments::find(&mut tx, &env).await?.is_none() {
                bail!("no environment {environment}");
            }
            let flag = feature_flags::insert(&mut tx, &env, &new)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            tx.commit().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&flag)?);
            } else {
                println!(
                    "feature flag {} ({}): enabled={} default_value={}",
                    flag.slug, flag.id, flag.enabled, flag.default_value
                );
            }
        }
        FeatureFlagsCommand::Delete {
            environment,
            slug,
            db,
        } => {
            let env = parse_environment(&environment)?;
            let database = open(&db).await?;
            let mut tx = database.pool.begin().await?;
            if crate::http::extract::has_nul(&slug)
                || feature_flags::delete(&mut tx, &env, &slug).await?.is_none()
            {
                bail!("no feature flag {slug} in environment {environment}");
            }
            tx.commit().await?;
            println!("deleted feature flag {slug}");
        }
    }
    Ok(())
}
