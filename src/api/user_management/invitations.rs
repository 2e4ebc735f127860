//! `/user_management/invitations`: send, list (by `organization_id`, `email`), get, find by
//! token, accept, resend, revoke. Spec tag `user-management.invitations` (operations
//! `UserlandUserInvitesController_*`).
//!
//! Invitations live 7 days unless `expires_in_days` (1–30) says otherwise. Inviting an existing
//! user to an organization creates a `pending` membership that acceptance activates and
//! revocation removes. Accepting creates the user when needed. The password and Magic Auth
//! grants accept an `invitation_token` as part of signing in ([`accept_for_sign_in`]).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::auth;
use crate::db::Tx;
use crate::email::{Email, EmailAddress};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::has_nul;
use crate::http::{AppJson, Env, IdPath, List, ListParams, Order, QueryMap};
use crate::ids::EnvironmentId;
use crate::ids::{IdFilter, InvitationId, OrganizationId, UserId};
use crate::state::AppState;
use crate::store::email_outbox;
use crate::store::invitations::{self, Invitation, InvitationFilter, Links, NewInvitation};
use crate::store::roles::{self, DEFAULT_ROLE};
use crate::store::users::{self, NewUser};
use crate::store::{organization_memberships, organizations};

/// Default invitation lifetime in days.
pub const DEFAULT_EXPIRES_IN_DAYS: i64 = 7;
/// Longest invitation lifetime in days.
pub const MAX_EXPIRES_IN_DAYS: i64 = 30;

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/user_management/invitations",
            get(list_invitations).post(send_invitation),
        )
        .route("/user_management/invitations/{id}", get(get_invitation))
        .route(
            "/user_management/invitations/by_token/{token}",
            get(get_invitation_by_token),
        )
        .route(
            "/user_management/invitations/{id}/accept",
            post(accept_invitation),
        )
        .route(
            "/user_management/invitations/{id}/resend",
            post(resend_invitation),
        )
        .route(
            "/user_management/invitations/{id}/revoke",
            post(revoke_invitation),
        )
}

fn links(state: &AppState) -> Links<'_> {
    auth::invitations::links(state)
}

/// Body of `POST /user_management/invitations` (spec: `CreateUserlandUserInviteOptionsDto`).
#[derive(Debug, Deserialize)]
pub struct SendInvitation {
    /// The invitee's email.
    pub email: String,
    /// Organization to join.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Role of the membership (default `member`).
    #[serde(default)]
    pub role_slug: Option<String>,
    /// Lifetime in days, 1–30 (default 7).
    #[serde(default)]
    pub expires_in_days: Option<i64>,
    /// The user who invites.
    #[serde(default)]
    pub inviter_user_id: Option<String>,
    /// Locale of the email.
    #[serde(default)]
    pub locale: Option<String>,
}

/// Body of `POST /user_management/invitations/{id}/resend`.
#[derive(Debug, Default, Deserialize)]
pub struct ResendInvitation {
    /// Locale of the email.
    #[serde(default)]
    pub locale: Option<String>,
}

async fn queue_email(tx: &mut Tx, env: &EnvironmentId, i: &Invitation) -> ApiResult<()> {
    let organization_name = match &i.organization_id {
        Some(id) => organizations::find(tx, env, id).await?.map(|o| o.name),
        None => None,
    };
    let inviter_email = match &i.inviter_user_id {
        Some(id) => users::find(tx, env, id)
            .await?
            .map(|u| u.email.into_string()),
        None => None,
    };
    let mail = Email::Invitation {
        url: i.accept_invitation_url.clone(),
        organization_name,
        inviter_email,
    };
    email_outbox::enqueue(tx, env, &i.email, &mail).await
}

