//! `/connections` (spec tag `connections`, operations `ConnectionsController_list`, `_find`,
//! `_delete`) and the Keystead extension `POST /connections` / `PUT /connections/{id}`
//! (`x-keystead-extension`): what WorkOS configures in its dashboard, as an API.
//!
//! Create takes `organization_id`, `connection_type`, `name`, `domains`, `state` and one of
//! `saml` (`idp_metadata_xml`, or `idp_metadata_url`, or `idp_entity_id` + `idp_sso_url` +
//! `idp_certificates`; `allow_idp_initiated`, `allow_sha1`, `sign_requests`), `oidc`
//! (`discovery_endpoint`, `client_id`, `client_secret`, `scopes`) or `oauth` (`client_id`,
//! `client_secret`, `scopes`, endpoint overrides). It answers the Connection plus `sp`: the
//! SAML `entity_id`, `acs_url` and public `metadata_url`, or the OIDC/OAuth `redirect_uri`.
//! Update (`PUT`, or `PATCH` as newer SDKs send it) is partial; sending `idp_metadata_url`
//! (again) re-reads the metadata. `saml_options`/`oidc_options`/`idp_signing_certs` are accepted
//! as aliases.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::sso::{self as login, SpUrls};
use crate::crypto::signing;
use crate::error::{ApiError, ApiResult};
use crate::http::{AppJson, Env, IdPath, List, ListParams, Order, QueryMap};
use crate::ids::{ConnectionId, IdFilter, OrganizationId};
use crate::limits::{TOKEN_MAX, URL_MAX};
use crate::protocols::saml::metadata;
use crate::state::AppState;
use crate::store::connections::{
    self, Connection, ConnectionChanges, ConnectionFilter, NewConnection, OAuthSettings, Protocol,
    SamlSettings, Settings,
};
use crate::store::organization_domains::normalize;

/// Routes of this area (API-key authenticated).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/connections",
            get(list_connections).post(create_connection),
        )
        .route(
            "/connections/{id}",
            get(get_connection)
                .put(update_connection)
                .patch(update_connection)
                .delete(delete_connection),
        )
}

/// `saml` of create/update.
#[derive(Debug, Default, Deserialize)]
pub struct SamlInput {
    /// IdP metadata document.
    #[serde(default)]
    pub idp_metadata_xml: Option<String>,
    /// Where to read the IdP metadata (read now, and again on every update sending it).
    #[serde(default)]
    pub idp_metadata_url: Option<String>,
    /// Explicit IdP entity id.
    #[serde(default)]
    pub idp_entity_id: Option<String>,
    /// Explicit IdP SSO URL (HTTP-Redirect binding).
    #[serde(default)]
    pub idp_sso_url: Option<String>,
    /// Explicit PEM certificates; all are accepted (rotation). Alias: `idp_signing_certs`.
    #[serde(default, alias = "idp_signing_certs")]
    pub idp_certificates: Option<Vec<String>>,
    /// Accept IdP-initiated responses.
    #[serde(default)]
    pub allow_idp_initiated: Option<bool>,
    /// Accept SHA-1 signatures.
    #[serde(default)]
    pub allow_sha1: Option<bool>,
    /// Sign AuthnRequests (default true).
    #[serde(default)]
    pub sign_requests: Option<bool>,
}

/// `oidc` / `oauth` of create/update.
#[derive(Debug, Default, Deserialize)]
pub struct OAuthInput {
    /// OIDC discovery endpoint.
    #[serde(default)]
    pub discovery_endpoint: Option<String>,
    /// Client id at the provider.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Client secret (stored encrypted, never returned).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Extra scopes.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// OAuth authorization endpoint override.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// OAuth token endpoint override.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// OAuth user-info endpoint override.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
}

