//! Concurrent writes against one resource, for the lost-update tests (metadata is merged on the
//! row locked in the update's transaction).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::TestApp;

impl TestApp {
    /// Fires `n` concurrent `PUT path` requests, the i-th setting metadata key `k{i}` to `v{i}`,
    /// asserts each answered 200, and returns the resource's `metadata` read back afterwards.
    pub async fn put_metadata_keys_concurrently(&self, path: &str, n: usize) -> Value {
        let mut puts = tokio::task::JoinSet::new();
        for i in 0..n {
            let req = Request::put(path)
                .header("authorization", format!("Bearer {}", self.tenant.api_key))
                .header("content-type", "application/json")
                .body(Body::from(
                    json!({"metadata": {format!("k{i}"): format!("v{i}")}}).to_string(),
                ))
                .unwrap();
            puts.spawn(self.router.clone().oneshot(req));
        }
        while let Some(res) = puts.join_next().await {
            assert_eq!(res.unwrap().unwrap().status(), StatusCode::OK);
        }
        self.get(path).await.body["metadata"].clone()
    }
}
