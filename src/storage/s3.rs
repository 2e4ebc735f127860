//! An S3-compatible bucket ([`S3Store`]) configured by an [`S3Config`]: AWS S3 itself, MinIO,
//! Ceph, R2, moto, … Requests are signed with AWS Signature V4 by `object_store`; the endpoint
//! may be `http://` (local servers, tests) or `https://`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
};
use tokio::io::AsyncWriteExt;

use super::error::{ErrorKind, StorageError};

/// Where a bucket is and how to sign for it. `Debug` never prints the secret key.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// Base URL of an S3-compatible server (`http://127.0.0.1:9000`); `None` for AWS S3, where
    /// the region picks the endpoint.
    pub endpoint: Option<String>,
    /// The region the requests are signed for (`us-east-1` when the server does not care).
    pub region: String,
    /// The bucket's name.
    pub bucket: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Path-style requests (`{endpoint}/{bucket}/{key}`), which most self-hosted servers need;
    /// `false` for virtual-hosted style (`{bucket}.{endpoint}/{key}`).
    pub path_style: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("path_style", &self.path_style)
            .finish()
    }
}

/// A client of one bucket. Cheap to clone.
#[derive(Clone, Debug)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
}

/// Timeout of one request to the store.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl S3Store {
    /// A client for `config`; fails only on a malformed configuration (no request is made).
    pub fn new(config: &S3Config) -> Result<Self, StorageError> {
        let mut builder = AmazonS3Builder::new()
            .with_region(&config.region)
            .with_bucket_name(&config.bucket)
            .with_access_key_id(&config.access_key_id)
            .with_secret_access_key(&config.secret_access_key)
            .with_virtual_hosted_style_request(!config.path_style)
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(REQUEST_TIMEOUT)
                    .with_connect_timeout(Duration::from_secs(10)),
            )
            // The callers (stream and export workers) retry with their own back-off; this
            // only smooths over a dropped connection.
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(2),
                    base: 2.0,
                },
                max_retries: 2,
                retry_timeout: Duration::from_secs(20),
            });
        if let Some(endpoint) = &config.endpoint {
            let http = endpoint
                .get(..7)
                .is_some_and(|p| p.eq_ignore_ascii_case("http://"));
            builder = builder
                .with_endpoint(endpoint.trim_end_matches('/'))
                .with_allow_http(http);
        }
        let store = builder.build()?;
        Ok(Self {
            store: Arc::new(store),
        })
    }

    /// Stores `bytes` as object `key` in one request, replacing any object there.
    pub async fn put(&self, key: &str, bytes: impl Into<Bytes>) -> Result<(), StorageError> {
        let payload = PutPayload::from_bytes(bytes.into());
        self.store.put(&path(key)?, payload).await?;
        Ok(())
    }

    /// A writer that streams object `key`; nothing is visible until [`Writer::finish`].
    pub fn writer(&self, key: &str) -> Result<Writer, StorageError> {
        Ok(Writer {
            inner: BufWriter::new(self.store.clone(), path(key)?),
        })
    }

    /// Object `key`'s bytes, streamed. A missing object is [`ErrorKind::NotFound`].
    pub async fn get(
        &self,
        key: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, StorageError>>, StorageError> {
        let result = self.store.get(&path(key)?).await?;
        Ok(result
            .into_stream()
            .map(|chunk| chunk.map_err(StorageError::from))
            .boxed())
    }

    /// Deletes object `key` (no error when it is already gone).
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&path(key)?).await {
            Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// `key` as an object path (`a/b/c.gz`: no empty segments, no `.`/`..`).
fn path(key: &str) -> Result<Path, StorageError> {
    Path::parse(key).map_err(|e| StorageError {
        kind: ErrorKind::Other,
        message: format!("invalid object key: {e}"),
    })
}

/// Streams one object: chunks are buffered up to 10 MiB, then sent as multipart upload parts.
/// [`Writer::finish`] completes the object; dropping the writer (or [`Writer::abort`]) leaves
/// nothing behind but parts the store cleans up.
#[derive(Debug)]
pub struct Writer {
    inner: BufWriter,
}

impl Writer {
    /// Appends `bytes`.
    pub async fn write(&mut self, bytes: impl Into<Bytes>) -> Result<(), StorageError> {
        self.inner.put(bytes.into()).await?;
        Ok(())
    }

    /// Completes the object.
    pub async fn finish(mut self) -> Result<(), StorageError> {
        self.inner.shutdown().await.map_err(|e| StorageError {
            kind: io_kind(&e),
            message: e.to_string(),
        })
    }

    /// Abandons the object (aborts a started multipart upload).
    pub async fn abort(mut self) -> Result<(), StorageError> {
        self.inner.abort().await?;
        Ok(())
    }
}

/// The kind of an `object_store` error that came back through `AsyncWrite`.
fn io_kind(e: &std::io::Error) -> ErrorKind {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => ErrorKind::Denied,
        std::io::ErrorKind::NotFound => ErrorKind::NotFound,
        _ => ErrorKind::Other,
    }
}