/// Body of `POST /connections`.
#[derive(Debug, Deserialize)]
pub struct CreateConnection {
    /// The organization (required for SAML and OIDC).
    #[serde(default)]
    pub organization_id: Option<String>,
    /// `GenericSAML`, `OktaSAML`, …, `GenericOIDC`, `GoogleOAuth`, …; when absent,
    /// `GenericSAML` or `GenericOIDC` from the settings given.
    #[serde(default)]
    pub connection_type: Option<String>,
    /// Display name.
    pub name: String,
    /// Email domains routed to this connection.
    #[serde(default)]
    pub domains: Vec<String>,
    /// `active` (default), `inactive` or `draft`.
    #[serde(default)]
    pub state: Option<String>,
    /// SAML settings (alias `saml_options`, as newer WorkOS SDKs send them).
    #[serde(default, alias = "saml_options")]
    pub saml: Option<SamlInput>,
    /// OIDC settings (alias `oidc_options`).
    #[serde(default, alias = "oidc_options")]
    pub oidc: Option<OAuthInput>,
    /// OAuth settings.
    #[serde(default)]
    pub oauth: Option<OAuthInput>,
}

/// Body of `PUT /connections/{id}` (partial).
#[derive(Debug, Deserialize)]
pub struct UpdateConnection {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// The complete new domain set.
    #[serde(default)]
    pub domains: Option<Vec<String>>,
    /// `active`, `inactive` or `draft`.
    #[serde(default)]
    pub state: Option<String>,
    /// SAML changes (alias `saml_options`).
    #[serde(default, alias = "saml_options")]
    pub saml: Option<SamlInput>,
    /// OIDC changes (alias `oidc_options`).
    #[serde(default, alias = "oidc_options")]
    pub oidc: Option<OAuthInput>,
    /// OAuth changes.
    #[serde(default)]
    pub oauth: Option<OAuthInput>,
}

/// A connection with the SP-side values to configure at the IdP (extension responses).
#[derive(Debug, Serialize)]
pub struct ConnectionWithSp {
    /// The Connection object.
    #[serde(flatten)]
    pub connection: Connection,
    /// Service-provider side: entity id, ACS and metadata URLs, or redirect URI.
    pub sp: SpUrls,
}

/// The protocol of a supported connection type.
pub fn protocol_of(connection_type: &str) -> Option<Protocol> {
    match connection_type {
        t if t.ends_with("SAML") => Some(Protocol::Saml),
        "GenericOIDC" | "OktaOIDC" | "EntraIdOIDC" | "GoogleOIDC" => Some(Protocol::Oidc),
        "GoogleOAuth" | "MicrosoftOAuth" | "GitHubOAuth" | "AppleOAuth" => Some(Protocol::Oauth),
        _ => None,
    }
}

fn bad(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_field(field, "invalid", message)
}

fn http_url(field: &str, value: &str) -> ApiResult<String> {
    match url::Url::parse(value.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(value.trim().to_string())
        }
        _ => Err(bad(
            field,
            format!("{field} must be an absolute http(s) URL."),
        )),
    }
}

fn check_state(state: &str) -> ApiResult<String> {
    match state {
        "active" | "inactive" | "draft" => Ok(state.to_string()),
        _ => Err(bad(
            "state",
            "state must be one of active, inactive, draft.",
        )),
    }
}

