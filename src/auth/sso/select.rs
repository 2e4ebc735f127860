//! The SSO login flow's connection selection, shared by `GET /sso/authorize` ([`crate::api`])
//! and `GET /user_management/authorize` ([`crate::pages`]): which active connection a login
//! goes through, given a connection id, an organization, a provider type or (deprecated) a
//! domain.

use crate::error::ApiResult;
use crate::http::{ListParams, Order, QueryMap};
use crate::ids::{ConnectionId, EnvironmentId, IdFilter};
use crate::protocols::Failure;
use crate::state::AppState;
use crate::store::connections::{self, ConnectionConfig, ConnectionFilter};

/// Which connection a login asks for (the first given wins, in this order).
#[derive(Debug, Default, Clone, Copy)]
pub struct Selector<'a> {
    /// A connection id.
    pub connection: Option<&'a str>,
    /// An organization with an active connection.
    pub organization: Option<&'a str>,
    /// A connection type (`GoogleOAuth`, …).
    pub provider: Option<&'a str>,
    /// A connection domain (deprecated).
    pub domain: Option<&'a str>,
}

/// Picks the active connection a login goes through (tenant-scoped to `env`); `Err` carries
/// the redirect error. Used by `/sso/authorize` and `/user_management/authorize`.
pub async fn select_connection(
    state: &AppState,
    env: &EnvironmentId,
    q: Selector<'_>,
) -> ApiResult<Result<ConnectionConfig, Failure>> {
    let fail = |code: &'static str, message: String| Ok(Err(Failure { code, message }));
    let mut conn = state.db.acquire().await?;
    let active = |c: &ConnectionConfig| c.connection.state == "active";
    let params = ListParams::from_query(&QueryMap::parse("limit=100"), Order::Asc)?;
    if let Some(id) = q.connection {
        let found = match ConnectionId::parse_lenient(id) {
            Some(typed) => connections::find(&mut conn, env, &typed).await?,
            None => None,
        };
        return match found {
            Some(c) if active(&c) => Ok(Ok(c)),
            Some(_) => fail(
                "connection_invalid",
                format!("Connection '{id}' is not active."),
            ),
            None => fail(
                "connection_invalid",
                format!("Connection '{id}' was not found."),
            ),
        };
    }
    let (filter, what) = if let Some(org) = q.organization {
        (
            ConnectionFilter {
                organization_id: Some(IdFilter::parse(org)),
                ..ConnectionFilter::default()
            },
            format!("organization '{org}'"),
        )
    } else if let Some(provider) = q.provider {
        (
            ConnectionFilter {
                connection_type: Some(provider.to_string()),
                ..ConnectionFilter::default()
            },
            format!("provider '{provider}'"),
        )
    } else if let Some(domain) = q.domain {
        (
            ConnectionFilter {
                domain: Some(domain.to_string()),
                ..ConnectionFilter::default()
            },
            format!("domain '{domain}'"),
        )
    } else {
        return fail(
            "invalid_request",
            "One of connection, organization or provider is required.".into(),
        );
    };
    let filter = ConnectionFilter {
        state: Some("active".into()),
        ..filter
    };
    let mut found = connections::list(&mut conn, env, &filter, &params).await?;
    // An environment-wide provider connection wins over an organization's.
    found.sort_by_key(|c| c.connection.organization_id.is_some());
    match found.into_iter().next() {
        Some(c) => Ok(Ok(c)),
        None => fail(
            "connection_invalid",
            format!("No active connection for {what}."),
        ),
    }
}