/// `POST /user_management/invitations` → 201; records `invitation.created` (and
/// `organization_membership.created` for a pending membership) and queues the email.
///
/// Errors: 422 `invalid_request_parameters` naming `email`; 400 `expires_in_days_too_short`, `expires_in_days_too_long`,
/// `invalid_role`, `user_already_organization_member`, `user_already_exists`,
/// `email_already_invited_to_organization`, `email_already_invited`; 404 unknown organization or
/// inviter.
async fn send_invitation(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<SendInvitation>,
) -> ApiResult<(StatusCode, Json<Invitation>)> {
    let env = &ctx.environment_id;
    let email = crate::api::validate::email(&body.email)?;
    use crate::limits::{LOCALE_MAX, ROLE_SLUG_MAX, max_chars};
    max_chars("role_slug", body.role_slug.as_deref(), ROLE_SLUG_MAX)?;
    max_chars("locale", body.locale.as_deref(), LOCALE_MAX)?;
    let days = body.expires_in_days.unwrap_or(DEFAULT_EXPIRES_IN_DAYS);
    if days < 1 {
        return Err(ApiError::bad_request(
            "expires_in_days_too_short",
            "expires_in_days must be at least 1.",
        ));
    }
    if days > MAX_EXPIRES_IN_DAYS {
        return Err(ApiError::bad_request(
            "expires_in_days_too_long",
            format!("expires_in_days must be at most {MAX_EXPIRES_IN_DAYS}."),
        ));
    }
    let mut tx = state.db.begin().await?;
    let organization_id = match &body.organization_id {
        Some(org) => Some(
            match OrganizationId::parse_lenient(org) {
                Some(id) => organizations::find(&mut tx, env, &id).await?,
                None => None,
            }
            .ok_or_else(|| ApiError::not_found("Organization", org))?
            .id,
        ),
        None => None,
    };
    if let Some(role) = &body.role_slug
        && roles::find_by_slug(&mut tx, env, role).await?.is_none()
    {
        return Err(ApiError::bad_request(
            "invalid_role",
            format!("Role '{role}' does not exist."),
        ));
    }
    let inviter_user_id = match &body.inviter_user_id {
        Some(inviter) => Some(
            match UserId::parse_lenient(inviter) {
                Some(id) => users::find(&mut tx, env, &id).await?,
                None => None,
            }
            .ok_or_else(|| ApiError::not_found("User", inviter))?
            .id,
        ),
        None => None,
    };
    let existing = users::find_by_email(&mut tx, env, &email).await?;
    match (&existing, &organization_id) {
        (Some(user), Some(org)) => {
            let member = organization_memberships::find_for(&mut tx, env, &user.id, org).await?;
            if member.is_some_and(|m| m.status == "active") {
                return Err(ApiError::bad_request(
                    "user_already_organization_member",
                    "The user is already a member of this organization.",
                ));
            }
        }
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                "user_already_exists",
                "A user with this email already exists.",
            ));
        }
        (None, _) => {}
    }
    let invitation = invitations::insert(
        &mut tx,
        links(&state),
        env,
        NewInvitation {
            email,
            organization_id: organization_id.clone(),
            role_slug: body.role_slug.clone(),
            inviter_user_id,
            expires_in_days: days,
            locale: body.locale,
        },
    )
    .await?;
    if let (Some(user), Some(org)) = (&existing, &organization_id)
        && organization_memberships::find_for(&mut tx, env, &user.id, org)
            .await?
            .is_none()
    {
        let role = body.role_slug.unwrap_or_else(|| DEFAULT_ROLE.to_string());
        organization_memberships::insert(&mut tx, env, &user.id, org, &[role], "pending").await?;
    }
    queue_email(&mut tx, env, &invitation).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(invitation)))
}

/// `GET /user_management/invitations` — filters `organization_id`, `email`.
async fn list_invitations(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
) -> ApiResult<Json<List<Invitation>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let filter = InvitationFilter {
        organization_id: q.get("organization_id").map(IdFilter::parse),
        email: q.get("email").map(EmailAddress::new),
    };
    let mut conn = state.db.acquire().await?;
    let rows = invitations::list(
        &mut conn,
        links(&state),
        &ctx.environment_id,
        &filter,
        &params,
    )
    .await?;
    Ok(Json(params.page(rows, |i| &i.id)))
}

