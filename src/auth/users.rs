//! The Keystead user a sign-in or an invitation acceptance names by email, shared by the SSO
//! login flow ([`super::sso`]) and `POST /user_management/invitations/{id}/accept`
//! ([`crate::api`]): the user with that email, else a new one (`user.created`).

use crate::db::Tx;
use crate::error::ApiResult;
use crate::ids::EnvironmentId;
use crate::store::users::{self, NewUser, User};

/// The user of `env` whose email is `new.email`, else a user created from `new`
/// (`user.created`), in `tx`. Concurrent calls for one new email create one user
/// ([`users::lock_email`]).
pub async fn find_or_create(tx: &mut Tx, env: &EnvironmentId, new: NewUser) -> ApiResult<User> {
    users::lock_email(tx, env, &new.email).await?;
    if let Some(user) = users::find_by_email(tx, env, &new.email).await? {
        return Ok(user);
    }
    users::insert(tx, env, new).await
}
