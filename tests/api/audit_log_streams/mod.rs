//! Audit-log streams (`/organizations/{id}/audit_log_stream`, extension) and the retention
//! purge: configuration and its errors, tenancy and secrets here; delivery to local receivers
//! (GenericHttps signature, Datadog and Splunk shapes, retries, `invalid`, a restart of the real
//! binary) in [`delivery`]; the S3 sink against moto and the purge in [`s3_purge`].

mod delivery;
mod s3_purge;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use keystead::ids::OrganizationId;
use serde_json::{Value, json};

use crate::support::TestApp;

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

/// A local HTTP sink answering each request with the next status of `script` (then 200).
#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

#[derive(Clone)]
struct Rx {
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Arc<Mutex<Vec<u16>>>,
}

async fn record(State(rx): State<Rx>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    rx.hits.lock().unwrap().push(Hit {
        path: uri.path().to_string(),
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    });
    let mut script = rx.script.lock().unwrap();
    let status = if script.is_empty() {
        200
    } else {
        script.remove(0)
    };
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    /// Starts a receiver on 127.0.0.1 answering `script` in order, then 200.
    pub async fn start(script: &[u16]) -> Self {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let rx = Rx {
            hits: hits.clone(),
            script: Arc::new(Mutex::new(script.to_vec())),
        };
        let app = Router::new().fallback(record).with_state(rx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base: format!("http://{addr}"),
            hits,
        }
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Every event received so far, batch after batch (each hit's body is a JSON array).
    pub fn events(&self) -> Vec<Value> {
        self.hits()
            .iter()
            .flat_map(|h| serde_json::from_str::<Vec<Value>>(&h.body).unwrap())
            .collect()
    }
}

pub async fn org(app: &TestApp) -> String {
    let res = app.post("/organizations", &json!({"name": "Acme"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body["id"].as_str().unwrap().to_string()
}

/// Declares the `user.signed_in` action (targets of type `team`).
pub async fn schema(app: &TestApp) {
    let res = app
        .post(
            "/audit_logs/actions/user.signed_in/schemas",
            &json!({"targets": [{"type": "team"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
}

/// Ingests one `user.signed_in` event for `org` whose actor is named `name`.
pub async fn ingest(app: &TestApp, org: &str, name: &str) {
    let res = app
        .post(
            "/audit_logs/events",
            &json!({"organization_id": org, "event": {
                "action": "user.signed_in",
                "occurred_at": chrono::Utc::now().to_rfc3339(),
                "actor": {"id": "user_1", "type": "user", "name": name},
                "targets": [{"id": "team_1", "type": "team"}],
                "context": {"location": "203.0.113.7", "user_agent": "curl/8"},
                "metadata": {"n": name},
            }}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body, json!({"success": true}));
}

/// Configures `org`'s stream; asserts `status`.
pub async fn configure(app: &TestApp, org: &str, body: Value, status: StatusCode) -> Value {
    let res = app
        .post(&format!("/organizations/{org}/audit_log_stream"), &body)
        .await;
    assert_eq!(res.status, status, "{}", res.text);
    res.body
}

/// Events still queued for `org`'s stream.
pub async fn queued(app: &TestApp, org: &str) -> i64 {
    let mut conn = app.pool.acquire().await.unwrap();
    let org: OrganizationId = org.parse().unwrap();
    keystead::store::audit_log_streams::queued(&mut conn, &app.tenant.environment_id, &org)
        .await
        .unwrap()
}

/// The stream as `GET` shows it.
pub async fn stream(app: &TestApp, org: &str) -> Value {
    let res = app
        .get(&format!("/organizations/{org}/audit_log_stream"))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body
}

#[tokio::test]
async fn a_stream_is_created_shown_reconfigured_and_deleted() {
    let app = TestApp::new().await;
    let org = org(&app).await;
    let path = format!("/organizations/{org}/audit_log_stream");
    assert_eq!(app.get(&path).await.status, StatusCode::NOT_FOUND);
    let config = app
        .get(&format!("/organizations/{org}/audit_log_configuration"))
        .await;
    assert_eq!(config.body["log_stream"], Value::Null, "{}", config.text);

    let created = configure(
        &app,
        &org,
        json!({"type": "GenericHttps", "url": "https://siem.example.com/ingest"}),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["object"], "audit_log_stream");
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("als_"), "{id}");
    assert_eq!(created["type"], "GenericHttps");
    assert_eq!(created["state"], "active");
    assert_eq!(created["last_synced_at"], Value::Null);
    assert_eq!(created["organization_id"], org.as_str());
    assert_eq!(created["config"]["url"], "https://siem.example.com/ingest");
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 30,
        "{secret}"
    );

    let shown = stream(&app, &org).await;
    assert_eq!(shown["id"], id.as_str());
    assert!(shown.get("secret").is_none(), "the secret is shown once");
    let config = app
        .get(&format!("/organizations/{org}/audit_log_configuration"))
        .await;
    assert_eq!(
        config.body["log_stream"],
        json!({"id": id, "type": "GenericHttps", "state": "active", "last_synced_at": null,
               "created_at": created["created_at"]})
    );

    // Reconfiguring keeps the id; a client-given secret is never returned, and only its
    // ciphertext is stored.
    let datadog = configure(
        &app,
        &org,
        json!({"type": "Datadog", "api_key": "dd-api-key-0123456789", "site": "datadoghq.eu"}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(datadog["id"], id.as_str());
    assert_eq!(datadog["type"], "Datadog");
    assert_eq!(
        datadog["config"]["url"],
        "https://http-intake.logs.datadoghq.eu"
    );
    assert!(datadog.get("secret").is_none());
    assert!(!datadog.to_string().contains("dd-api-key"));
    assert!(!stream(&app, &org).await.to_string().contains("dd-api-key"));
    let stored: Vec<u8> = sqlx::query_scalar("select secret_enc from audit_log_streams")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        !stored
            .windows(b"dd-api-key".len())
            .any(|w| w == b"dd-api-key")
    );
    assert_eq!(
        app.state.vault.open(&stored).unwrap(),
        b"dd-api-key-0123456789"
    );

    assert_eq!(app.delete(&path).await.status, StatusCode::NO_CONTENT);
    let gone = app.get(&path).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["code"], "entity_not_found", "{}", gone.text);
    assert_eq!(app.delete(&path).await.status, StatusCode::NOT_FOUND);
    let config = app
        .get(&format!("/organizations/{org}/audit_log_configuration"))
        .await;
    assert_eq!(config.body["log_stream"], Value::Null);
}

#[tokio::test]
async fn another_environments_organization_is_404_and_nothing_is_written() {
    let app = TestApp::new().await;
    let org = org(&app).await;
    configure(
        &app,
        &org,
        json!({"type": "Splunk", "url": "https://splunk.example.com:8088", "token": "hec"}),
        StatusCode::CREATED,
    )
    .await;
    let other = app.new_tenant("Other").await;
    let path = format!("/organizations/{org}/audit_log_stream");
    let key = Some(other.api_key.as_str());
    let body = json!({"type": "GenericHttps", "url": "https://evil.example.com"});
    use axum::http::Method;
    for (method, body) in [
        (Method::POST, Some(&body)),
        (Method::GET, None),
        (Method::DELETE, None),
    ] {
        let res = app.send(method.clone(), &path, key, body).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{method} {}", res.text);
    }
    for unknown in ["org_01ARZ3NDEKTSV4RRFFQ69G5FAV", "not-an-id"] {
        let res = app
            .get(&format!("/organizations/{unknown}/audit_log_stream"))
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
    }
    let res = app
        .send(
            Method::GET,
            &format!("/organizations/{org}/audit_log_configuration"),
            key,
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(stream(&app, &org).await["type"], "Splunk", "unchanged");
}

#[tokio::test]
async fn bad_stream_bodies_are_422_naming_each_field_and_write_nothing() {
    let app = TestApp::with(|s| s.webhooks.allow_http = Some(false)).await;
    let org = org(&app).await;
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (json!({}), vec![("type", "required")]),
        (json!({"type": "Kafka"}), vec![("type", "invalid")]),
        (json!({"type": 3}), vec![("type", "invalid")]),
        (json!({"type": "GenericHttps"}), vec![("url", "required")]),
        (
            json!({"type": "GenericHttps", "url": "ftp://x.example.com"}),
            vec![("url", "invalid_url")],
        ),
        (
            json!({"type": "GenericHttps", "url": "not a url"}),
            vec![("url", "invalid_url")],
        ),
        (
            json!({"type": "GenericHttps", "url": "http://plain.example.com"}),
            vec![("url", "invalid_url")],
        ),
        (
            json!({"type": "GenericHttps", "url": "https://u:p@x.example.com"}),
            vec![("url", "invalid_url")],
        ),
        (
            json!({"type": "GenericHttps", "url": format!("https://x.com/{}", "a".repeat(3000))}),
            vec![("url", "too_long")],
        ),
        (
            json!({"type": "Datadog", "site": "datadoghq.moon"}),
            vec![("api_key", "required"), ("site", "invalid")],
        ),
        (
            json!({"type": "Datadog", "api_key": 42}),
            vec![("api_key", "invalid")],
        ),
        (
            json!({"type": "Splunk", "url": "https://s.example.com", "token": ""}),
            vec![("token", "required")],
        ),
        (
            json!({"type": "Splunk"}),
            vec![("url", "required"), ("token", "required")],
        ),
        (
            json!({"type": "S3"}),
            vec![
                ("bucket", "required"),
                ("access_key_id", "required"),
                ("secret_access_key", "required"),
            ],
        ),
        (
            json!({"type": "S3", "bucket": "Bad_Bucket", "access_key_id": "a",
                   "secret_access_key": "s", "endpoint": "minio:9000", "path_style": "yes",
                   "prefix": "a/../b"}),
            vec![
                ("bucket", "invalid"),
                ("endpoint", "invalid_url"),
                ("path_style", "invalid"),
                ("prefix", "invalid"),
            ],
        ),
    ];
    for (body, want) in cases {
        let res = app
            .post(&format!("/organizations/{org}/audit_log_stream"), &body)
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            res.text
        );
        assert_eq!(
            res.body["code"], "invalid_request_parameters",
            "{}",
            res.text
        );
        let mut got: Vec<(String, String)> = res.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["field"].as_str().unwrap().to_string(),
                    e["code"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        got.sort();
        let mut want: Vec<(String, String)> = want
            .iter()
            .map(|(f, c)| (f.to_string(), c.to_string()))
            .collect();
        want.sort();
        assert_eq!(got, want, "{body}");
    }
    let res = app
        .post(
            &format!("/organizations/{org}/audit_log_stream"),
            &json!(["not", "an", "object"]),
        )
        .await;
    assert!(res.status.is_client_error(), "{}", res.text);
    assert_eq!(app.count_rows("audit_log_streams").await, 0);
}
