//! The access-token claims builder: an ordered list of [`ClaimsContributor`]s, each adding its
//! claims to the token's JSON object. The built-in contributors (always first) produce today's claims: [`StandardClaims`]
//! (`iss`, `sub`, `sid`, `org_id`, `role`, `exp`, `iat`, `jti`, as
//! [`crate::crypto::access_token::AccessClaims`] spells them), [`auth_time::AuthTimeClaim`]
//! (`auth_time`, the session's sign-in time), [`RolesClaim`] (`roles` and `permissions` of a
//! scoped session) and
//! [`jwt_template::TemplateClaims`] (the environment's JWT template, which never overrides an
//! earlier claim).
//!
//! Plugging in (permissions, feature flags, entitlements): write
//! `src/auth/claims/<claim>.rs` with a type implementing [`ClaimsContributor`] and register it
//! with [`super::Extensions::add_claims_contributor`]; it runs after the built-in ones, in
//! registration order, and sees (and may change) what they set.

pub mod auth_time;
pub mod feature_flags;
pub mod jwt_template;
pub mod permissions;

use serde_json::{Map, Value, json};
use sqlx::PgConnection;

pub use crate::state::extensions::{ClaimsContext, ClaimsContributor};

use super::hooks::BoxFuture;
use crate::crypto::access_token::AccessClaims;
use crate::error::ApiResult;

/// `iss`, `sub`, `sid`, `org_id`, `role` (first active role of a scoped session), `exp`, `iat`,
/// `jti`.
#[derive(Debug, Default, Clone, Copy)]
pub struct StandardClaims;

impl ClaimsContributor for StandardClaims {
    fn contribute<'a>(
        &'a self,
        ctx: &'a ClaimsContext<'a>,
        _conn: &'a mut PgConnection,
        claims: &'a mut Map<String, Value>,
    ) -> BoxFuture<'a, ApiResult<()>> {
        Box::pin(async move {
            let standard = AccessClaims::new(
                ctx.issuer.to_string(),
                &ctx.user.id,
                &ctx.session.id,
                ctx.session.organization_id.clone().map(String::from),
                ctx.roles.and_then(|r| r.first().cloned()),
                ctx.ttl,
            );
            if let Value::Object(map) =
                serde_json::to_value(&standard).map_err(anyhow::Error::from)?
            {
                claims.extend(map);
            }
            Ok(())
        })
    }
}

/// `roles`: every active role slug of a scoped session's membership; and `permissions`, the
/// permission slugs those roles grant, which WorkOS sends with every organization-scoped token
/// (an array, empty when the roles grant none). Roles carry no permissions until the
/// Authorization area models them, so it is `[]` today; that area's contributor, registered
/// after the built-in ones, replaces it.
#[derive(Debug, Default, Clone, Copy)]
pub struct RolesClaim;

impl ClaimsContributor for RolesClaim {
    fn contribute<'a>(
        &'a self,
        ctx: &'a ClaimsContext<'a>,
        _conn: &'a mut PgConnection,
        claims: &'a mut Map<String, Value>,
    ) -> BoxFuture<'a, ApiResult<()>> {
        Box::pin(async move {
            if let Some(roles) = ctx.roles {
                claims.insert("roles".into(), json!(roles));
                claims.insert("permissions".into(), json!([]));
            }
            Ok(())
        })
    }
}

/// The built-in contributors, in the order they run: today's claims, before any registered one.
const BUILT_IN: [&dyn ClaimsContributor; 4] = [
    &StandardClaims,
    &auth_time::AuthTimeClaim,
    &RolesClaim,
    &jwt_template::TemplateClaims,
];

/// Runs the built-in contributors, then every registered one in registration order, into one
/// claims object.
pub async fn build(
    registered: &[std::sync::Arc<dyn ClaimsContributor>],
    ctx: &ClaimsContext<'_>,
    conn: &mut PgConnection,
) -> ApiResult<Map<String, Value>> {
    let mut claims = Map::new();
    let registered = registered.iter().map(|c| &**c);
    for c in BUILT_IN.into_iter().chain(registered) {
        c.contribute(ctx, conn, &mut claims).await?;
    }
    Ok(claims)
}
