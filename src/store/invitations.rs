//! Invitations (spec tag `user-management.invitations`; schema `UserlandUserInvite`) and their
//! `invitation.*` events, which leave out `token` and `accept_invitation_url` (WORKOS-API-NOTES
//! §8 item 8).
//!
//! The token is stored as a SHA-256 digest (for `by_token` lookups) and sealed with the vault, as
//! every read of the invitation returns it. A pending invitation past `expires_at` reads as
//! `expired`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};

use super::page::{ListParams, push_id_filter};
use crate::crypto::vault::Vault;
use crate::crypto::{random_token, sha256_hex};
use crate::db::Tx;
use crate::email::EmailAddress;
use crate::error::{ApiError, ApiResult, ResultExt};
use crate::ids::{EnvironmentId, IdFilter, InvitationId, OrganizationId, UserId};
use crate::store::events::{self, EventName, names};

/// An invitation as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    /// Always `"invitation"`.
    pub object: &'static str,
    /// `invitation_…`
    pub id: InvitationId,
    /// The invitee's email, lowercased.
    pub email: EmailAddress,
    /// `pending`, `accepted`, `expired` or `revoked`.
    pub state: String,
    /// When it was accepted, or `null`.
    #[serde(with = "crate::timestamp::option")]
    pub accepted_at: Option<DateTime<Utc>>,
    /// When it was revoked, or `null`.
    #[serde(with = "crate::timestamp::option")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it stops being acceptable.
    #[serde(with = "crate::timestamp")]
    pub expires_at: DateTime<Utc>,
    /// The organization the invitee joins, or `null`.
    pub organization_id: Option<OrganizationId>,
    /// The user who invited, or `null`.
    pub inviter_user_id: Option<UserId>,
    /// The user who accepted, or `null`.
    pub accepted_user_id: Option<UserId>,
    /// The role the membership gets, or `null` (the default role).
    pub role_slug: Option<String>,
    /// Creation time.
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
    /// The secret token (also in `accept_invitation_url`).
    pub token: String,
    /// `{public_url}/user_management/invitations/accept?token=…`
    pub accept_invitation_url: String,
}

/// The `invitation.*` event payload: the invitation without its token and URL.
#[derive(Debug, Serialize)]
struct InvitationEvent<'a> {
    object: &'static str,
    id: &'a InvitationId,
    email: &'a str,
    state: &'a str,
    #[serde(with = "crate::timestamp::option")]
    accepted_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::timestamp::option")]
    revoked_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::timestamp")]
    expires_at: DateTime<Utc>,
    organization_id: &'a Option<OrganizationId>,
    inviter_user_id: &'a Option<UserId>,
    accepted_user_id: &'a Option<UserId>,
    role_slug: &'a Option<String>,
    #[serde(with = "crate::timestamp")]
    created_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp")]
    updated_at: DateTime<Utc>,
}

async fn record(
    tx: &mut Tx,
    env: &EnvironmentId,
    name: EventName,
    i: &Invitation,
) -> ApiResult<()> {
    let event = InvitationEvent {
        object: "invitation",
        id: &i.id,
        email: &i.email,
        state: &i.state,
        accepted_at: i.accepted_at,
        revoked_at: i.revoked_at,
        expires_at: i.expires_at,
        organization_id: &i.organization_id,
        inviter_user_id: &i.inviter_user_id,
        accepted_user_id: &i.accepted_user_id,
        role_slug: &i.role_slug,
        created_at: i.created_at,
        updated_at: i.updated_at,
    };
    events::record(tx, env, name, &event, i.organization_id.as_ref()).await
}

#[derive(Debug, FromRow)]
struct Row {
    id: InvitationId,
    email: EmailAddress,
    state: String,
    accepted_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    expires_at: DateTime<Utc>,
    organization_id: Option<OrganizationId>,
    inviter_user_id: Option<UserId>,
    accepted_user_id: Option<UserId>,
    role_slug: Option<String>,
    token_sealed: Vec<u8>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, email, \
     case when state = 'pending' and expires_at <= now() then 'expired' else state end as state, \
     accepted_at, revoked_at, expires_at, organization_id, inviter_user_id, accepted_user_id, role_slug, \
     token_sealed, created_at, updated_at";

/// Where invitation links point and the key that opens stored tokens.
#[derive(Debug, Clone, Copy)]
pub struct Links<'a> {
    /// Unseals stored tokens.
    pub vault: &'a Vault,
    /// The server's public base URL.
    pub public_url: &'a str,
}

