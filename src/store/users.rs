//! Users (spec tag `user-management.users`; schema `UserlandUser`) and their `user.*` events.
//! The password hash lives in its own column and never appears in [`User`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};

use super::metadata::MetadataChange;
use super::page::{ListParams, push_id_filter};
use crate::db::Tx;
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::{EnvironmentId, IdFilter, OrganizationId, UserId};
use crate::store::events::{self, names};

/// A user as the API returns it (`UserlandUser`); nullable keys are always present.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct User {
    /// Always `"user"`.
    #[sqlx(skip)]
    pub object: &'static str,
    /// `user_…`
    pub id: UserId,
    /// First name or `null`.
    pub first_name: Option<String>,
    /// Last name or `null`.
    pub last_name: Option<String>,
    /// Avatar URL or `null`.
    pub profile_picture_url: Option<String>,
    /// Email address, lowercased.
    pub email: EmailAddress,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// The caller's id for the user, or `null`.
    pub external_id: Option<String>,
    /// String-to-string metadata.
    #[sqlx(json)]
    pub metadata: Map<String, Value>,
    /// Last successful sign-in, or `null`.
    #[serde(with = "crate::timestamp::option")]
    pub last_sign_in_at: Option<DateTime<Utc>>,
    /// Preferred locale, or `null`.
    pub locale: Option<String>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// Columns of [`User`], for `select`/`returning`.
pub const COLUMNS: &str = "id, first_name, last_name, profile_picture_url, email, email_verified, external_id, \
                           metadata, last_sign_in_at, locale, created_at, updated_at";

fn tag(mut u: User) -> User {
    u.object = "user";
    u
}

/// Input of [`insert`], already validated; `password_hash` is a PHC string or imported hash.
#[derive(Debug, Default)]
pub struct NewUser {
    /// Email, lowercased.
    pub email: EmailAddress,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Avatar URL.
    pub profile_picture_url: Option<String>,
    /// External id.
    pub external_id: Option<String>,
    /// Metadata.
    pub metadata: Map<String, Value>,
    /// Locale.
    pub locale: Option<String>,
    /// Stored password hash.
    pub password_hash: Option<String>,
}

fn creation_error(code: &str, message: &str) -> ApiError {
    ApiError::BadRequest {
        code: Some("user_creation_error"),
        message: "Could not create user.".into(),
        errors: vec![json!({ "code": code, "message": message })],
    }
}

fn email_taken() -> ApiError {
    creation_error("email_not_available", "This email is not available.")
}

fn external_id_taken() -> ApiError {
    creation_error(
        "external_id_not_available",
        "This external_id is already used by another user.",
    )
}

/// Creates a user and records `user.created`.
///
/// Errors: 400 `user_creation_error` (`email_not_available`, `external_id_not_available`).
pub async fn insert(tx: &mut Tx, env: &EnvironmentId, new: NewUser) -> ApiResult<User> {
    insert_with_id(tx, env, &UserId::new(), new).await
}

/// Like [`insert`], with an id chosen earlier (a Magic Auth code names the user it will create).
pub async fn insert_with_id(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &UserId,
    new: NewUser,
) -> ApiResult<User> {
    let user: User = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into users (id, environment_id, email, email_verified, first_name, last_name, profile_picture_url,
           external_id, metadata, locale, password_hash)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning {COLUMNS}"
    )))
    .bind(id)
    .bind(env)
    .bind(&new.email)
    .bind(new.email_verified)
    .bind(&new.first_name)
    .bind(&new.last_name)
    .bind(&new.profile_picture_url)
    .bind(&new.external_id)
    .bind(Value::Object(new.metadata))
    .bind(&new.locale)
    .bind(&new.password_hash)
    .fetch_one(&mut **tx)
    .await
    .on_constraint("users_email_key", email_taken)
    .on_constraint("users_external_id_key", external_id_taken)?;
    let user = tag(user);
    events::record(tx, env, names::USER_CREATED, &user, None).await?;
    Ok(user)
}

/// One user by id.
pub async fn find(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    id: &UserId,
) -> ApiResult<Option<User>> {
    find_by(conn, env, "id", id).await
}

/// One user by external id.
pub async fn find_by_external_id(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    external_id: &str,
) -> ApiResult<Option<User>> {
    find_by(conn, env, "external_id", external_id).await
}

/// One user by email (case-insensitive: emails are stored lowercased).
pub async fn find_by_email(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    email: &EmailAddress,
) -> ApiResult<Option<User>> {
    find_by(conn, env, "email", email).await
}

/// Holds, until `tx` ends, the lock every "find the user of this email, else create it" takes
/// first, so two concurrent sign-ins or Magic Auth sends for a new email create one user rather
/// than one of them failing on the unique email (the second finds the first's user once it
/// commits). A transaction-scoped advisory lock on `(environment, email)`; nothing else waits.
pub async fn lock_email(tx: &mut Tx, env: &EnvironmentId, email: &EmailAddress) -> ApiResult<()> {
    sqlx::query("select pg_advisory_xact_lock(7002, hashtext($1 || ' ' || $2))")
        .bind(env)
        .bind(email)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn find_by(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    column: &str,
    value: &str,
) -> ApiResult<Option<User>> {
    let row: Option<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from users where environment_id = $1 and {column} = $2"
    )))
    .bind(env)
    .bind(value)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(tag))
}

/// The users with these ids (any order; unknown ids are skipped).
pub async fn find_many(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    ids: &[UserId],
) -> ApiResult<Vec<User>> {
    let rows: Vec<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from users where environment_id = $1 and id = any($2)"
    )))
    .bind(env)
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(tag).collect())
}

