//! The access-token claims builder: an ordered list of [`ClaimsContributor`]s, each adding its
//! claims to the token's JSON object. The defaults produce today's claims: [`StandardClaims`]
//! (`iss`, `sub`, `sid`, `org_id`, `role`, `exp`, `iat`, `jti`, as
//! [`crate::crypto::access_token::AccessClaims`] spells them), [`RolesClaim`] (`roles` of a
//! scoped session) and [`jwt_template::TemplateClaims`] (the environment's JWT template, which
//! never overrides an earlier claim).
//!
//! Plugging in (roles/permissions, feature flags, `auth_time`): write
//! `src/auth/claims/<claim>.rs` with a type implementing [`ClaimsContributor`] and register it
//! with [`super::Extensions::add_claims_contributor`]; it runs after the defaults, in
//! registration order, and sees (and may change) what they set.

pub mod jwt_template;

use std::time::Duration;

use serde_json::{Map, Value, json};
use sqlx::PgConnection;

use super::hooks::BoxFuture;
use crate::crypto::access_token::AccessClaims;
use crate::error::ApiResult;
use crate::ids::EnvironmentId;
use crate::store::sessions::Session;
use crate::store::users::User;

/// What the claims of one access token are built from.
#[derive(Debug, Clone, Copy)]
pub struct ClaimsContext<'a> {
    /// Issuer: `<public url>/user_management/<client id>`.
    pub issuer: &'a str,
    /// The environment.
    pub environment_id: &'a EnvironmentId,
    /// The signed-in user.
    pub user: &'a User,
    /// The session the token is for.
    pub session: &'a Session,
    /// The user's active roles in the session's organization (scoped sessions only).
    pub roles: Option<&'a [String]>,
    /// Lifetime of the token.
    pub ttl: Duration,
}

/// One contributor of access-token claims.
pub trait ClaimsContributor: Send + Sync {
    /// Adds this contributor's claims to `claims` (reading what it needs through `conn`).
    fn contribute<'a>(
        &'a self,
        ctx: &'a ClaimsContext<'a>,
        conn: &'a mut PgConnection,
        claims: &'a mut Map<String, Value>,
    ) -> BoxFuture<'a, ApiResult<()>>;
}

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
                ctx.session.organization_id.clone(),
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

/// `roles`: every active role slug of a scoped session's membership.
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
            }
            Ok(())
        })
    }
}

/// Runs every registered contributor, in order, into one claims object.
pub async fn build(
    contributors: &[std::sync::Arc<dyn ClaimsContributor>],
    ctx: &ClaimsContext<'_>,
    conn: &mut PgConnection,
) -> ApiResult<Map<String, Value>> {
    let mut claims = Map::new();
    for c in contributors {
        c.contribute(ctx, conn, &mut claims).await?;
    }
    Ok(claims)
}