impl Links<'_> {
    fn build(&self, r: Row) -> ApiResult<Invitation> {
        let token =
            String::from_utf8(self.vault.open(&r.token_sealed)?).map_err(anyhow::Error::from)?;
        let accept_invitation_url = format!(
            "{}/user_management/invitations/accept?token={token}",
            self.public_url
        );
        Ok(Invitation {
            object: "invitation",
            id: r.id,
            email: r.email,
            state: r.state,
            accepted_at: r.accepted_at,
            revoked_at: r.revoked_at,
            expires_at: r.expires_at,
            organization_id: r.organization_id,
            inviter_user_id: r.inviter_user_id,
            accepted_user_id: r.accepted_user_id,
            role_slug: r.role_slug,
            created_at: r.created_at,
            updated_at: r.updated_at,
            token,
            accept_invitation_url,
        })
    }
}

/// Input of [`insert`], already validated.
#[derive(Debug)]
pub struct NewInvitation {
    /// Lowercased email.
    pub email: EmailAddress,
    /// Organization to join.
    pub organization_id: Option<OrganizationId>,
    /// Role for the membership.
    pub role_slug: Option<String>,
    /// Who invites.
    pub inviter_user_id: Option<UserId>,
    /// Lifetime in days.
    pub expires_in_days: i64,
    /// Email locale.
    pub locale: Option<String>,
}

/// Creates a pending invitation and records `invitation.created`. A pending invitation of the
/// same email and organization that has expired is marked `expired` first.
///
/// Errors: 400 `email_already_invited_to_organization` / `email_already_invited`.
pub async fn insert(
    tx: &mut Tx,
    links: Links<'_>,
    env: &EnvironmentId,
    new: NewInvitation,
) -> ApiResult<Invitation> {
    sqlx::query(
        "update invitations set state = 'expired' where environment_id = $1 and email = $2
           and coalesce(organization_id, '') = coalesce($3, '') and state = 'pending' and expires_at <= now()",
    )
    .bind(env)
    .bind(&new.email)
    .bind(&new.organization_id)
    .execute(&mut **tx)
    .await?;
    let token = random_token(24);
    let (code, message) = if new.organization_id.is_some() {
        (
            "email_already_invited_to_organization",
            "An invitation for this email to this organization is already pending.",
        )
    } else {
        (
            "email_already_invited",
            "An invitation for this email is already pending.",
        )
    };
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into invitations (id, environment_id, email, state, expires_at, organization_id, inviter_user_id,
           role_slug, locale, token_hash, token_sealed)
         values ($1, $2, $3, 'pending', now() + make_interval(days => $4::int), $5, $6, $7, $8, $9, $10)
         returning {COLUMNS}"
    )))
    .bind(InvitationId::new())
    .bind(env)
    .bind(&new.email)
    .bind(i32::try_from(new.expires_in_days).unwrap_or(7))
    .bind(&new.organization_id)
    .bind(&new.inviter_user_id)
    .bind(&new.role_slug)
    .bind(&new.locale)
    .bind(sha256_hex(&token))
    .bind(links.vault.seal(token.as_bytes())?)
    .fetch_one(&mut **tx)
    .await
    .on_constraint("invitations_pending_key", || ApiError::bad_request(code, message))?;
    let invitation = links.build(row)?;
    record(tx, env, names::INVITATION_CREATED, &invitation).await?;
    Ok(invitation)
}

/// One invitation by id.
pub async fn find(
    conn: &mut PgConnection,
    links: Links<'_>,
    env: &EnvironmentId,
    id: &InvitationId,
) -> ApiResult<Option<Invitation>> {
    find_by(conn, links, env, "id", id).await
}

/// One invitation by its token.
pub async fn find_by_token(
    conn: &mut PgConnection,
    links: Links<'_>,
    env: &EnvironmentId,
    token: &str,
) -> ApiResult<Option<Invitation>> {
    find_by(conn, links, env, "token_hash", &sha256_hex(token)).await
}

async fn find_by(
    conn: &mut PgConnection,
    links: Links<'_>,
    env: &EnvironmentId,
    column: &str,
    value: &str,
) -> ApiResult<Option<Invitation>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from invitations where environment_id = $1 and {column} = $2"
    )))
    .bind(env)
    .bind(value)
    .fetch_optional(conn)
    .await?;
    row.map(|r| links.build(r)).transpose()
}

