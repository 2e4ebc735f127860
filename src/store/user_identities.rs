//! Identities a user holds at upstream OAuth providers and enterprise SSO connections (`GET
//! /user_management/users/{id}/identities`; items `{idp_id, type: "OAuth" | "SSO", provider}`). Written
//! by OAuth sign-ins and by SSO logins through `/user_management/authorize`; read by the
//! identities endpoint and by those logins to find the user again.
//!
//! OAuth provider identities are unique per `(provider, idp_id)`; identities from SAML/OIDC
//! connections carry their `connection_id` and are unique per `(connection_id, idp_id)`.

use serde::Serialize;
use sqlx::{FromRow, PgConnection};

use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::{EnvironmentId, IdentityId, UserId};

/// An identity as the API returns it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Identity {
    /// The user's id at the provider.
    pub idp_id: String,
    /// `"OAuth"`, or `"SSO"` for an enterprise (SAML/OIDC) connection.
    #[serde(rename = "type")]
    pub kind: String,
    /// `GoogleOAuth`, `MicrosoftOAuth`, `GithubOAuth`, …; the connection type for `SSO`.
    pub provider: String,
}

/// The user's identities, oldest first.
pub async fn list_for_user(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    user_id: &UserId,
) -> ApiResult<Vec<Identity>> {
    Ok(sqlx::query_as(
        "select idp_id, case when connection_id is null then 'OAuth' else 'SSO' end as kind, provider
         from user_identities where environment_id = $1 and user_id = $2 order by id",
    )
    .bind(env)
    .bind(user_id)
    .fetch_all(conn)
    .await?)
}

/// Links a provider identity to a user (idempotent per provider and `idp_id`).
pub async fn link(
    tx: &mut Tx,
    env: &EnvironmentId,
    user_id: &UserId,
    provider: &str,
    idp_id: &str,
) -> ApiResult<()> {
    sqlx::query(
        "insert into user_identities (id, environment_id, user_id, provider, idp_id) values ($1, $2, $3, $4, $5)
         on conflict (environment_id, provider, idp_id) where connection_id is null
         do update set user_id = excluded.user_id",
    )
    .bind(IdentityId::new())
    .bind(env)
    .bind(user_id)
    .bind(provider)
    .bind(idp_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Where an identity is unique: an OAuth provider (`GoogleOAuth`, …) or one SSO connection.
#[derive(Debug, Clone, Copy)]
pub enum Issuer<'a> {
    /// An OAuth provider, environment-wide.
    Provider(&'a str),
    /// An enterprise connection `(connection_id, connection_type)`.
    Connection(&'a str, &'a str),
}

/// The user holding the identity `idp_id` at `issuer`.
pub async fn find_user(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    issuer: Issuer<'_>,
    idp_id: &str,
) -> ApiResult<Option<UserId>> {
    let q = match issuer {
        Issuer::Provider(p) => sqlx::query_scalar(
            "select user_id from user_identities where environment_id = $1 and connection_id is null
               and provider = $2 and idp_id = $3",
        )
        .bind(env)
        .bind(p),
        Issuer::Connection(c, _) => sqlx::query_scalar(
            "select user_id from user_identities where environment_id = $1 and connection_id = $2
               and idp_id = $3",
        )
        .bind(env)
        .bind(c),
    };
    Ok(q.bind(idp_id).fetch_optional(conn).await?)
}

/// Links `idp_id` at `issuer` to a user (the identity moves to `user_id` if held by another).
pub async fn link_issuer(
    tx: &mut Tx,
    env: &EnvironmentId,
    user_id: &UserId,
    issuer: Issuer<'_>,
    idp_id: &str,
) -> ApiResult<()> {
    match issuer {
        Issuer::Provider(p) => link(tx, env, user_id, p, idp_id).await,
        Issuer::Connection(c, kind) => {
            sqlx::query(
                "insert into user_identities (id, environment_id, user_id, provider, idp_id, connection_id)
                 values ($1, $2, $3, $4, $5, $6)
                 on conflict (environment_id, connection_id, idp_id) where connection_id is not null
                 do update set user_id = excluded.user_id",
            )
            .bind(IdentityId::new())
            .bind(env)
            .bind(user_id)
            .bind(kind)
            .bind(idp_id)
            .bind(c)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }
    }
}
