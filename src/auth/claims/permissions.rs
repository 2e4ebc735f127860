//! The `permissions` access-token claim ([`PermissionsClaim`]): the permission slugs the
//! organization-level roles of the token's membership hold (its `roles`: environment roles and
//! the organization's custom roles), sorted, as WorkOS organization-scoped tokens carry them.
//! Replaces the built-in `[]`; computed on every issue, so a refresh picks up role and
//! permission changes. One query ([`crate::store::roles::permission_slugs`]).
//!
//! Registered at start-up by `crate::app::router` with
//! [`crate::state::extensions::Extensions::add_claims_contributor`].

use serde_json::{Map, Value, json};
use sqlx::PgConnection;

use crate::auth::hooks::BoxFuture;
use crate::error::ApiResult;
use crate::state::extensions::{ClaimsContext, ClaimsContributor};
use crate::store::roles;

/// `permissions`: the slugs the session membership's roles grant (organization-scoped tokens
/// only).
#[derive(Debug, Default, Clone, Copy)]
pub struct PermissionsClaim;

impl ClaimsContributor for PermissionsClaim {
    fn contribute<'a>(
        &'a self,
        ctx: &'a ClaimsContext<'a>,
        conn: &'a mut PgConnection,
        claims: &'a mut Map<String, Value>,
    ) -> BoxFuture<'a, ApiResult<()>> {
        Box::pin(async move {
            if let (Some(held), Some(org)) = (ctx.roles, ctx.session.organization_id.as_ref()) {
                let slugs = roles::permission_slugs(conn, ctx.environment_id, org, held).await?;
                claims.insert("permissions".into(), json!(slugs));
            }
            Ok(())
        })
    }
}
