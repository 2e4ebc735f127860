//! SAML 2.0 Service Provider routes identity providers and browsers call (SAML Core, Bindings,
//! Profiles), over the engine in [`crate::protocols::saml`]:
//!
//! - `GET /sso/saml/metadata/{connection_id}`: SP metadata (also the SP entity id).
//! - `POST /sso/saml/acs/{connection_id}`: Assertion Consumer Service, HTTP-POST binding
//!   (Bindings §3.5): verifies and decrypts the response ([`xmlsec`]), validates it
//!   ([`response`]), enforces single use of the request and the assertion, maps the profile and
//!   finishes the login ([`crate::auth::sso`]).

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::auth::sso::{self as login, Completion};
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Client, IdPath};
use crate::ids::{ConnectionId, EnvironmentId, SsoRequestId};
use crate::protocols::profile;
use crate::protocols::saml::{SamlError, metadata, response, xmlsec};
use crate::protocols::{Failure, connection::SamlSettings};
use crate::state::AppState;
use crate::store::connections::{self, ConnectionConfig, Settings};
use crate::store::sso;

/// Public SAML routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sso/saml/metadata/{connection_id}", get(sp_metadata))
        .route("/sso/saml/acs/{connection_id}", post(acs))
}

async fn saml_connection(
    state: &AppState,
    id: &ConnectionId,
) -> ApiResult<(EnvironmentId, ConnectionConfig, SamlSettings)> {
    let mut conn = state.db.acquire().await?;
    let not_found = || ApiError::not_found("Connection", id.as_str());
    let env = connections::environment_of(&mut conn, id)
        .await?
        .ok_or_else(not_found)?;
    let c = connections::find(&mut conn, &env, id)
        .await?
        .ok_or_else(not_found)?;
    match &c.settings {
        Settings::Saml(s) => {
            let s = s.clone();
            Ok((env, c, s))
        }
        _ => Err(not_found()),
    }
}

/// `GET /sso/saml/metadata/{connection_id}`: the SP metadata XML.
async fn sp_metadata(
    State(state): State<AppState>,
    IdPath(id): IdPath<ConnectionId>,
) -> ApiResult<Response> {
    let (_, c, _) = saml_connection(&state, &id).await?;
    let urls = login::sp_urls(&state.settings.public_url, &c);
    let cert = c.sp_certificate_der.clone().unwrap_or_default();
    let body = metadata::sp_metadata(
        urls.entity_id.as_deref().unwrap_or_default(),
        urls.acs_url.as_deref().unwrap_or_default(),
        &cert,
    );
    Ok((
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        body,
    )
        .into_response())
}

/// The HTTP-POST binding form.
#[derive(Debug, Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState", default)]
    relay_state: Option<String>,
}

/// `POST /sso/saml/acs/{connection_id}`.
async fn acs(
    State(state): State<AppState>,
    IdPath(id): IdPath<ConnectionId>,
    client: Client,
    AppJson(form): AppJson<AcsForm>,
) -> ApiResult<Response> {
    let (env, c, settings) = saml_connection(&state, &id).await?;
    let relay = form.relay_state.as_deref().filter(|r| !r.is_empty());
    match consume(&state, &env, &c, &settings, &form.saml_response).await {
        Ok(Accepted {
            request_id,
            assertion_id,
            until,
            profile,
        }) => {
            let done = Completion {
                request_id: request_id.as_deref(),
                assertion: Some((&assertion_id, until)),
                oauth_tokens: None,
                client,
            };
            login::finish(&state, &env, &c, done, profile).await
        }
        Err((failure, request_id)) => {
            login::fail(
                &state,
                &env,
                Some(&c),
                request_id.as_deref().or(relay),
                &client,
                failure,
            )
            .await
        }
    }
}

struct Accepted {
    request_id: Option<String>,
    assertion_id: String,
    until: chrono::DateTime<chrono::Utc>,
    profile: sso::NewProfile,
}

type Refused = (Failure, Option<String>);

