//! The `feature_flags` access-token claim ([`FeatureFlagsClaim`]): the slugs of the environment's
//! flags that are on for the token's user in the token's organization, as WorkOS access tokens
//! carry them. Evaluated as the Node SDK's evaluator does (`src/feature-flags/evaluator.ts`): a
//! disabled flag is off; else the user's target decides, else the session organization's target,
//! else `default_value` (a token without an organization: the user's targets, else
//! `default_value`). Computed on every issue, so a refresh picks up targeting changes. One query
//! ([`crate::store::feature_flags::enabled_slugs`]).
//!
//! Registered at start-up by `crate::app::router` with
//! [`crate::state::extensions::Extensions::add_claims_contributor`].

use serde_json::{Map, Value, json};
use sqlx::PgConnection;

use crate::auth::hooks::BoxFuture;
use crate::error::ApiResult;
use crate::state::extensions::{ClaimsContext, ClaimsContributor};
use crate::store::feature_flags;

/// `feature_flags`: the slugs on for the user (and the session's organization), in creation
/// order; `[]` when none is.
#[derive(Debug, Default, Clone, Copy)]
pub struct FeatureFlagsClaim;

impl ClaimsContributor for FeatureFlagsClaim {
    fn contribute<'a>(
        &'a self,
        ctx: &'a ClaimsContext<'a>,
        conn: &'a mut PgConnection,
        claims: &'a mut Map<String, Value>,
    ) -> BoxFuture<'a, ApiResult<()>> {
        Box::pin(async move {
            let slugs = feature_flags::enabled_slugs(
                conn,
                ctx.environment_id,
                &ctx.user.id,
                ctx.session.organization_id.as_ref(),
            )
            .await?;
            claims.insert("feature_flags".into(), json!(slugs));
            Ok(())
        })
    }
}