/// Applies a `saml` input to settings (starting from `current` on update).
async fn saml_settings(
    state: &AppState,
    current: Option<SamlSettings>,
    input: SamlInput,
) -> ApiResult<SamlSettings> {
    let mut s = current.unwrap_or(SamlSettings {
        sign_requests: true,
        ..SamlSettings::default()
    });
    let from_metadata = match (&input.idp_metadata_xml, &input.idp_metadata_url) {
        (Some(xml), _) => {
            Some(metadata::parse_idp(xml).map_err(|e| bad("saml.idp_metadata_xml", e.message))?)
        }
        (None, Some(url)) => {
            let url = http_url("saml.idp_metadata_url", url)?;
            let fetched = state.sso.outbound()?.get(&url).await.map_err(|e| {
                bad(
                    "saml.idp_metadata_url",
                    format!("Reading the metadata failed: {e}"),
                )
            })?;
            if !fetched.status.is_success() {
                return Err(bad(
                    "saml.idp_metadata_url",
                    format!("Reading the metadata failed: HTTP {}", fetched.status),
                ));
            }
            let text = String::from_utf8(fetched.body)
                .map_err(|_| bad("saml.idp_metadata_url", "The metadata is not UTF-8."))?;
            s.idp_metadata_url = Some(url);
            Some(metadata::parse_idp(&text).map_err(|e| bad("saml.idp_metadata_url", e.message))?)
        }
        (None, None) => None,
    };
    if let Some(m) = from_metadata {
        s.idp_entity_id = m.entity_id;
        s.idp_sso_url = m.sso_url;
        s.idp_certificates = m.certificates;
    }
    if let Some(e) = input.idp_entity_id {
        s.idp_entity_id = e.trim().to_string();
    }
    if let Some(u) = input.idp_sso_url {
        s.idp_sso_url = http_url("saml.idp_sso_url", &u)?;
    }
    if let Some(certs) = input.idp_certificates {
        s.idp_certificates = certs
            .iter()
            .map(|c| {
                metadata::certificate_der(c)
                    .map(|der| connections::pem_certificate(&der))
                    .map_err(|e| bad("saml.idp_certificates", e.message))
            })
            .collect::<ApiResult<_>>()?;
    }
    if let Some(v) = input.allow_idp_initiated {
        s.allow_idp_initiated = v;
    }
    if let Some(v) = input.allow_sha1 {
        s.allow_sha1 = v;
    }
    if let Some(v) = input.sign_requests {
        s.sign_requests = v;
    }
    if s.idp_entity_id.is_empty() || s.idp_sso_url.is_empty() || s.idp_certificates.is_empty() {
        return Err(ApiError::invalid_field(
            "saml",
            "required",
            "SAML connections need idp_metadata_xml, idp_metadata_url, or idp_entity_id + idp_sso_url + idp_certificates.",
        ));
    }
    Ok(s)
}

/// Applies an `oidc`/`oauth` input; returns the settings and the new secret, if any.
fn oauth_settings(
    field: &str,
    protocol: Protocol,
    current: Option<OAuthSettings>,
    input: OAuthInput,
) -> ApiResult<(OAuthSettings, Option<String>)> {
    let creating = current.is_none();
    let mut s = current.unwrap_or_default();
    if let Some(id) = input.client_id {
        s.client_id = id.trim().to_string();
    }
    if let Some(scopes) = input.scopes {
        s.scopes = scopes;
    }
    if let Some(d) = input.discovery_endpoint {
        s.discovery_endpoint = Some(http_url(&format!("{field}.discovery_endpoint"), &d)?);
    }
    for (name, value, slot) in [
        (
            "authorization_endpoint",
            input.authorization_endpoint,
            &mut s.authorization_endpoint,
        ),
        (
            "token_endpoint",
            input.token_endpoint,
            &mut s.token_endpoint,
        ),
        (
            "userinfo_endpoint",
            input.userinfo_endpoint,
            &mut s.userinfo_endpoint,
        ),
    ] {
        if let Some(v) = value {
            *slot = Some(http_url(&format!("{field}.{name}"), &v)?);
        }
    }
    let required = |name: &str| {
        ApiError::invalid_field(
            &format!("{field}.{name}"),
            "required",
            format!("{field}.{name} is required."),
        )
    };
    if s.client_id.is_empty() {
        return Err(required("client_id"));
    }
    if protocol == Protocol::Oidc && s.discovery_endpoint.is_none() {
        return Err(required("discovery_endpoint"));
    }
    if creating && input.client_secret.as_deref().is_none_or(str::is_empty) {
        return Err(required("client_secret"));
    }
    Ok((s, input.client_secret))
}

