//! The four sink formats of audit-log streams, and what a sink's answer means for the stream.
//!
//! Every event is the same JSON object ([`StreamEvent`]: `object: "audit_log_event"`, its stable
//! `id` for de-duplication, `organization_id`, `action`, `version`, `occurred_at`, `actor`,
//! `targets`, `context`, `metadata`, `created_at`). Per type:
//!
//! - `GenericHttps`: `POST {url}` with a JSON array of events and `WorkOS-Signature: t=<unix
//!   ms>, v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, as webhooks are signed.
//! - `Datadog`: the logs intake API, `POST {url}/api/v2/logs` with `DD-API-KEY`, a JSON array
//!   of `{ddsource: "keystead", service, hostname, ddtags, date, message}` where `message` is the
//!   event's JSON.
//! - `Splunk`: the HTTP Event Collector, `POST {url}/services/collector/event` with
//!   `Authorization: Splunk <token>`, concatenated `{time, host, source, sourcetype, index?,
//!   event}` objects, one per line.
//! - `S3`: one gzip'd NDJSON object per batch at
//!   `{prefix}{organization_id}/YYYY/MM/DD/YYYYMMDDTHHMMSS.mmmZ-<ulid>.ndjson.gz`, so keys sort
//!   by time.
//!
//! A 2xx (or a stored object) is success; 401/403 (or a refused S3 credential) makes the stream
//! `invalid`; anything else (5xx, 429, timeouts, refused connections) is retried.

use std::io::Write;

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::storage::{ErrorKind, S3Config, S3Store};
use crate::store::audit_log_streams::{Claimed, Queued};

/// An event as every sink receives it.
#[derive(Debug, Serialize)]
pub struct StreamEvent<'a> {
    object: &'static str,
    id: &'a str,
    organization_id: &'a str,
    action: &'a str,
    version: Option<i32>,
    #[serde(with = "crate::timestamp")]
    occurred_at: DateTime<Utc>,
    actor: &'a Value,
    targets: &'a Value,
    context: &'a Value,
    metadata: Option<&'a Value>,
    #[serde(with = "crate::timestamp")]
    created_at: DateTime<Utc>,
}

impl<'a> StreamEvent<'a> {
    /// The event of a queue row, `None` when retention purged it before delivery.
    pub fn of(stream: &'a Claimed, q: &'a Queued) -> Option<Self> {
        Some(Self {
            object: "audit_log_event",
            id: &q.event_id,
            organization_id: stream.organization_id.as_str(),
            action: q.action.as_deref()?,
            version: q.version,
            occurred_at: q.occurred_at?,
            actor: q.actor.as_ref()?,
            targets: q.targets.as_ref()?,
            context: q.context.as_ref()?,
            metadata: q.metadata.as_ref(),
            created_at: q.created_at?,
        })
    }
}

/// Why a batch did not reach its sink.
#[derive(Debug)]
pub enum Failure {
    /// Passing: retried with back-off (state `error`).
    Retry(String),
    /// The sink refused the credentials or the configuration is unusable: state `invalid`,
    /// not retried until the stream is reconfigured.
    Invalid(String),
}

impl Failure {
    fn retry(e: impl std::fmt::Display) -> Self {
        Self::Retry(e.to_string())
    }
}

/// What a send needs besides the batch.
pub struct Sink<'a> {
    /// The HTTP client (timeouts, no redirects).
    pub http: &'a reqwest::Client,
    /// The stream.
    pub stream: &'a Claimed,
    /// Its opened secret.
    pub secret: &'a str,
}

#[derive(Deserialize)]
struct UrlConfig {
    url: String,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    index: Option<String>,
    #[serde(default)]
    sourcetype: Option<String>,
}

#[derive(Deserialize)]
struct S3SinkConfig {
    bucket: String,
    region: String,
    access_key_id: String,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    path_style: bool,
    #[serde(default)]
    prefix: String,
}

/// The URL a stream sends to, if its type has one (for the plain-HTTP check).
pub fn target_url(stream: &Claimed) -> Option<String> {
    match stream.kind.as_str() {
        "S3" => stream.config.get("endpoint")?.as_str().map(str::to_string),
        _ => stream.config.get("url")?.as_str().map(str::to_string),
    }
}

