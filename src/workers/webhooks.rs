//! Webhook delivery: one HTTP POST per event per subscribed endpoint, from the outbox queue
//! (`webhook_deliveries`, filled by a trigger on `events`).
//!
//! Each POST carries the event JSON (`{object, id, event, data, created_at, context}`, compact,
//! the way the SDKs re-serialise it) and `WorkOS-Signature: t=<unix ms>, v1=<hex
//! HMAC-SHA256(secret, "<t>.<body>")>` (WORKOS-API-NOTES §3.4). A 2xx is success; anything else
//! (or a timeout) is retried with exponential backoff until `max_attempts`. Redirects are not
//! followed. Deliveries run concurrently, outside any transaction, so a slow or dead receiver
//! holds only its own slot. A delivery to an `http://` endpoint fails without retry while the
//! environment's `allow_http_webhook_endpoints` setting is off.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::Utc;
use hmac::{KeyInit, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::settings::webhooks::WebhookSettings;
use crate::state::AppState;
use crate::store::environment_settings;
use crate::store::webhook_deliveries::{self as deliveries, Claimed, Outcome};

/// `hex(HMAC-SHA256(secret, "<t>.<body>"))`, the `v1` of `WorkOS-Signature`.
pub fn sign(secret: &str, timestamp_ms: i64, body: &str) -> String {
    let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp_ms.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The event as delivered (spec `EventSchema`).
#[derive(Serialize)]
struct EventBody<'a> {
    object: &'static str,
    id: &'a str,
    event: &'a str,
    data: Value,
    #[serde(with = "crate::timestamp")]
    created_at: chrono::DateTime<Utc>,
    context: Value,
}

/// Integral floats become integers, as JavaScript prints them, so a body re-serialised by
/// `JSON.stringify` (the Node SDK's verification) is byte-identical.
fn js_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(js_numbers).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, js_numbers(v))).collect()),
        other => other,
    }
}

/// The compact JSON body of a delivery.
pub fn event_body(c: &Claimed) -> anyhow::Result<String> {
    Ok(serde_json::to_string(&EventBody {
        object: "event",
        id: &c.event_id,
        event: &c.event,
        data: js_numbers(c.data.clone()),
        created_at: c.created_at,
        context: Value::Object(Default::default()),
    })?)
}

/// The HTTP client deliveries use: timeouts, no redirects, no cookies.
pub fn client(s: &WebhookSettings) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(s.timeout)
        .connect_timeout(s.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Keystead-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the webhook HTTP client")
}

/// Whether the endpoint's scheme may be used now: `https`, or `http` while the environment's
/// `allow_http_webhook_endpoints` setting is on (turning it off stops deliveries to the
/// endpoints created while it was on; they fail without retry).
async fn scheme_allowed(state: &AppState, c: &Claimed) -> anyhow::Result<bool> {
    let http = c
        .endpoint_url
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("http:"));
    if !http {
        return Ok(true);
    }
    let mut conn = state.db.acquire().await?;
    Ok(
        environment_settings::get(&mut conn, &c.environment_id, &state.settings)
            .await?
            .allow_http_webhook_endpoints,
    )
}