/// The IdP URLs and identifiers of `saml`/`oidc`/`oauth`: URLs at most [`URL_MAX`] characters,
/// client ids and secrets at most [`TOKEN_MAX`]. Errors: 422 naming the field
/// (`saml.idp_sso_url`, …).
fn check_lengths(saml: Option<&SamlInput>, oauth: [&Option<OAuthInput>; 2]) -> ApiResult<()> {
    use super::validate::max_chars;
    if let Some(s) = saml {
        max_chars(
            "saml.idp_metadata_url",
            s.idp_metadata_url.as_deref(),
            URL_MAX,
        )?;
        max_chars("saml.idp_entity_id", s.idp_entity_id.as_deref(), URL_MAX)?;
        max_chars("saml.idp_sso_url", s.idp_sso_url.as_deref(), URL_MAX)?;
    }
    for (key, o) in ["oidc", "oauth"].into_iter().zip(oauth) {
        let Some(o) = o else { continue };
        for (field, value, max) in [
            ("discovery_endpoint", &o.discovery_endpoint, URL_MAX),
            ("authorization_endpoint", &o.authorization_endpoint, URL_MAX),
            ("token_endpoint", &o.token_endpoint, URL_MAX),
            ("userinfo_endpoint", &o.userinfo_endpoint, URL_MAX),
            ("client_id", &o.client_id, TOKEN_MAX),
            ("client_secret", &o.client_secret, TOKEN_MAX),
        ] {
            max_chars(&format!("{key}.{field}"), value.as_deref(), max)?;
        }
    }
    Ok(())
}

fn domains(input: &[String]) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for d in input {
        let d = normalize(d)?;
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

fn with_sp(state: &AppState, c: connections::ConnectionConfig) -> ConnectionWithSp {
    let sp = login::sp_urls(&state.settings.public_url, &c);
    ConnectionWithSp {
        connection: c.connection,
        sp,
    }
}

/// `GET /connections` — filters `organization_id`, `connection_type`, `domain`, `search`.
async fn list_connections(
    State(state): State<AppState>,
    Env(ctx): Env,
    q: QueryMap,
) -> ApiResult<Json<List<Connection>>> {
    let params = ListParams::from_query(&q, Order::Desc)?;
    let filter = ConnectionFilter {
        organization_id: q.get("organization_id").map(IdFilter::parse),
        connection_type: q.get("connection_type").map(String::from),
        domain: q.get("domain").map(String::from),
        search: q.get("search").map(String::from),
        state: None,
    };
    let mut conn = state.db.acquire().await?;
    let rows = connections::list(&mut conn, &ctx.environment_id, &filter, &params).await?;
    let page = params.page(rows, |c| &c.connection.id);
    Ok(Json(List {
        object: page.object,
        data: page.data.into_iter().map(|c| c.connection).collect(),
        list_metadata: page.list_metadata,
    }))
}

/// `POST /connections` (extension) → 201 Connection + `sp`.
async fn create_connection(
    State(state): State<AppState>,
    Env(ctx): Env,
    AppJson(body): AppJson<CreateConnection>,
) -> ApiResult<(StatusCode, Json<ConnectionWithSp>)> {
    super::validate::non_blank("name", &body.name)?;
    super::validate::max_chars("name", Some(body.name.trim()), super::validate::NAME_MAX)?;
    check_lengths(body.saml.as_ref(), [&body.oidc, &body.oauth])?;
    let connection_type = match (&body.connection_type, &body.saml, &body.oidc) {
        (Some(t), _, _) => t.clone(),
        (None, Some(_), _) => "GenericSAML".to_string(),
        (None, None, Some(_)) => "GenericOIDC".to_string(),
        (None, None, None) => {
            return Err(ApiError::invalid_field(
                "connection_type",
                "required",
                "connection_type is required.",
            ));
        }
    };
    let protocol = protocol_of(&connection_type).ok_or_else(|| {
        bad(
            "connection_type",
            format!("Connection type '{connection_type}' is not supported."),
        )
    })?;
    if protocol != Protocol::Oauth && body.organization_id.is_none() {
        return Err(ApiError::invalid_field(
            "organization_id",
            "required",
            "SAML and OIDC connections belong to an organization.",
        ));
    }
    let state_value = check_state(body.state.as_deref().unwrap_or("active"))?;
    let (settings, client_secret, sp_key) = match protocol {
        Protocol::Saml => {
            let input = body.saml.ok_or_else(|| {
                ApiError::invalid_field("saml", "required", "saml settings are required.")
            })?;
            let s = saml_settings(&state, None, input).await?;
            let subject = format!("Keystead SP {}", body.name.trim());
            let key = tokio::task::spawn_blocking(move || signing::generate(&subject))
                .await
                .map_err(anyhow::Error::from)??;
            (
                Settings::Saml(s),
                None,
                Some((key.pkcs8_der, key.certificate_der)),
            )
        }
        Protocol::Oidc => {
            let input = body.oidc.ok_or_else(|| {
                ApiError::invalid_field("oidc", "required", "oidc settings are required.")
            })?;
            let (s, secret) = oauth_settings("oidc", protocol, None, input)?;
            (Settings::Oidc(s), secret, None)
        }
        Protocol::Oauth => {
            let input = body.oauth.ok_or_else(|| {
                ApiError::invalid_field("oauth", "required", "oauth settings are required.")
            })?;
            let (s, secret) = oauth_settings("oauth", protocol, None, input)?;
            (Settings::Oauth(s), secret, None)
        }
    };
    let domains = domains(&body.domains)?;
    // A malformed organization id names no organization: the same 422 as an unknown one.
    let organization_id = body
        .organization_id
        .as_deref()
        .map(|raw| OrganizationId::parse_lenient(raw).ok_or_else(|| connections::org_missing(raw)))
        .transpose()?;
    let new = NewConnection {
        organization_id,
        connection_type,
        name: body.name.trim().to_string(),
        state: state_value,
        settings,
        domains,
        client_secret,
        sp_key,
    };
    let mut tx = state.db.begin().await?;
    let created = connections::insert(&mut tx, &state.vault, &ctx.environment_id, new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(with_sp(&state, created))))
}

