//! The download of a ready audit-log export, a Keystead extension:
//! `GET /audit_logs/exports/{auditLogExportId}/download?expires=<unix seconds>&signature=<hex>`,
//! public (no API key: the URL is the credential, as WorkOS's pre-signed file URLs are).
//!
//! `GET /audit_logs/exports/{id}` issues the URL ([`signed_url`]): `signature` is
//! `hex(HMAC-SHA256(key, "audit_log_export_download\n<id>\n<expires>"))` with a key derived from
//! the server's master key (`Vault::derive_key`, so every replica sharing that key accepts it),
//! and `expires` is the issue time plus `url_ttl` (10 minutes). The route checks the signature
//! in constant time before anything else (403 `invalid_download_url`), then the expiry (403
//! `download_url_expired`), then that the export is ready (404). The body is the CSV file,
//! streamed chunk by chunk from where the worker stored it (Postgres chunks, or the object in
//! the configured S3-compatible bucket), never whole in memory.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::{StreamExt, stream};
use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::error::{ApiError, ApiResult};
use crate::http::{IdPath, QueryMap};
use crate::ids::AuditLogExportId;
use crate::state::AppState;
use crate::storage::S3Store;
use crate::store::audit_log_exports::{self, File};

/// The purpose the URL-signing key is derived for.
const KEY_PURPOSE: &str = "audit-log-export-download-urls";

fn mac(state: &AppState, id: &AuditLogExportId, expires: i64) -> ApiResult<hmac::Hmac<Sha256>> {
    let key = state.vault.derive_key(KEY_PURPOSE);
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&key)
        .map_err(|e| anyhow::anyhow!("URL-signing key: {e}"))?;
    mac.update(b"audit_log_export_download\n");
    mac.update(id.as_str().as_bytes());
    mac.update(b"\n");
    mac.update(expires.to_string().as_bytes());
    Ok(mac)
}

/// The download URL of export `id`, valid until `expires` (Unix seconds), under the server's
/// public URL. `GET /audit_logs/exports/{id}` calls it with now + `url_ttl`; tests call it with
/// a time in the past to get an expired URL.
pub fn signed_url(state: &AppState, id: &AuditLogExportId, expires: i64) -> ApiResult<String> {
    let signature = hex::encode(mac(state, id, expires)?.finalize().into_bytes());
    Ok(format!(
        "{}/audit_logs/exports/{id}/download?expires={expires}&signature={signature}",
        state.settings.public_url
    ))
}

fn invalid_url() -> ApiError {
    ApiError::Forbidden {
        code: "invalid_download_url",
        message: "The download URL is invalid.".into(),
        extra: Default::default(),
    }
}

/// Checks `expires` and `signature` of a download URL for `id`.
fn verify(state: &AppState, id: &AuditLogExportId, q: &QueryMap) -> ApiResult<()> {
    let expires = q.get("expires").and_then(|e| e.parse::<i64>().ok());
    let signature = q.get("signature").and_then(|s| hex::decode(s).ok());
    let (Some(expires), Some(signature)) = (expires, signature) else {
        return Err(invalid_url());
    };
    // `verify_slice` compares in constant time.
    mac(state, id, expires)?
        .verify_slice(&signature)
        .map_err(|_| invalid_url())?;
    if Utc::now().timestamp() > expires {
        return Err(ApiError::Forbidden {
            code: "download_url_expired",
            message: "The download URL has expired: get the export again for a fresh one.".into(),
            extra: Default::default(),
        });
    }
    Ok(())
}

/// The file's chunks stored in Postgres, one query per chunk as the client reads.
fn postgres_body(state: AppState, file: File) -> Body {
    let chunks = stream::unfold(0, move |seq| {
        let (state, file) = (state.clone(), file.clone());
        async move {
            if seq >= file.chunk_count {
                return None;
            }
            let next = match audit_log_exports::chunk(&state.db, &file, seq).await {
                Ok(Some(data)) => Ok(Bytes::from(data)),
                Ok(None) => Err(std::io::Error::other("the export's chunk is gone")),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            Some((next, seq + 1))
        }
    });
    Body::from_stream(chunks)
}

/// The file's object in the configured bucket, streamed as the bucket sends it.
async fn s3_body(state: &AppState, file: &File) -> ApiResult<Body> {
    let (Some(config), Some(key)) = (&state.settings.audit_log_exports.s3, &file.object_key) else {
        return Err(anyhow::anyhow!(
            "export {} is stored in a bucket, but none is configured",
            file.id
        )
        .into());
    };
    let store = S3Store::new(config).map_err(anyhow::Error::from)?;
    let object = store.get(key).await.map_err(anyhow::Error::from)?;
    Ok(Body::from_stream(
        object.map(|chunk| chunk.map_err(std::io::Error::other)),
    ))
}

/// `GET /audit_logs/exports/{auditLogExportId}/download` → 200 `text/csv`, streamed. Errors:
/// 403 `invalid_download_url` (missing, malformed or wrong signature), 403
/// `download_url_expired`, 404 unknown export or not ready.
pub async fn download(
    State(state): State<AppState>,
    IdPath(id): IdPath<AuditLogExportId>,
    q: QueryMap,
) -> ApiResult<Response> {
    verify(&state, &id, &q)?;
    let mut conn = state.db.acquire().await?;
    let file = audit_log_exports::ready_file(&mut conn, &id)
        .await?
        .ok_or_else(|| ApiError::not_found_id::<AuditLogExportId>(id.as_str()))?;
    drop(conn);
    let size = file.size_bytes;
    let disposition = format!("attachment; filename=\"{id}.csv\"");
    let body = match file.storage.as_str() {
        "s3" => s3_body(&state, &file).await?,
        _ => postgres_body(state, file),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}
