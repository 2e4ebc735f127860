//! Accepting an invitation while signing in (the `invitation_token` of the `password` and Magic
//! Auth grants, or the invitation a Magic Auth code was sent with), and the acceptance itself,
//! shared with `POST /user_management/invitations/{id}/accept`.
//!
//! Errors (OAuth dialect): 400 `invitation_invalid`, `invitation_cannot_be_used_for_email`.

use crate::db::Tx;
use crate::error::{ApiError, ApiResult};
use crate::ids::{EnvironmentId, InvitationId, OrganizationId};
use crate::state::AppState;
use crate::store::invitations::{self, Invitation, Links};
use crate::store::organization_memberships;
use crate::store::roles::DEFAULT_ROLE;
use crate::store::users::User;

/// What the invitation store needs to render links and decrypt tokens.
pub fn links(state: &AppState) -> Links<'_> {
    Links {
        vault: &state.vault,
        public_url: &state.settings.public_url,
    }
}

/// Activates (or creates) the invitee's membership and marks the invitation accepted.
pub async fn accept_locked(
    state: &AppState,
    tx: &mut Tx,
    env: &EnvironmentId,
    invitation: &Invitation,
    user: &User,
) -> ApiResult<Invitation> {
    if let Some(org) = &invitation.organization_id {
        match organization_memberships::find_for(tx, env, &user.id, org).await? {
            Some(m) if m.status == "pending" => {
                organization_memberships::transition(
                    tx,
                    env,
                    &m.id,
                    "pending",
                    "active",
                    "invite_not_pending",
                )
                .await?;
            }
            Some(m) if m.status == "inactive" => {
                organization_memberships::transition(
                    tx,
                    env,
                    &m.id,
                    "inactive",
                    "active",
                    "invite_not_pending",
                )
                .await?;
            }
            Some(_) => {}
            None => {
                let role = invitation
                    .role_slug
                    .clone()
                    .unwrap_or_else(|| DEFAULT_ROLE.to_string());
                organization_memberships::insert(tx, env, &user.id, org, &[role], "active").await?;
            }
        }
    }
    invitations::accept(tx, links(state), env, &invitation.id, &user.id).await
}

fn invitation_invalid() -> ApiError {
    ApiError::oauth(
        "invitation_invalid",
        "The invitation is invalid, expired or already used.",
    )
}

async fn accept_checked(
    state: &AppState,
    tx: &mut Tx,
    env: &EnvironmentId,
    invitation: Option<Invitation>,
    user: &User,
) -> ApiResult<Option<OrganizationId>> {
    let invitation = invitation.ok_or_else(invitation_invalid)?;
    let invitation = invitations::lock(tx, links(state), env, &invitation.id).await?;
    if invitation.state != "pending" {
        return Err(invitation_invalid());
    }
    if invitation.email != user.email {
        return Err(ApiError::oauth(
            "invitation_cannot_be_used_for_email",
            "The invitation was sent to another email address.",
        ));
    }
    let accepted = accept_locked(state, tx, env, &invitation, user).await?;
    Ok(accepted.organization_id)
}

/// Accepts the invitation with `token` for `user` while they sign in; returns the organization
/// the session is bound to. Errors (OAuth dialect): 400 `invitation_invalid`,
/// `invitation_cannot_be_used_for_email`.
pub async fn accept_for_sign_in(
    state: &AppState,
    tx: &mut Tx,
    env: &EnvironmentId,
    token: &str,
    user: &User,
) -> ApiResult<Option<OrganizationId>> {
    let invitation = invitations::find_by_token(tx, links(state), env, token).await?;
    accept_checked(state, tx, env, invitation, user).await
}

/// Like [`accept_for_sign_in`], for the invitation a Magic Auth code was sent with.
pub async fn accept_by_id_for_sign_in(
    state: &AppState,
    tx: &mut Tx,
    env: &EnvironmentId,
    id: &InvitationId,
    user: &User,
) -> ApiResult<Option<OrganizationId>> {
    let invitation = invitations::find(tx, links(state), env, id).await?;
    accept_checked(state, tx, env, invitation, user).await
}
