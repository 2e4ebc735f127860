//! Object storage: an S3-compatible bucket ([`s3`]), used by the audit-log S3 streams and by
//! CSV exports stored outside PostgreSQL.
//!
//! One client, [`s3::S3Store`], over the `object_store` crate (AWS Signature V4, any
//! S3-compatible endpoint, path-style or virtual-hosted requests, multipart uploads): a
//! whole-object [`s3::S3Store::put`], a streaming [`s3::Writer`] (one `PUT` for a small object,
//! a multipart upload past a few MiB, so an object is never whole in memory) and a streaming
//! [`s3::S3Store::get`]. Errors are [`StorageError`]s, classified so that a caller can tell a
//! refused credential from a passing failure.

pub mod error;
pub mod s3;

pub use error::{ErrorKind, StorageError};
pub use s3::{S3Config, S3Store, Writer};
