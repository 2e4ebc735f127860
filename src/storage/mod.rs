//! Object storage: an S3-compatible bucket ([`s3`]), used by the audit-log S3 streams and by
//! CSV exports stored outside PostgreSQL.
//!
//! One client, [`s3::S3Store`], over the `object_store` crate (AWS Signature V4, any
//! S3-compatible endpoint, path-style or virtual-hosted requests, multipart uploads): a
//! whole-object [`s3::S3Store::put`], a streaming [`s3::Writer`] (one `PUT` for a small object,
//! a multipart upload past a few MiB, so an object is never whole in memory) and a streaming
//! [`s3::S3Store::get`]. Errors are [`StorageError`]s, classified so that a caller can tell a
//! refused credential from a passing failure.

pub mod s3;

pub use s3::{S3Config, S3Store, Writer};

/// What kind of failure a storage call met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The store refused the credentials or the operation (HTTP 401 or 403): retrying will not
    /// help until the configuration changes.
    Denied,
    /// The object or the bucket does not exist.
    NotFound,
    /// Anything else (network, timeout, 5xx): worth retrying.
    Other,
}

/// A failed storage call: its [`ErrorKind`] and a message without credentials.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct StorageError {
    /// The kind of failure.
    pub kind: ErrorKind,
    /// What happened, for logs and for the stream's last error.
    pub message: String,
}

impl From<object_store::Error> for StorageError {
    fn from(e: object_store::Error) -> Self {
        let kind = match &e {
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => ErrorKind::Denied,
            object_store::Error::NotFound { .. } => ErrorKind::NotFound,
            _ => ErrorKind::Other,
        };
        Self {
            kind,
            message: e.to_string(),
        }
    }
}