/// `GET /user_management/invitations/{id}`.
async fn get_invitation(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<InvitationId>,
) -> ApiResult<Json<Invitation>> {
    let mut conn = state.db.acquire().await?;
    invitations::find(&mut conn, links(&state), &ctx.environment_id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Invitation", id))
}

/// `GET /user_management/invitations/by_token/{token}`.
async fn get_invitation_by_token(
    State(state): State<AppState>,
    Env(ctx): Env,
    Path(token): Path<String>,
) -> ApiResult<Json<Invitation>> {
    let found = if has_nul(&token) {
        None
    } else {
        let mut conn = state.db.acquire().await?;
        invitations::find_by_token(&mut conn, links(&state), &ctx.environment_id, &token).await?
    };
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Invitation", "token"))
}

/// `POST /user_management/invitations/{id}/accept` → the accepted invitation; creates the user
/// when none has the email (`user.created`), activates or creates the membership, records
/// `invitation.accepted`. Errors: 404; 400 `invite_not_pending`.
async fn accept_invitation(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<InvitationId>,
) -> ApiResult<Json<Invitation>> {
    let env = &ctx.environment_id;
    let mut tx = state.db.begin().await?;
    let invitation = invitations::lock(&mut tx, links(&state), env, &id).await?;
    if invitation.state != "pending" {
        return Err(invitations::not_pending(
            &invitation,
            Some("invite_not_pending"),
        ));
    }
    let new = NewUser {
        email: invitation.email.clone(),
        ..Default::default()
    };
    let user = auth::users::find_or_create(&mut tx, env, new).await?;
    let accepted =
        auth::invitations::accept_locked(&state, &mut tx, env, &invitation, &user).await?;
    tx.commit().await?;
    Ok(Json(accepted))
}

/// `POST /user_management/invitations/{id}/resend` → the invitation; queues the email again
/// and records `invitation.resent`. Errors: 404; 400 `invite_expired`, `invite_revoked`,
/// `invite_accepted`.
async fn resend_invitation(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<InvitationId>,
    AppJson(body): AppJson<ResendInvitation>,
) -> ApiResult<Json<Invitation>> {
    let env = &ctx.environment_id;
    let locale = body.locale;
    crate::limits::max_chars("locale", locale.as_deref(), crate::limits::LOCALE_MAX)?;
    let mut tx = state.db.begin().await?;
    let invitation = invitations::lock(&mut tx, links(&state), env, &id).await?;
    if invitation.state != "pending" {
        return Err(invitations::not_pending(&invitation, None));
    }
    let invitation =
        invitations::resent(&mut tx, links(&state), env, &id, locale.as_deref()).await?;
    queue_email(&mut tx, env, &invitation).await?;
    tx.commit().await?;
    Ok(Json(invitation))
}

/// `POST /user_management/invitations/{id}/revoke` → the revoked invitation; removes its pending
/// membership and records `invitation.revoked`. Errors: 404; 400 `invite_not_pending`.
async fn revoke_invitation(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<InvitationId>,
) -> ApiResult<Json<Invitation>> {
    let env = &ctx.environment_id;
    let mut tx = state.db.begin().await?;
    let invitation = invitations::lock(&mut tx, links(&state), env, &id).await?;
    if invitation.state != "pending" {
        return Err(invitations::not_pending(
            &invitation,
            Some("invite_not_pending"),
        ));
    }
    if let Some(org) = &invitation.organization_id
        && let Some(user) = users::find_by_email(&mut tx, env, &invitation.email).await?
        && let Some(m) = organization_memberships::find_for(&mut tx, env, &user.id, org).await?
        && m.status == "pending"
    {
        organization_memberships::delete(&mut tx, env, &m.id).await?;
    }
    let revoked = invitations::revoke(&mut tx, links(&state), env, &id).await?;
    tx.commit().await?;
    Ok(Json(revoked))
}
