//! Webhook endpoints (`/webhook_endpoints`) and durable signed delivery: real HTTP deliveries to
//! a local receiver, verified in Rust and by the official Python and Node SDKs; retries with
//! backoff, giving up, disabled endpoints, two concurrent workers, a slow receiver, and a
//! restart of the real binary.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::post;
use keystead::state::AppState;
use keystead::workers::webhooks;
use serde_json::{Value, json};

use crate::binary::Server;
use crate::directories::{new_directory, scim};
use crate::support::TestApp;

/// One received POST: (signature header, raw body).
type Hit = (String, String);

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    failures_left: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct RxState {
    hits: Arc<Mutex<Vec<Hit>>>,
    failures_left: Arc<AtomicUsize>,
    delay: Duration,
}

async fn handle(State(s): State<RxState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    tokio::time::sleep(s.delay).await;
    let sig = headers
        .get("workos-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    s.hits
        .lock()
        .unwrap()
        .push((sig, String::from_utf8_lossy(&body).to_string()));
    let fail = s
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// A receiver on 127.0.0.1 that fails the first `failures` requests and answers after `delay`.
pub async fn receiver(failures: usize, delay: Duration) -> Receiver {
    let hits = Arc::new(Mutex::new(Vec::new()));
    let failures_left = Arc::new(AtomicUsize::new(failures));
    let state = RxState {
        hits: hits.clone(),
        failures_left: failures_left.clone(),
        delay,
    };
    let app = Router::new().route("/hook", post(handle)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver {
        url: format!("http://{addr}/hook"),
        hits,
        failures_left,
    }
}

impl Receiver {
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

async fn endpoint(app: &TestApp, url: &str, events: &[&str]) -> Value {
    let res = app
        .post(
            "/webhook_endpoints",
            &json!({"endpoint_url": url, "events": events}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body
}

/// Checks `t=<ms>, v1=<hex>` against the secret, as the SDKs do.
pub fn verify(secret: &str, header: &str, body: &str) -> bool {
    let Some((t, v1)) = header.split_once(", ") else {
        return false;
    };
    let (t, v1) = (t.trim_start_matches("t="), v1.trim_start_matches("v1="));
    let t: i64 = t.parse().unwrap();
    let age = chrono::Utc::now().timestamp_millis() - t;
    (0..180_000).contains(&age) && webhooks::sign(secret, t, body) == v1
}

#[tokio::test]
async fn webhook_endpoints_crud_follows_the_spec() {
    let app = TestApp::new().await;
    let e = endpoint(
        &app,
        "https://example.com/webhooks",
        &["dsync.user.created", "user.created"],
    )
    .await;
    assert_eq!(e["object"], "webhook_endpoint");
    assert!(e["id"].as_str().unwrap().starts_with("we_"));
    assert!(e["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(e["status"], "enabled");
    assert_eq!(e["events"], json!(["dsync.user.created", "user.created"]));
    let id = e["id"].as_str().unwrap();

    let list = app.get("/webhook_endpoints").await;
    assert_eq!(
        list.body["data"][0]["secret"], e["secret"],
        "secret on every read"
    );
    assert!(
        list.body["list_metadata"]
            .as_object()
            .unwrap()
            .contains_key("before")
    );

    let dup = app
        .post(
            "/webhook_endpoints",
            &json!({"endpoint_url": "https://example.com/webhooks", "events": ["user.created"]}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.body["code"], "duplicate_endpoint");
    for url in ["not a url", "ftp://example.com/x", "https://"] {
        let bad = app
            .post(
                "/webhook_endpoints",
                &json!({"endpoint_url": url, "events": ["user.created"]}),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        assert_eq!(bad.body["code"], "invalid_url");
    }
    let bad = app
        .post(
            "/webhook_endpoints",
            &json!({"endpoint_url": "https://x.example", "events": ["dsync.nope"]}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["code"], "invalid_request_parameters");
    assert_eq!(bad.body["errors"][0]["code"], "unknown_event_type");
    let missing = app
        .post("/webhook_endpoints", &json!({"events": ["user.created"]}))
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);

    let patched = app
        .send(
            Method::PATCH,
            &format!("/webhook_endpoints/{id}"),
            Some(&app.tenant.api_key),
            Some(&json!({"status": "disabled", "events": ["dsync.group.created"], "endpoint_url": "https://example.com/v2"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["status"], "disabled");
    assert_eq!(patched.body["events"], json!(["dsync.group.created"]));
    assert_eq!(patched.body["endpoint_url"], "https://example.com/v2");
    assert_eq!(patched.body["secret"], e["secret"]);
    let bad_status = app
        .send(
            Method::PATCH,
            &format!("/webhook_endpoints/{id}"),
            Some(&app.tenant.api_key),
            Some(&json!({"status": "paused"})),
        )
        .await;
    assert_eq!(bad_status.status, StatusCode::UNPROCESSABLE_ENTITY);

    let other = app.new_tenant("Other").await;
    let res = app
        .send(
            Method::DELETE,
            &format!("/webhook_endpoints/{id}"),
            Some(&other.api_key),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.body["code"], "entity_not_found");
    let res = app
        .send(
            Method::PATCH,
            "/webhook_endpoints/we_nope",
            Some(&app.tenant.api_key),
            Some(&json!({})),
        )
        .await;
    assert_eq!(res.body["code"], "entity_not_found");
    // A malformed id answers the same coded 404 as an unknown one, on every endpoint path.
    for (method, path) in [
        (Method::PATCH, "/webhook_endpoints/nope"),
        (Method::DELETE, "/webhook_endpoints/org_1"),
        (Method::GET, "/webhook_endpoints/nope/deliveries"),
    ] {
        let res = app
            .send(method, path, Some(&app.tenant.api_key), Some(&json!({})))
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.body["code"], "entity_not_found", "{path}");
        let id = path.split('/').nth(2).unwrap();
        assert_eq!(
            res.body["message"],
            format!("Webhook Endpoint not found: '{id}'."),
            "{path}"
        );
    }
    assert_eq!(
        app.delete(&format!("/webhook_endpoints/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(&format!("/webhook_endpoints/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

/// Runs the official SDKs' verification over the received deliveries.
pub fn verify_with_sdks(cases: &[Value]) {
    if crate::support::skip(
        "KEYSTEAD_SKIP_SDK_TESTS",
        "the official SDKs' webhook verification",
    ) {
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    // Each SDK verifies with the oldest version we support (tests/sdk/locks/).
    let python = crate::support::locks::python("python-oldest");
    let node_modules = crate::support::locks::node_modules("node-oldest");
    let prefix = node_modules.parent().expect("the lock's install directory");
    let file = std::env::temp_dir().join(format!("keystead-webhooks-{}.json", ulid::Ulid::new()));
    std::fs::write(&file, serde_json::to_vec(cases).unwrap()).unwrap();
    let py = std::process::Command::new(&python)
        .arg(format!("{root}/tests/sdk/verify_webhooks.py"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "python SDK: {}",
        String::from_utf8_lossy(&py.stderr)
    );
    let node = std::process::Command::new("node")
        .arg(format!("{root}/tests/sdk/verify_webhooks.mjs"))
        .arg(&file)
        .env("WORKOS_NODE_PREFIX", prefix)
        .output()
        .unwrap();
    assert!(
        node.status.success(),
        "node SDK: {}",
        String::from_utf8_lossy(&node.stderr)
    );
    let _ = std::fs::remove_file(&file);
    for out in [&py.stdout, &node.stdout] {
        let lines = String::from_utf8_lossy(out).lines().count();
        assert_eq!(lines, cases.len(), "every delivery verified");
    }
}

#[tokio::test]
async fn scim_changes_arrive_as_signed_webhooks_the_official_sdks_verify() {
    let app = TestApp::new().await;
    let rx = receiver(0, Duration::ZERO).await;
    let subscribed = [
        "dsync.activated",
        "dsync.deleted",
        "dsync.user.created",
        "dsync.user.updated",
        "dsync.user.deleted",
        "dsync.group.created",
        "dsync.group.updated",
        "dsync.group.deleted",
        "dsync.group.user_added",
        "dsync.group.user_removed",
    ];
    let e = endpoint(&app, &rx.url, &subscribed).await;
    let secret = e["secret"].as_str().unwrap().to_string();
    let dir = new_directory(&app, "azure scim v2.0").await;
    let u = scim(&app, &dir, Method::POST, "/Users", Some(json!({
        "userName": "ünïcode@example.com", "displayName": "Zoë \"Q\" <Ó>", "active": true,
        "name": {"givenName": "Zoë"}, "externalId": "e-1",
        "emails": [{"value": "ünïcode@example.com", "type": "work", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "42", "costCenter": "1.0"}
    }))).await.body;
    let uid = u["id"].as_str().unwrap();
    let g = scim(
        &app,
        &dir,
        Method::POST,
        "/Groups",
        Some(json!({"displayName": "Ops"})),
    )
    .await
    .body;
    let gid = g["id"].as_str().unwrap();
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    scim(
        &app,
        &dir,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(patch(
            json!([{"op": "Add", "path": "members", "value": [{"value": uid}]}]),
        )),
    )
    .await;
    scim(
        &app,
        &dir,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(patch(
            json!([{"op": "Replace", "path": "displayName", "value": "Operations"}]),
        )),
    )
    .await;
    scim(
        &app,
        &dir,
        Method::PATCH,
        &format!("/Groups/{gid}"),
        Some(patch(
            json!([{"op": "Remove", "path": "members", "value": [{"value": uid}]}]),
        )),
    )
    .await;
    scim(
        &app,
        &dir,
        Method::PATCH,
        &format!("/Users/{uid}"),
        Some(patch(
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )),
    )
    .await;
    scim(&app, &dir, Method::DELETE, &format!("/Groups/{gid}"), None).await;
    scim(&app, &dir, Method::DELETE, &format!("/Users/{uid}"), None).await;
    app.post("/organizations", &json!({"name": "not subscribed"}))
        .await;
    app.delete(&format!("/directories/{}", dir.id)).await;

    let sent = app.drain_webhooks().await;
    assert_eq!(app.drain_webhooks().await, 0, "nothing left");
    let hits = rx.hits();
    assert_eq!(sent, hits.len());
    let names: Vec<String> = hits
        .iter()
        .map(|(_, b)| {
            serde_json::from_str::<Value>(b).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "dsync.activated",
            "dsync.deleted",
            "dsync.group.created",
            "dsync.group.deleted",
            "dsync.group.updated",
            "dsync.group.user_added",
            "dsync.group.user_removed",
            "dsync.user.created",
            "dsync.user.deleted",
            "dsync.user.updated"
        ]
    );
    let mut cases = Vec::new();
    for (sig, body) in &hits {
        assert!(verify(&secret, sig, body), "signature of {body}");
        assert!(!verify("whsec_wrong", sig, body));
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["object"], "event");
        assert_eq!(
            serde_json::to_string(&v).unwrap().len(),
            body.len(),
            "compact JSON"
        );
        cases.push(json!({"body": body, "signature": sig, "secret": secret}));
    }
    // Same ids as GET /events.
    let events = app.get("/events?events=dsync.user.created").await.body;
    assert!(
        hits.iter()
            .any(|(_, b)| b.contains(events["data"][0]["id"].as_str().unwrap()))
    );

    let log = app
        .get(&format!(
            "/webhook_endpoints/{}/deliveries?limit=100",
            e["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    let data = log.body["data"].as_array().unwrap();
    assert_eq!(data.len(), hits.len());
    assert!(
        data.iter()
            .all(|d| d["status"] == "succeeded" && d["attempts"] == 1)
    );
    assert_eq!(data[0]["attempt_log"][0]["status_code"], 200);

    verify_with_sdks(&cases);
}

async fn deliveries_of(app: &TestApp, endpoint_id: &str) -> Vec<Value> {
    app.get(&format!(
        "/webhook_endpoints/{endpoint_id}/deliveries?limit=100"
    ))
    .await
    .body["data"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn failed_deliveries_retry_with_backoff_and_eventually_give_up() {
    let app = TestApp::new().await;
    let flaky = receiver(2, Duration::ZERO).await;
    let e = endpoint(&app, &flaky.url, &["organization.created"]).await;
    // A dead receiver: nothing listens on this port.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = endpoint(
        &app,
        &format!("http://127.0.0.1:{dead_port}/hook"),
        &["organization.created"],
    )
    .await;
    app.post("/organizations", &json!({"name": "Acme"})).await;

    let mut settings = app.state.settings.clone();
    settings.webhooks.max_attempts = 3;
    let state = AppState::new(
        app.pool.clone(),
        app.state.vault.clone(),
        settings,
        app.state.dns.clone(),
        keystead::password::Hasher::new(1),
    )
    .expect("state");
    for _ in 0..40 {
        webhooks::run_once(&state).await.unwrap();
        let done = deliveries_of(&app, e["id"].as_str().unwrap()).await[0]["status"] == "succeeded"
            && deliveries_of(&app, dead["id"].as_str().unwrap()).await[0]["status"] == "failed";
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ok = &deliveries_of(&app, e["id"].as_str().unwrap()).await[0];
    assert_eq!(ok["status"], "succeeded");
    assert_eq!(ok["attempts"], 3);
    let codes: Vec<&Value> = ok["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status_code"])
        .collect();
    assert_eq!(codes, [&json!(500), &json!(500), &json!(200)]);
    assert_eq!(flaky.hits().len(), 3);
    assert_eq!(flaky.failures_left.load(Ordering::SeqCst), 0);
    // Backoff: the second retry waited about twice as long as the first.
    let times: Vec<chrono::DateTime<chrono::Utc>> = ok["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["created_at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times[1] - times[0] >= chrono::Duration::milliseconds(45));
    assert!(times[2] - times[1] >= chrono::Duration::milliseconds(95));

    let gone = &deliveries_of(&app, dead["id"].as_str().unwrap()).await[0];
    assert_eq!(gone["status"], "failed");
    assert_eq!(gone["attempts"], 3);
    let attempt = &gone["attempt_log"][0];
    assert!(
        attempt["status_code"].is_null() && attempt["error"].is_string(),
        "{attempt}"
    );
    assert_eq!(webhooks::run_once(&state).await.unwrap(), 0, "given up");
}

#[tokio::test]
async fn disabled_endpoints_are_skipped_and_two_workers_deliver_each_event_once() {
    let app = TestApp::new().await;
    let rx = receiver(0, Duration::from_millis(20)).await;
    let e = endpoint(&app, &rx.url, &["organization.created"]).await;
    let off_rx = receiver(0, Duration::ZERO).await;
    let off = endpoint(&app, &off_rx.url, &["organization.created"]).await;
    app.post("/organizations", &json!({"name": "before disable"}))
        .await;
    let res = app
        .send(
            Method::PATCH,
            &format!("/webhook_endpoints/{}", off["id"].as_str().unwrap()),
            Some(&app.tenant.api_key),
            Some(&json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    for i in 0..24 {
        app.post("/organizations", &json!({"name": format!("Org {i}")}))
            .await;
    }
    let (a, b) = tokio::join!(app.drain_webhooks(), app.drain_webhooks());
    assert_eq!(a + b, 25);
    let hits = rx.hits();
    assert_eq!(hits.len(), 25);
    let mut ids: HashMap<String, usize> = HashMap::new();
    for (_, body) in &hits {
        let v: Value = serde_json::from_str(body).unwrap();
        *ids.entry(v["id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert!(
        ids.values().all(|n| *n == 1),
        "each event exactly once across workers"
    );
    assert!(
        off_rx.hits().is_empty(),
        "disabled endpoint received nothing"
    );
    let skipped = deliveries_of(&app, off["id"].as_str().unwrap()).await;
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["status"], "skipped");
    assert!(
        deliveries_of(&app, e["id"].as_str().unwrap())
            .await
            .iter()
            .all(|d| d["status"] == "succeeded")
    );
}

#[tokio::test]
async fn a_slow_receiver_does_not_hold_up_other_endpoints() {
    let app = TestApp::new().await;
    let slow = receiver(0, Duration::from_millis(1500)).await;
    let fast = receiver(0, Duration::ZERO).await;
    endpoint(&app, &slow.url, &["organization.created"]).await;
    endpoint(&app, &fast.url, &["organization.created"]).await;
    for i in 0..3 {
        app.post("/organizations", &json!({"name": format!("Org {i}")}))
            .await;
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut settings = app.state.settings.clone();
    settings.webhooks.poll_interval = Duration::from_millis(20);
    settings.webhooks.worker_enabled = true;
    let state = AppState::new(
        app.pool.clone(),
        app.state.vault.clone(),
        settings,
        app.state.dns.clone(),
        keystead::password::Hasher::new(1),
    )
    .expect("state");
    let workers = keystead::workers::spawn(state, stopped);
    let started = std::time::Instant::now();
    while fast.hits().len() < 3 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fast.hits().len(), 3);
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "fast endpoint waited {:?}",
        started.elapsed()
    );
    // API requests are unaffected while the slow deliveries are in flight.
    let t = std::time::Instant::now();
    assert_eq!(app.get("/organizations").await.status, StatusCode::OK);
    assert!(t.elapsed() < Duration::from_millis(500));
    while slow.hits().len() < 3 && started.elapsed() < Duration::from_secs(6) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(slow.hits().len(), 3);
    stop.send(true).unwrap();
    for w in workers {
        tokio::time::timeout(Duration::from_secs(5), w)
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn queued_and_interrupted_deliveries_survive_a_restart_of_the_real_binary() {
    let app = TestApp::new().await;
    let rx = receiver(0, Duration::ZERO).await;
    endpoint(&app, &rx.url, &["organization.created"]).await;
    app.post("/organizations", &json!({"name": "queued while down"}))
        .await;
    app.post(
        "/organizations",
        &json!({"name": "claimed by a crashed worker"}),
    )
    .await;
    // A worker claimed one delivery and died before recording it (zero lease: due at once).
    let claimed = keystead::store::webhook_deliveries::claim(&app.pool, 1, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(rx.hits().is_empty());

    let server = Server::start(
        &app,
        "sk_test_restart",
        "client_restart",
        &[
            ("KEYSTEAD_WEBHOOK_ALLOW_HTTP", "true"),
            ("KEYSTEAD_WEBHOOK_POLL_INTERVAL_MS", "50"),
        ],
    )
    .await;
    let started = std::time::Instant::now();
    while rx.hits().len() < 2 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Events made while it runs are delivered too.
    app.post("/organizations", &json!({"name": "while running"}))
        .await;
    while rx.hits().len() < 3 && started.elapsed() < Duration::from_secs(25) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop_cleanly();
    let names: Vec<String> = rx
        .hits()
        .iter()
        .map(|(_, b)| {
            serde_json::from_str::<Value>(b).unwrap()["data"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for n in [
        "queued while down",
        "claimed by a crashed worker",
        "while running",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
}