/// `GET /connections/{id}`.
async fn get_connection(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<ConnectionId>,
) -> ApiResult<Json<Connection>> {
    let mut conn = state.db.acquire().await?;
    connections::find(&mut conn, &ctx.environment_id, &id)
        .await?
        .map(|c| Json(c.connection))
        .ok_or_else(|| ApiError::not_found("Connection", id))
}

/// `PUT /connections/{id}` (extension) — partial update, incl. activation, certificate
/// rotation and re-reading the metadata URL.
async fn update_connection(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<ConnectionId>,
    AppJson(body): AppJson<UpdateConnection>,
) -> ApiResult<Json<ConnectionWithSp>> {
    let env = &ctx.environment_id;
    let current = {
        let mut conn = state.db.acquire().await?;
        connections::find(&mut conn, env, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("Connection", &id))?
    };
    if let Some(name) = &body.name {
        super::validate::non_blank("name", name)?;
        super::validate::max_chars("name", Some(name.trim()), super::validate::NAME_MAX)?;
    }
    check_lengths(body.saml.as_ref(), [&body.oidc, &body.oauth])?;
    let mut changes = ConnectionChanges {
        name: body.name.map(|n| n.trim().to_string()),
        state: body.state.as_deref().map(check_state).transpose()?,
        domains: body.domains.as_deref().map(domains).transpose()?,
        ..ConnectionChanges::default()
    };
    match current.settings {
        Settings::Saml(s) => {
            if let Some(input) = body.saml {
                changes.settings =
                    Some(Settings::Saml(saml_settings(&state, Some(s), input).await?));
            }
        }
        Settings::Oidc(s) => {
            if let Some(input) = body.oidc {
                let (s, secret) = oauth_settings("oidc", Protocol::Oidc, Some(s), input)?;
                changes.settings = Some(Settings::Oidc(s));
                changes.client_secret = secret;
            }
        }
        Settings::Oauth(s) => {
            if let Some(input) = body.oauth {
                let (s, secret) = oauth_settings("oauth", Protocol::Oauth, Some(s), input)?;
                changes.settings = Some(Settings::Oauth(s));
                changes.client_secret = secret;
            }
        }
    }
    let mut tx = state.db.begin().await?;
    let updated = connections::update(&mut tx, &state.vault, env, &id, changes).await?;
    tx.commit().await?;
    Ok(Json(with_sp(&state, updated)))
}

/// `DELETE /connections/{id}` → 204.
async fn delete_connection(
    State(state): State<AppState>,
    Env(ctx): Env,
    IdPath(id): IdPath<ConnectionId>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    connections::delete(&mut tx, &ctx.environment_id, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