/// Sends one claimed delivery and records the attempt.
async fn deliver(state: &AppState, http: &reqwest::Client, c: Claimed) -> anyhow::Result<()> {
    let s = &state.settings.webhooks;
    let secret = String::from_utf8(state.vault.open(&c.secret_enc)?)?;
    let body = event_body(&c)?;
    let t = Utc::now().timestamp_millis();
    let signature = format!("t={t}, v1={}", sign(&secret, t, &body));
    let started = Instant::now();
    if !scheme_allowed(state, &c).await? {
        let outcome = Outcome {
            status_code: None,
            error: Some(
                "http:// endpoints are not allowed in this environment \
                 (allow_http_webhook_endpoints)"
                    .to_string(),
            ),
            response_body: None,
            duration: started.elapsed(),
        };
        tracing::info!(
            endpoint_id = %c.endpoint_id,
            event_id = %c.event_id,
            "webhook delivery refused: plain http endpoint"
        );
        deliveries::record(&state.db, &c, &outcome, None).await?;
        return Ok(());
    }
    let sent = http
        .post(&c.endpoint_url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("WorkOS-Signature", signature)
        .body(body)
        .send()
        .await;
    let outcome = match sent {
        Ok(res) => {
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            Outcome {
                status_code: Some(status),
                error: None,
                response_body: Some(text.chars().take(1024).collect()),
                duration: started.elapsed(),
            }
        }
        Err(e) => Outcome {
            status_code: None,
            error: Some(if e.is_timeout() {
                "timeout".to_string()
            } else {
                e.without_url().to_string()
            }),
            response_body: None,
            duration: started.elapsed(),
        },
    };
    let attempt = u32::try_from(c.attempts).unwrap_or(u32::MAX);
    let retry_at =
        (!outcome.succeeded() && attempt < s.max_attempts).then(|| Utc::now() + s.backoff(attempt));
    tracing::info!(
        endpoint_id = %c.endpoint_id,
        event_id = %c.event_id,
        event = %c.event,
        attempt,
        status_code = ?outcome.status_code,
        error = ?outcome.error,
        retry = retry_at.is_some(),
        "webhook delivery attempt"
    );
    deliveries::record(&state.db, &c, &outcome, retry_at).await?;
    Ok(())
}

/// Sends every delivery due now, concurrently, until none is due; returns how many attempts
/// were made. Tests use it to drain the queue deterministically.
pub async fn run_once(state: &AppState) -> anyhow::Result<usize> {
    let s = &state.settings.webhooks;
    let http = client(s)?;
    let mut total = 0;
    loop {
        let batch = deliveries::claim(&state.db, 100, s.lease()).await?;
        if batch.is_empty() {
            return Ok(total);
        }
        total += batch.len();
        let mut set = JoinSet::new();
        for c in batch {
            let (state, http) = (state.clone(), http.clone());
            set.spawn(async move { deliver(&state, &http, c).await });
        }
        while let Some(done) = set.join_next().await {
            done??;
        }
    }
}

/// The worker loop: claims due deliveries while it has free slots, sends each in its own task,
/// and sleeps `poll_interval` when idle, until `shutdown` becomes `true`.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let s = state.settings.webhooks.clone();
    let http = match client(&s) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = ?e, "webhook worker not started");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(s.concurrency));
    tracing::info!(concurrency = s.concurrency, "webhook worker started");
    while !*shutdown.borrow() {
        let free = slots.available_permits();
        let claimed = if free > 0 {
            deliveries::claim(&state.db, free as i64, s.lease()).await
        } else {
            Ok(Vec::new())
        };
        match claimed {
            Ok(batch) if !batch.is_empty() => {
                for c in batch {
                    let Ok(permit) = slots.clone().acquire_owned().await else {
                        return;
                    };
                    let (state, http) = (state.clone(), http.clone());
                    tokio::spawn(async move {
                        if let Err(e) = deliver(&state, &http, c).await {
                            tracing::warn!(error = ?e, "webhook delivery could not be recorded");
                        }
                        drop(permit);
                    });
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = ?e, "claiming webhook deliveries failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(s.poll_interval) => {}
            _ = shutdown.changed() => {}
        }
    }
    let all = u32::try_from(s.concurrency).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(s.timeout, slots.acquire_many(all)).await;
    tracing::info!("webhook worker stopped");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn signature_and_backoff() {
        // Reference value computed independently: printf '1700000000000.{"a":1}' |
        // openssl dgst -sha256 -hmac whsec_test
        let sig = sign("whsec_test", 1_700_000_000_000, r#"{"a":1}"#);
        assert_eq!(
            sig,
            "33284ebef248a1f463f81384bfb39351b857cb4897c654b820611536fa084f1e"
        );
        assert_ne!(sig, sign("whsec_other", 1_700_000_000_000, r#"{"a":1}"#));
        let s = WebhookSettings::default();
        assert_eq!(s.backoff(1), Duration::from_secs(120));
        assert_eq!(s.backoff(2), Duration::from_secs(240));
        let total: Duration = (1..12).map(|a| s.backoff(a)).sum();
        assert!(total > Duration::from_secs(2 * 86_400) && total < Duration::from_secs(4 * 86_400));
        assert_eq!(
            js_numbers(serde_json::json!({"a": [1.0, 1.5]})),
            serde_json::json!({"a": [1, 1.5]})
        );
    }
}
