//! [`StorageError`]: a failed storage call, classified by [`ErrorKind`] so that a caller can
//! tell a refused credential from a passing failure.

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
