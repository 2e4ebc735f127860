//! The OIDC/OAuth redirect URI registered at the provider (OIDC Core §3.1.2.5, RFC 6749
//! §4.1.2): `GET /sso/oidc/callback/{connection_id}` with `code` and `state`, or `error`. It
//! redeems the code through the engine in [`crate::protocols::oidc`], maps the claims to a
//! profile and finishes the login ([`crate::auth::sso`]).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use crate::auth::sso::{self as login, Completion};
use crate::error::{ApiError, ApiResult};
use crate::http::{Client, IdPath, QueryMap};
use crate::ids::{ConnectionId, SsoRequestId};
use crate::protocols::oidc::{self, Callback};
use crate::protocols::{Failure, profile};
use crate::state::AppState;
use crate::store::connections;
use crate::store::sso::{self, NewProfile};

/// Public OIDC/OAuth routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/sso/oidc/callback/{connection_id}", get(callback))
}

/// `GET /sso/oidc/callback/{connection_id}`.
async fn callback(
    State(state): State<AppState>,
    IdPath(id): IdPath<ConnectionId>,
    client: Client,
    q: QueryMap,
) -> ApiResult<Response> {
    let mut conn = state.db.acquire().await?;
    let not_found = || ApiError::not_found("Connection", id.as_str());
    let env = connections::environment_of(&mut conn, &id)
        .await?
        .ok_or_else(not_found)?;
    let c = connections::find(&mut conn, &env, &id)
        .await?
        .ok_or_else(not_found)?;
    // A `state` that is not an `sso_req_…` id answers no request: unsolicited.
    let request = match SsoRequestId::parse_lenient(q.get("state").unwrap_or_default()) {
        Some(request_id) => sso::find_request(&mut conn, &env, &id, &request_id).await?,
        None => None,
    };
    drop(conn);
    let Some(request) = request else {
        let f = Failure::new(
            "unsolicited_response",
            "The callback answers a request that is unknown, expired or already used.",
        );
        return login::fail(&state, &env, Some(&c), None, &client, f).await;
    };
    let fail = |f: Failure| login::fail(&state, &env, Some(&c), Some(&request.id), &client, f);
    if let Some(err) = q.get("error") {
        let detail = q.get("error_description").unwrap_or(err).to_string();
        return fail(Failure::new(
            "idp_error",
            format!("The provider answered {err}: {detail}"),
        ))
        .await;
    }
    if c.connection.state != "active" {
        return fail(Failure::new(
            "connection_inactive",
            "The connection is not active.",
        ))
        .await;
    }
    let Some(code) = q.get("code") else {
        return fail(Failure::new(
            "invalid_callback",
            "The callback carries no code.",
        ))
        .await;
    };
    let secret = {
        let mut conn = state.db.acquire().await?;
        connections::secrets(&mut conn, &state.vault, &env, &id)
            .await?
            .client_secret
    };
    let redirect_uri = login::sp_urls(&state.settings.public_url, &c)
        .redirect_uri
        .unwrap_or_default();
    let provider = oidc::Provider {
        connection_id: &c.connection.id,
        connection_type: &c.connection.connection_type,
        settings: &c.settings,
        redirect_uri: &redirect_uri,
    };
    let callback = Callback {
        code,
        client_secret: secret.as_deref(),
        pkce_verifier: request.pkce_verifier.as_deref(),
        nonce: request.nonce.as_deref(),
        clock_skew: state.settings.sso.clock_skew,
    };
    let (claims, oauth_tokens) = match oidc::exchange(&state.sso, &provider, &callback).await {
        Ok(v) => v,
        Err(f) => return fail(f).await,
    };
    let Some(profile): Option<NewProfile> = profile::from_claims(&claims) else {
        return fail(Failure::new(
            "missing_email",
            "The provider sent no subject or email.",
        ))
        .await;
    };
    let done = Completion {
        request_id: Some(&request.id),
        assertion: None,
        oauth_tokens,
        client: client.clone(),
    };
    login::finish(&state, &env, &c, done, profile).await
}
