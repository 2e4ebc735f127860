#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark fails loudly"
)]

//! SCIM throughput per directory, over a real socket: an IdP-shaped provisioning run (probe by
//! filter, create, PATCH, group create, membership PATCH, GETs), sent one request at a time the
//! way Entra ID and Okta do, then with several clients in parallel. The bar is Microsoft's
//! validator's 25 requests/s per directory. `bench/scim.sh` runs it in release mode with more
//! requests; `KEYSTEAD_BENCH_USERS` sets the size.

#[path = "../tests/api/support/mod.rs"]
#[allow(dead_code, unused_imports)]
mod support;

use std::time::{Duration, Instant};

use keystead::state::AppState;
use serde_json::{Value, json};

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    latencies: Vec<Duration>,
}

impl Client {
    async fn send(&mut self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/scim+json");
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let t = Instant::now();
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        self.latencies.push(t.elapsed());
        assert!(status.is_success(), "{status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// One user's provisioning as an IdP does it; returns the user id.
    async fn provision(&mut self, n: usize, tag: &str) -> String {
        let user = format!("bench.{tag}.{n}@example.com");
        let filter = format!(
            "/Users?filter=userName+eq+%22{}%22",
            user.replace('@', "%40")
        );
        self.send(reqwest::Method::GET, &filter, None).await;
        let created = self
            .send(
                reqwest::Method::POST,
                "/Users",
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user, "externalId": format!("{tag}-{n}"), "active": true,
                    "name": {"givenName": "Bench", "familyName": format!("User {n}")},
                    "emails": [{"primary": true, "type": "work", "value": user}]
                })),
            )
            .await;
        let id = created["id"].as_str().unwrap().to_string();
        self.send(
            reqwest::Method::PATCH,
            &format!("/Users/{id}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "title", "value": "Engineer"}]}),
            ),
        )
        .await;
        self.send(reqwest::Method::GET, &format!("/Users/{id}"), None)
            .await;
        id
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_requests_per_second_per_directory() {
    let users: usize = std::env::var("KEYSTEAD_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let app = support::TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut settings = app.state.settings.clone();
    settings.public_url = format!("http://{addr}");
    let state = AppState::new(
        app.pool.clone(),
        app.state.vault.clone(),
        settings,
        app.state.dns.clone(),
        keystead::password::Hasher::new(1),
    )
    .expect("state");
    tokio::spawn(axum::serve(listener, keystead::app::router(state)).into_future());
    let org = app
        .post("/organizations", &json!({"name": "Bench"}))
        .await
        .body;
    let dir = app
        .post(
            "/directories",
            &json!({"organization_id": org["id"], "name": "Bench", "type": "azure scim v2.0"}),
        )
        .await
        .body;
    let client = || Client {
        http: reqwest::Client::new(),
        base: format!("http://{addr}/scim/v2/{}", dir["id"].as_str().unwrap()),
        token: dir["scim"]["bearer_token"].as_str().unwrap().to_string(),
        latencies: Vec::new(),
    };

    // Sequential, as an IdP sends them.
    let mut c = client();
    let started = Instant::now();
    let mut ids = Vec::new();
    for n in 0..users {
        ids.push(c.provision(n, "seq").await);
    }
    let group = c
        .send(
            reqwest::Method::POST,
            "/Groups",
            Some(json!({"displayName": "Bench group"})),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for chunk in ids.chunks(10) {
        let members: Vec<Value> = chunk.iter().map(|id| json!({"value": id})).collect();
        c.send(
            reqwest::Method::PATCH,
            &format!("/Groups/{group}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Add", "path": "members", "value": members}]}),
            ),
        )
        .await;
    }
    c.send(reqwest::Method::GET, "/Users?startIndex=1&count=100", None)
        .await;
    let elapsed = started.elapsed();
    let mut lat = c.latencies.clone();
    lat.sort();
    let rate = lat.len() as f64 / elapsed.as_secs_f64();
    println!(
        "sequential: {} requests in {:.2?} = {rate:.0} req/s (p50 {:.1?}, p99 {:.1?})",
        lat.len(),
        elapsed,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );

    // Four clients in parallel on the same directory.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let mut c = client();
        tasks.push(tokio::spawn(async move {
            for n in 0..users / 4 {
                c.provision(n, &format!("par{w}")).await;
            }
            c.latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed_par = started.elapsed();
    all.sort();
    let rate_par = all.len() as f64 / elapsed_par.as_secs_f64();
    println!(
        "4 clients: {} requests in {:.2?} = {rate_par:.0} req/s (p50 {:.1?}, p99 {:.1?})",
        all.len(),
        elapsed_par,
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    let events: i64 = sqlx::query_scalar("select count(*) from events where event like 'dsync.%'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    println!("dsync events recorded: {events}");
    assert!(
        rate >= 25.0,
        "sequential SCIM throughput {rate:.1} req/s is below 25"
    );
    assert!(
        rate_par >= 25.0,
        "parallel SCIM throughput {rate_par:.1} req/s is below 25"
    );
}
