//! Protocol engines for Enterprise SSO and SCIM, free of HTTP handlers and storage:
//! [`saml`] (SP: AuthnRequest, response verification and validation, SP metadata), [`oidc`]
//! (GenericOIDC and the OAuth providers: authorization URL, code exchange, ID-token
//! validation, user-info), [`connection`] (a connection's protocol settings), [`profile`]
//! (attribute mapping to the WorkOS Profile), [`outbound`] (SSRF-guarded HTTP), [`runtime`]
//! (the engines' shared state) and [`scim`] (filter/PATCH grammar, schema names).
//!
//! The endpoints identity providers call are `crate::idp`; the SSO login flow that runs these
//! engines (pending requests, profiles, codes, events) is `crate::auth::sso`.

pub mod connection;
pub mod oidc;
pub mod outbound;
pub mod profile;
pub mod runtime;
pub mod saml;
pub mod scim;

/// Why an SSO login was refused, in the words the `authentication.sso_failed` event and the
/// error redirect (`error`, `error_description`) use.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Machine-readable reason, e.g. `signature_invalid`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl Failure {
    /// A new failure.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// `uri` with `params` appended to its query (absent values skipped); `uri` unchanged when it
/// does not parse.
pub fn with_query(uri: &str, params: &[(&str, Option<&str>)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in params {
                    if let Some(v) = v {
                        q.append_pair(k, v);
                    }
                }
            }
            u.to_string()
        }
        Err(_) => uri.to_string(),
    }
}
