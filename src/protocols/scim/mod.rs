//! The SCIM 2.0 grammar (RFC 7643, RFC 7644), free of storage and routing: schema names and
//! attribute spelling ([`schema`]), the filter language (RFC 7644 §3.4.2.2, [`filter`]), PATCH
//! operations (RFC 7644 §3.5.2, [`patch`]) and error bodies (RFC 7644 §3.12, [`error`]). The SCIM
//! server ([`crate::scim`]) and the store's SQL translation of filters both build on it.

pub mod error;
pub mod filter;
pub mod patch;
pub mod schema;

/// The SCIM media type (RFC 7644 §3.1).
pub const CONTENT_TYPE: &str = "application/scim+json";

/// The SCIM base URL of a directory.
pub fn endpoint(public_url: &str, directory_id: &str) -> String {
    format!("{public_url}/scim/v2/{directory_id}")
}