/// Verifies and validates one posted response; on failure also returns the request id it
/// claims to answer (for the error redirect).
async fn consume(
    state: &AppState,
    env: &EnvironmentId,
    c: &ConnectionConfig,
    s: &SamlSettings,
    posted: &str,
) -> Result<Accepted, Refused> {
    let refuse = |e: SamlError| (Failure::from(e), None);
    let internal = |e: ApiError| {
        tracing::error!(error = ?e, "saml acs");
        (
            Failure {
                code: "internal_error",
                message: "The response could not be processed.".into(),
            },
            None,
        )
    };
    if c.connection.state != "active" {
        return Err(refuse(SamlError::new(
            "connection_inactive",
            "The connection is not active.",
        )));
    }
    let compact: String = posted.chars().filter(|ch| !ch.is_whitespace()).collect();
    let xml_text = STANDARD
        .decode(compact)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            refuse(SamlError::new(
                "invalid_response",
                "SAMLResponse is not base64-encoded UTF-8 XML.",
            ))
        })?;
    let mut certs = Vec::new();
    for p in &s.idp_certificates {
        certs.push(metadata::certificate_der(p).map_err(refuse)?);
    }
    let sp_key = {
        let mut conn = state.db.acquire().await.map_err(|e| internal(e.into()))?;
        connections::secrets(&mut conn, &state.vault, env, &c.connection.id)
            .await
            .map_err(internal)?
            .sp_private_key
    };
    let keys = xmlsec::Keys {
        idp_certificates: certs,
        sp_private_key: sp_key,
        allow_sha1: s.allow_sha1,
    };
    let engine = state.sso.xmlsec.clone();
    let opened = tokio::task::spawn_blocking(move || engine.open_response(&xml_text, &keys))
        .await
        .map_err(|e| internal(ApiError::Internal(e.into())))?
        .map_err(refuse)?;
    let envelope = response::parse_envelope(&opened.response_xml).map_err(refuse)?;
    let assertion = response::parse_assertion(&opened.assertion_xml).map_err(refuse)?;
    let claimed = assertion
        .confirmations
        .iter()
        .find_map(|c| c.in_response_to.clone())
        .or_else(|| envelope.in_response_to.clone());
    let with_request = |e: SamlError| (Failure::from(e), claimed.clone());
    match &claimed {
        Some(rid) => {
            let mut conn = state.db.acquire().await.map_err(|e| internal(e.into()))?;
            let pending = match SsoRequestId::parse_lenient(rid) {
                Some(rid) => sso::find_request(&mut conn, env, &c.connection.id, &rid)
                    .await
                    .map_err(internal)?,
                None => None,
            };
            if pending.is_none() {
                return Err(with_request(SamlError::new(
                    "unsolicited_response",
                    "The response answers a request that is unknown, expired or already used.",
                )));
            }
        }
        None if !s.allow_idp_initiated => {
            return Err(refuse(SamlError::new(
                "unsolicited_response",
                "IdP-initiated login is not allowed for this connection.",
            )));
        }
        None => {}
    }
    let urls = login::sp_urls(&state.settings.public_url, c);
    let expect = response::Expectations {
        sp_entity_id: urls.entity_id.as_deref().unwrap_or_default(),
        acs_url: urls.acs_url.as_deref().unwrap_or_default(),
        idp_entity_id: &s.idp_entity_id,
        request_id: claimed.as_deref(),
        response_signed: opened.response_signed,
        now: chrono::Utc::now(),
        skew: state.settings.sso.clock_skew,
    };
    let until = response::validate(&envelope, &assertion, &expect).map_err(with_request)?;
    let profile =
        profile::from_saml(&assertion.name_id, &assertion.attributes).ok_or_else(|| {
            with_request(SamlError::new(
                "missing_email",
                "The assertion carries no email address.",
            ))
        })?;
    Ok(Accepted {
        request_id: claimed,
        assertion_id: assertion.id,
        until,
        profile,
    })
}