impl Sink<'_> {
    /// Sends `events` (non-empty) in the stream's format.
    pub async fn send(&self, events: &[StreamEvent<'_>]) -> Result<(), Failure> {
        let invalid =
            |e: serde_json::Error| Failure::Invalid(format!("unusable configuration: {e}"));
        match self.stream.kind.as_str() {
            "S3" => {
                let c: S3SinkConfig =
                    serde_json::from_value(self.stream.config.clone()).map_err(invalid)?;
                self.s3(c, events).await
            }
            kind => {
                let c: UrlConfig =
                    serde_json::from_value(self.stream.config.clone()).map_err(invalid)?;
                let request = match kind {
                    "GenericHttps" => self.generic(&c, events)?,
                    "Datadog" => self.datadog(&c, events)?,
                    "Splunk" => self.splunk(&c, events)?,
                    other => return Err(Failure::Invalid(format!("unknown type {other}"))),
                };
                http_outcome(request.send().await).await
            }
        }
    }

    fn generic(
        &self,
        c: &UrlConfig,
        events: &[StreamEvent<'_>],
    ) -> Result<reqwest::RequestBuilder, Failure> {
        let body = serde_json::to_string(events).map_err(Failure::retry)?;
        let t = Utc::now().timestamp_millis();
        let signature = format!(
            "t={t}, v1={}",
            crate::workers::webhooks::sign(self.secret, t, &body)
        );
        Ok(self
            .http
            .post(&c.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("WorkOS-Signature", signature)
            .body(body))
    }

    fn datadog(
        &self,
        c: &UrlConfig,
        events: &[StreamEvent<'_>],
    ) -> Result<reqwest::RequestBuilder, Failure> {
        let service = c.service.as_deref().unwrap_or("keystead");
        let logs = events
            .iter()
            .map(|e| {
                Ok(json!({
                    "ddsource": "keystead",
                    "service": service,
                    "hostname": "keystead",
                    "ddtags": format!("organization_id:{},action:{}", e.organization_id, e.action),
                    "date": crate::timestamp::format(&e.occurred_at),
                    "message": serde_json::to_string(e)?,
                }))
            })
            .collect::<Result<Vec<Value>, serde_json::Error>>()
            .map_err(Failure::retry)?;
        let url = format!("{}/api/v2/logs", c.url.trim_end_matches('/'));
        Ok(self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("DD-API-KEY", self.secret)
            .json(&logs))
    }

    fn splunk(
        &self,
        c: &UrlConfig,
        events: &[StreamEvent<'_>],
    ) -> Result<reqwest::RequestBuilder, Failure> {
        let sourcetype = c.sourcetype.as_deref().unwrap_or("keystead:audit_log");
        let mut body = String::new();
        for e in events {
            let mut hec = json!({
                "time": e.occurred_at.timestamp_millis() as f64 / 1000.0,
                "host": "keystead",
                "source": "keystead",
                "sourcetype": sourcetype,
                "event": e,
            });
            if let (Some(index), Some(obj)) = (&c.index, hec.as_object_mut()) {
                obj.insert("index".into(), Value::from(index.as_str()));
            }
            body.push_str(&serde_json::to_string(&hec).map_err(Failure::retry)?);
            body.push('\n');
        }
        let url = format!("{}/services/collector/event", c.url.trim_end_matches('/'));
        Ok(self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Splunk {}", self.secret),
            )
            .body(body))
    }

    async fn s3(&self, c: S3SinkConfig, events: &[StreamEvent<'_>]) -> Result<(), Failure> {
        let store = S3Store::new(&S3Config {
            endpoint: c.endpoint,
            region: c.region,
            bucket: c.bucket,
            access_key_id: c.access_key_id,
            secret_access_key: self.secret.to_string(),
            path_style: c.path_style,
        })
        .map_err(|e| Failure::Invalid(format!("unusable configuration: {e}")))?;
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        for e in events {
            serde_json::to_writer(&mut gz, e).map_err(Failure::retry)?;
            gz.write_all(b"\n").map_err(Failure::retry)?;
        }
        let bytes = gz.finish().map_err(Failure::retry)?;
        let key = object_key(&c.prefix, self.stream.organization_id.as_str(), Utc::now());
        store.put(&key, bytes).await.map_err(|e| match e.kind {
            ErrorKind::Denied => Failure::Invalid(format!("S3 refused the credentials: {e}")),
            _ => Failure::Retry(format!("S3: {e}")),
        })
    }
}

/// `{prefix}{org}/YYYY/MM/DD/YYYYMMDDTHHMMSS.mmmZ-<ulid>.ndjson.gz`: sorts by time, unique.
pub fn object_key(prefix: &str, org: &str, at: DateTime<Utc>) -> String {
    format!(
        "{prefix}{org}/{}/{}-{}.ndjson.gz",
        at.format("%Y/%m/%d"),
        at.format("%Y%m%dT%H%M%S%.3fZ"),
        ulid::Ulid::new()
    )
}

/// Success, `invalid` (401/403) or retry, from an HTTP sink's answer.
async fn http_outcome(sent: Result<reqwest::Response, reqwest::Error>) -> Result<(), Failure> {
    match sent {
        Ok(res) if res.status().is_success() => Ok(()),
        Ok(res) => {
            let status = res.status();
            let text: String = res
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            let reason = format!("HTTP {}: {}", status.as_u16(), text.trim());
            if status == reqwest::StatusCode::UNAUTHORIZED
                || status == reqwest::StatusCode::FORBIDDEN
            {
                Err(Failure::Invalid(reason))
            } else {
                Err(Failure::Retry(reason))
            }
        }
        Err(e) if e.is_timeout() => Err(Failure::Retry("timeout".into())),
        Err(e) => Err(Failure::Retry(e.without_url().to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_sort_by_time() {
        let t1: DateTime<Utc> = "2026-01-02T03:04:05.678Z".parse().unwrap();
        let t2: DateTime<Utc> = "2026-01-02T03:04:05.679Z".parse().unwrap();
        let a = object_key("logs/", "org_1", t1);
        assert!(
            a.starts_with("logs/org_1/2026/01/02/20260102T030405.678Z-"),
            "{a}"
        );
        assert!(a.ends_with(".ndjson.gz"));
        assert!(a < object_key("logs/", "org_1", t2));
    }
}
