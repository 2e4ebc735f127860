//! Sessions and their rotating refresh tokens (spec tag `user-management.sessions`; the session
//! object of `GET /user_management/users/{id}/sessions` and `session.*` events).
//!
//! Refresh tokens are opaque random strings stored as SHA-256 digests; each use marks the token
//! used and issues a new one ([`rotate`]). A session started by a public client (PKCE, no client
//! secret) records that client's id, and its tokens may be presented by that client alone,
//! without a secret ([`Presenter::Public`]).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};

use super::page::ListParams;
use crate::crypto::{random_token, sha256_hex};
use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::ids::new_id;
use crate::ids::{EnvironmentId, OrganizationId, SessionId, UserId};
use crate::store::events::{self, names};

/// A session as the API and `session.*` events show it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Session {
    /// Always `"session"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// `session_…`
    pub id: SessionId,
    /// IP address the session was created from, or `null`.
    pub ip_address: Option<String>,
    /// The organization the session is scoped to; omitted when unscoped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<OrganizationId>,
    /// User agent the session was created from, or `null`.
    pub user_agent: Option<String>,
    /// The user.
    pub user_id: UserId,
    /// `password`, `magic_code`, `sso`, … (session vocabulary, WORKOS-API-NOTES §3.2).
    pub auth_method: String,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    /// When the session (and its refresh tokens) expire.
    #[serde(with = "crate::timestamp")]
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, or `null`.
    #[serde(with = "crate::timestamp::option")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// Columns of [`Session`]; an active session past `expires_at` reads as `expired`.
const COLUMNS: &str = "id, ip_address, organization_id, user_agent, user_id, auth_method, \
     case when status = 'active' and expires_at <= now() then 'expired' else status end as status, \
     expires_at, ended_at, created_at, updated_at";

fn tag(mut s: Session) -> Session {
    s.object = "session";
    s
}

/// Input of [`create`].
#[derive(Debug)]
pub struct NewSession<'a> {
    /// The user signing in.
    pub user_id: &'a UserId,
    /// Organization scope, if any.
    pub organization_id: Option<&'a OrganizationId>,
    /// Session vocabulary auth method (`password`, …).
    pub auth_method: &'a str,
    /// End user's IP address, as the caller reported it.
    pub ip_address: Option<&'a str>,
    /// End user's user agent, as the caller reported it.
    pub user_agent: Option<&'a str>,
    /// Lifetime.
    pub ttl: std::time::Duration,
    /// The client id of the public client (PKCE, no secret) that started it, if one did: that
    /// client may refresh without a secret.
    pub public_client_id: Option<&'a str>,
}

/// Creates an active session with its first refresh token; records `session.created`.
/// Returns the session and the refresh token's value (shown once).
pub async fn create(
    tx: &mut Tx,
    env: &EnvironmentId,
    new: NewSession<'_>,
) -> ApiResult<(Session, String)> {
    let ttl = chrono::Duration::from_std(new.ttl).map_err(anyhow::Error::from)?;
    let session: Session = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into sessions (id, environment_id, user_id, organization_id, auth_method, status, ip_address,
           user_agent, expires_at, public_client_id)
         values ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $9) returning {COLUMNS}"
    )))
    .bind(SessionId::new())
    .bind(env)
    .bind(new.user_id)
    .bind(new.organization_id)
    .bind(new.auth_method)
    .bind(new.ip_address)
    .bind(new.user_agent)
    .bind(Utc::now() + ttl)
    .bind(new.public_client_id)
    .fetch_one(&mut **tx)
    .await?;
    let session = tag(session);
    let token = insert_refresh_token(tx, env, &session.id).await?;
    events::record(
        tx,
        env,
        names::SESSION_CREATED,
        &session,
        session.organization_id.as_ref(),
    )
    .await?;
    Ok((session, token))
}

async fn insert_refresh_token(
    tx: &mut Tx,
    env: &EnvironmentId,
    session_id: &SessionId,
) -> ApiResult<String> {
    let token = random_token(32);
    sqlx::query("insert into refresh_tokens (id, environment_id, session_id, token_hash) values ($1, $2, $3, $4)")
        .bind(new_id("refresh_token"))
        .bind(env)
        .bind(session_id)
        .bind(sha256_hex(&token))
        .execute(&mut **tx)
        .await?;
    Ok(token)
}

/// What presenting a refresh token led to.
#[derive(Debug)]
pub enum Rotation {
    /// Valid: the old token is spent, here is the session and the new token's value.
    Rotated(Box<Session>, String),
    /// Unknown token, or its session has ended or expired.
    Invalid,
    /// A spent token was replayed after the grace window: the session has been revoked.
    ReuseDetected,
    /// Presented without a secret by a client that did not start the token's session as a
    /// public client (or an unknown token presented so): nothing was changed.
    ClientUnauthenticated,
}

/// Who presents a refresh token.
#[derive(Debug, Clone, Copy)]
pub enum Presenter<'a> {
    /// A client that authenticated with its secret: any token of the environment.
    Confidential,
    /// A client with this client id and no secret: only tokens of sessions it started as a
    /// public client.
    Public(&'a str),
}

