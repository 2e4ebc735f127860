//! The `auth_time` claim ([`AuthTimeClaim`]): when the user signed in to the session, in seconds
//! since the epoch, the same in every token of the session (a refresh keeps it). The official
//! Python SDK (from 10.8.0) requires it, as an integer, of a session cookie's access token.

use serde_json::{Map, Value, json};
use sqlx::PgConnection;

use crate::auth::hooks::BoxFuture;
use crate::error::ApiResult;
use crate::state::extensions::{ClaimsContext, ClaimsContributor};

/// `auth_time`: the session's sign-in time (its creation), unchanged by refreshes and
/// organization switches.
#[derive(Debug, Default, Clone, Copy)]
pub struct AuthTimeClaim;

impl ClaimsContributor for AuthTimeClaim {
    fn contribute<'a>(
        &'a self,
        ctx: &'a ClaimsContext<'a>,
        _conn: &'a mut PgConnection,
        claims: &'a mut Map<String, Value>,
    ) -> BoxFuture<'a, ApiResult<()>> {
        Box::pin(async move {
            claims.insert(
                "auth_time".into(),
                json!(ctx.session.created_at.timestamp()),
            );
            Ok(())
        })
    }
}