/// Filters of `GET /user_management/invitations`.
#[derive(Debug, Default)]
pub struct InvitationFilter {
    /// Invitations to this organization.
    pub organization_id: Option<IdFilter<OrganizationId>>,
    /// Invitations of this email.
    pub email: Option<EmailAddress>,
}

/// One page (`limit + 1` rows) of invitations.
pub async fn list(
    conn: &mut PgConnection,
    links: Links<'_>,
    env: &EnvironmentId,
    filter: &InvitationFilter,
    params: &ListParams,
) -> ApiResult<Vec<Invitation>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {COLUMNS} from invitations where environment_id = "
    ));
    qb.push_bind(env.to_string());
    push_id_filter(&mut qb, "organization_id", filter.organization_id.as_ref());
    if let Some(email) = &filter.email {
        qb.push(" and email = ").push_bind(email.clone());
    }
    params.push_keyset(&mut qb, "id");
    let rows: Vec<Row> = qb.build_query_as().fetch_all(conn).await?;
    rows.into_iter().map(|r| links.build(r)).collect()
}

/// The invitation, locked for the rest of the transaction; 404 when absent.
pub async fn lock(
    tx: &mut Tx,
    links: Links<'_>,
    env: &EnvironmentId,
    id: &InvitationId,
) -> ApiResult<Invitation> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from invitations where environment_id = $1 and id = $2 for update"
    )))
    .bind(env)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| links.build(r))
        .transpose()?
        .ok_or_else(|| ApiError::not_found("Invitation", id.as_str()))
}

/// 400 for an invitation that is no longer pending: `invite_expired`, `invite_revoked` or
/// `invite_accepted`, or `fallback` when given (the spec's code for the operation).
pub fn not_pending(i: &Invitation, fallback: Option<&'static str>) -> ApiError {
    let (code, message) = match i.state.as_str() {
        "expired" => ("invite_expired", "The invitation has expired."),
        "revoked" => ("invite_revoked", "The invitation has been revoked."),
        _ => (
            "invite_accepted",
            "The invitation has already been accepted.",
        ),
    };
    ApiError::bad_request(fallback.unwrap_or(code), message)
}

async fn update(
    tx: &mut Tx,
    links: Links<'_>,
    env: &EnvironmentId,
    id: &InvitationId,
    set: &str,
    user: Option<&str>,
) -> ApiResult<Invitation> {
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update invitations set {set} where environment_id = $1 and id = $2 returning {COLUMNS}"
    )))
    .bind(env)
    .bind(id)
    .bind(user)
    .fetch_one(&mut **tx)
    .await?;
    links.build(row)
}

/// Marks a pending invitation accepted by `user_id`; records `invitation.accepted`.
pub async fn accept(
    tx: &mut Tx,
    links: Links<'_>,
    env: &EnvironmentId,
    id: &InvitationId,
    user_id: &UserId,
) -> ApiResult<Invitation> {
    let i = update(
        tx,
        links,
        env,
        id,
        "state = 'accepted', accepted_at = now(), accepted_user_id = $3",
        Some(user_id.as_str()),
    )
    .await?;
    record(tx, env, names::INVITATION_ACCEPTED, &i).await?;
    Ok(i)
}

/// Revokes a pending invitation; records `invitation.revoked`.
pub async fn revoke(
    tx: &mut Tx,
    links: Links<'_>,
    env: &EnvironmentId,
    id: &InvitationId,
) -> ApiResult<Invitation> {
    let i = update(
        tx,
        links,
        env,
        id,
        "state = 'revoked', revoked_at = now(), accepted_user_id = coalesce($3, accepted_user_id)",
        None,
    )
    .await?;
    record(tx, env, names::INVITATION_REVOKED, &i).await?;
    Ok(i)
}

/// Records `invitation.resent` (and touches `updated_at`, optionally changing the locale).
pub async fn resent(
    tx: &mut Tx,
    links: Links<'_>,
    env: &EnvironmentId,
    id: &InvitationId,
    locale: Option<&str>,
) -> ApiResult<Invitation> {
    let i = update(tx, links, env, id, "locale = coalesce($3, locale)", locale).await?;
    record(tx, env, names::INVITATION_RESENT, &i).await?;
    Ok(i)
}
