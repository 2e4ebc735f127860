//! Radar's counters in Redis (`KEYSTEAD_REDIS_URL`, the Redis `scripts/test` starts, or
//! `KEYSTEAD_TEST_REDIS_URL`): the controls count from Redis (shown by deleting the attempts
//! from PostgreSQL), a success leaves the failure set, and an unreachable Redis falls back to
//! counting in PostgreSQL.

use axum::http::StatusCode;
use serde_json::json;

use super::{radar_settings, verdict};
use crate::support::TestApp;

fn redis_url() -> String {
    std::env::var("KEYSTEAD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

async fn zcard(key: &str) -> i64 {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("ZCARD")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn counters_live_in_redis_when_it_is_configured() {
    let app = TestApp::with(|s| s.redis_url = Some(redis_url())).await;
    let env = app.tenant.environment_id.to_string();
    radar_settings(&app, json!({"brute_force_threshold": 3})).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let res = super::attempt(&app, "rae@example.com", &format!("192.0.2.{i}"), "sign-in").await;
        assert_eq!(res.body["verdict"], "allow", "{}", res.text);
        ids.push(res.body["attempt_id"].as_str().unwrap().to_string());
    }
    let key = format!("keystead:radar:{env}:email_failed:rae@example.com");
    assert_eq!(zcard(&key).await, 3);
    // PostgreSQL no longer has the attempts: the block can only come from Redis.
    sqlx::query("delete from radar_attempts")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        verdict(&app, "rae@example.com", "192.0.2.9", "sign-in").await,
        ("block".to_string(), "brute_force_attack".to_string())
    );
    assert_eq!(zcard(&key).await, 4);
    // A success (recorded in PostgreSQL and Redis) leaves the failure set.
    let last = super::attempt(&app, "rae@example.com", "192.0.2.10", "sign-in").await;
    let id = last.body["attempt_id"].as_str().unwrap();
    let res = app
        .put(
            &format!("/radar/attempts/{id}"),
            &json!({"attempt_status": "success"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
    assert_eq!(zcard(&key).await, 4);
    let ip_key = format!("keystead:radar:{env}:ip_failed:192.0.2.10");
    assert_eq!(zcard(&ip_key).await, 0);
}

#[tokio::test]
async fn an_unreachable_redis_falls_back_to_counting_in_postgres() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = TestApp::with(|s| s.redis_url = Some(format!("redis://127.0.0.1:{port}"))).await;
    radar_settings(&app, json!({"brute_force_threshold": 2})).await;
    for ip in ["192.0.2.1", "192.0.2.2"] {
        assert_eq!(
            verdict(&app, "sam@example.com", ip, "sign-in").await.0,
            "allow"
        );
    }
    assert_eq!(
        verdict(&app, "sam@example.com", "192.0.2.3", "sign-in").await,
        ("block".to_string(), "brute_force_attack".to_string())
    );
}