/// A user's id and stored password hash, looked up by email (for the password grant).
pub async fn credentials_by_email(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    email: &EmailAddress,
) -> ApiResult<Option<(UserId, Option<String>)>> {
    Ok(sqlx::query_as(
        "select id, password_hash from users where environment_id = $1 and email = $2",
    )
    .bind(env)
    .bind(email)
    .fetch_optional(conn)
    .await?)
}

/// Filters of `GET /user_management/users`.
#[derive(Debug, Default)]
pub struct UserFilter {
    /// Exact email (case-insensitive).
    pub email: Option<EmailAddress>,
    /// Users with a membership in this organization.
    pub organization_id: Option<IdFilter<OrganizationId>>,
}

/// One page (`limit + 1` rows) of users.
pub async fn list(
    conn: &mut PgConnection,
    env: &EnvironmentId,
    filter: &UserFilter,
    params: &ListParams,
) -> ApiResult<Vec<User>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {COLUMNS} from users u where environment_id = "
    ));
    qb.push_bind(env.to_string());
    if let Some(email) = &filter.email {
        qb.push(" and email = ").push_bind(email.clone());
    }
    if let Some(org) = &filter.organization_id {
        qb.push(
            " and exists(select 1 from organization_memberships m where m.environment_id = u.environment_id
               and m.user_id = u.id",
        );
        push_id_filter(&mut qb, "m.organization_id", Some(org));
        qb.push(")");
    }
    params.push_keyset(&mut qb, "id");
    let rows: Vec<User> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(tag).collect())
}

/// Changes of [`update`]; `None` leaves a field as it is, `Some(None)` clears a nullable one.
#[derive(Debug, Default)]
pub struct UserChanges {
    /// New email (lowercased).
    pub email: Option<EmailAddress>,
    /// New verification flag.
    pub email_verified: Option<bool>,
    /// New first name.
    pub first_name: Option<Option<String>>,
    /// New last name.
    pub last_name: Option<Option<String>>,
    /// New external id.
    pub external_id: Option<Option<String>>,
    /// Metadata change, applied to the row read under `for update`.
    pub metadata: Option<MetadataChange>,
    /// New locale.
    pub locale: Option<Option<String>>,
    /// New stored password hash.
    pub password_hash: Option<String>,
}

/// Applies `changes` and records `user.updated`; 404 when absent.
///
/// Errors: 400 `email_not_available` when the email belongs to another user; 400
/// `user_creation_error` for a taken external id.
pub async fn update(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &UserId,
    c: UserChanges,
) -> ApiResult<User> {
    let metadata = match c.metadata {
        None => None,
        Some(change) => {
            let stored: Value = sqlx::query_scalar(
                "select metadata from users where environment_id = $1 and id = $2 for update",
            )
            .bind(env)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| ApiError::not_found("User", id.as_str()))?;
            Some(change.apply(&super::string_map(stored))?)
        }
    };
    let row: Option<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update users set
           email = coalesce($3, email),
           email_verified = coalesce($4, email_verified),
           first_name = case when $5 then $6 else first_name end,
           last_name = case when $7 then $8 else last_name end,
           external_id = case when $9 then $10 else external_id end,
           metadata = coalesce($11, metadata),
           locale = case when $12 then $13 else locale end,
           password_hash = coalesce($14, password_hash)
         where environment_id = $1 and id = $2 returning {COLUMNS}"
    )))
    .bind(env)
    .bind(id)
    .bind(c.email)
    .bind(c.email_verified)
    .bind(c.first_name.is_some())
    .bind(c.first_name.flatten())
    .bind(c.last_name.is_some())
    .bind(c.last_name.flatten())
    .bind(c.external_id.is_some())
    .bind(c.external_id.flatten())
    .bind(metadata.map(Value::Object))
    .bind(c.locale.is_some())
    .bind(c.locale.flatten())
    .bind(c.password_hash)
    .fetch_optional(&mut **tx)
    .await
    .on_constraint("users_email_key", || {
        ApiError::bad_request("email_not_available", "This email is not available.")
    })
    .on_constraint("users_external_id_key", external_id_taken)?;
    let user = tag(row.ok_or_else(|| ApiError::not_found("User", id.as_str()))?);
    events::record(tx, env, names::USER_UPDATED, &user, None).await?;
    Ok(user)
}

/// Sets `last_sign_in_at = now()` without an event (sign-ins have their own events).
pub async fn touch_sign_in(tx: &mut Tx, env: &EnvironmentId, id: &UserId) -> ApiResult<User> {
    let row: Option<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update users set last_sign_in_at = now() where environment_id = $1 and id = $2 returning {COLUMNS}"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(tag)
        .ok_or_else(|| ApiError::not_found("User", id.as_str()))
}

/// Replaces a user's stored password hash (e.g. an imported hash upgraded to argon2id), no event.
pub async fn set_password_hash(
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &UserId,
    hash: &str,
) -> ApiResult<()> {
    sqlx::query("update users set password_hash = $3 where environment_id = $1 and id = $2")
        .bind(env)
        .bind(id)
        .bind(hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes a user row (sessions cascade) and records `user.deleted`. Callers use
/// [`super::organization_memberships::delete_user`], which first deletes the user's memberships
/// with their `organization_membership.deleted` events.
pub(super) async fn delete(tx: &mut Tx, env: &EnvironmentId, id: &UserId) -> ApiResult<()> {
    let row: Option<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "delete from users where environment_id = $1 and id = $2 returning {COLUMNS}"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let user = tag(row.ok_or_else(|| ApiError::not_found("User", id.as_str()))?);
    events::record(tx, env, names::USER_DELETED, &user, None).await?;
    Ok(())
}