/// Spends a refresh token and issues its successor.
///
/// A token already spent less than `grace` ago is accepted again (parallel refreshes from two
/// tabs); after that a replay revokes the whole session (refresh-token reuse detection). A
/// [`Presenter::Public`] client is checked first: a token that is not of a session it started
/// is refused before anything else is looked at or changed.
pub async fn rotate(
    tx: &mut Tx,
    env: &EnvironmentId,
    token: &str,
    grace: std::time::Duration,
    presenter: Presenter<'_>,
) -> ApiResult<Rotation> {
    type Row = (String, SessionId, Option<DateTime<Utc>>, Option<String>);
    let row: Option<Row> = sqlx::query_as(
        "select t.id, t.session_id, t.used_at, s.public_client_id from refresh_tokens t
         join sessions s on s.environment_id = t.environment_id and s.id = t.session_id
         where t.environment_id = $1 and t.token_hash = $2 for update of t",
    )
    .bind(env)
    .bind(sha256_hex(token))
    .fetch_optional(&mut **tx)
    .await?;
    if let Presenter::Public(client_id) = presenter {
        let started_by = row.as_ref().and_then(|(.., public)| public.as_deref());
        if started_by != Some(client_id) {
            return Ok(Rotation::ClientUnauthenticated);
        }
    }
    let Some((token_id, session_id, used_at, _)) = row else {
        return Ok(Rotation::Invalid);
    };
    let Some(session) = find(tx, env, &session_id).await? else {
        return Ok(Rotation::Invalid);
    };
    if session.status != "active" {
        return Ok(Rotation::Invalid);
    }
    if let Some(used) = used_at {
        let grace = chrono::Duration::from_std(grace).map_err(anyhow::Error::from)?;
        if Utc::now() - used > grace {
            revoke(tx, env, &session_id).await?;
            return Ok(Rotation::ReuseDetected);
        }
    } else {
        sqlx::query("update refresh_tokens set used_at = now() where id = $1")
            .bind(&token_id)
            .execute(&mut **tx)
            .await?;
    }
    let next = insert_refresh_token(tx, env, &session_id).await?;
    Ok(Rotation::Rotated(Box::new(session), next))
}

/// Re-scopes a session to an organization (refresh with `organization_id`).
pub async fn set_organization(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &SessionId,
    organization_id: &OrganizationId,
) -> ApiResult<Session> {
    let row: Option<Session> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update sessions set organization_id = $3 where environment_id = $1 and id = $2 returning {COLUMNS}"
    )))
    .bind(env)
    .bind(id)
    .bind(organization_id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(tag)
        .ok_or_else(|| ApiError::not_found("Session", id.as_str()))
}

/// One session by id.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &SessionId,
) -> ApiResult<Option<Session>> {
    let row: Option<Session> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from sessions where environment_id = $1 and id = $2"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(tag))
}

/// A session by id in whichever environment holds it, with that environment's id. Only for the
/// public `GET /user_management/sessions/logout`, which names a session and nothing else (ids are
/// globally unique).
pub async fn find_anywhere(
    conn: &mut PgConnection,
    id: &SessionId,
) -> ApiResult<Option<(EnvironmentId, Session)>> {
    let env: Option<EnvironmentId> =
        sqlx::query_scalar("select environment_id from sessions where id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(env) = env else {
        return Ok(None);
    };
    Ok(find(conn, &env, id).await?.map(|s| (env, s)))
}

/// Revokes a session (its refresh tokens stop working); records `session.revoked` the first
/// time. Returns the session; 404 when absent.
pub async fn revoke(tx: &mut Tx, env: &EnvironmentId, id: &SessionId) -> ApiResult<Session> {
    let row: Option<Session> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update sessions set status = 'revoked', ended_at = now()
         where environment_id = $1 and id = $2 and status = 'active' returning {COLUMNS}"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some(s) => {
            let s = tag(s);
            events::record(
                tx,
                env,
                names::SESSION_REVOKED,
                &s,
                s.organization_id.as_ref(),
            )
            .await?;
            Ok(s)
        }
        None => find(tx, env, id)
            .await?
            .ok_or_else(|| ApiError::not_found("Session", id.as_str())),
    }
}

/// Revokes every active session of a user (e.g. after a password reset); records one
/// `session.revoked` each.
pub async fn revoke_all_for_user(
    tx: &mut Tx,
    env: &EnvironmentId,
    user_id: &UserId,
) -> ApiResult<usize> {
    let ids: Vec<SessionId> = sqlx::query_scalar(
        "select id from sessions where environment_id = $1 and user_id = $2 and status = 'active'",
    )
    .bind(env)
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await?;
    for id in &ids {
        revoke(tx, env, id).await?;
    }
    Ok(ids.len())
}

/// One page (`limit + 1` rows) of a user's sessions.
pub async fn list_for_user(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    user_id: &UserId,
    params: &ListParams,
) -> ApiResult<Vec<Session>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {COLUMNS} from sessions where environment_id = "
    ));
    qb.push_bind(env.to_string())
        .push(" and user_id = ")
        .push_bind(user_id.to_string());
    params.push_keyset(&mut qb, "id");
    let rows: Vec<Session> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(tag).collect())
}
