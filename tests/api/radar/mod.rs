//! Radar (spec tag `radar`) through HTTP against PostgreSQL: `POST /radar/attempts` (shape,
//! every control at its threshold and not below, allow beating block, first-seen emails never
//! challenged), `PUT /radar/attempts/{id}`, the allow/block lists, bad input (4xx, never 5xx),
//! tenancy and the `settings.radar` thresholds; `sign_in` covers Keystead's own sign-ins.

mod controls;
mod redis;
mod sdk;
mod sign_in;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};

/// A desktop browser's user agent.
pub const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                          (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
/// Another browser on another OS.
pub const FIREFOX: &str =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:133.0) Gecko/20100101 Firefox/133.0";

/// `POST /radar/attempts` with a browser user agent.
pub async fn attempt(app: &TestApp, email: &str, ip: &str, action: &str) -> TestResponse {
    attempt_with(
        app,
        json!({
            "ip_address": ip, "user_agent": CHROME, "email": email,
            "auth_method": "Password", "action": action,
        }),
    )
    .await
}

/// `POST /radar/attempts` with `body`.
pub async fn attempt_with(app: &TestApp, body: Value) -> TestResponse {
    let res = app.post("/radar/attempts", &body).await;
    assert!(
        res.status == StatusCode::OK || res.status.is_client_error(),
        "{}",
        res.text
    );
    res
}

/// The verdict and control of an attempt that must answer 200.
pub async fn verdict(app: &TestApp, email: &str, ip: &str, action: &str) -> (String, String) {
    let res = attempt(app, email, ip, action).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    verdict_of(&res)
}

/// `(verdict, control or "")` of a 200.
pub fn verdict_of(res: &TestResponse) -> (String, String) {
    (
        res.body["verdict"].as_str().unwrap_or_default().to_string(),
        res.body["control"].as_str().unwrap_or_default().to_string(),
    )
}

/// `PATCH /environment` `{settings: {radar}}`.
pub async fn patch_radar(app: &TestApp, radar: Value) -> TestResponse {
    app.send(
        Method::PATCH,
        "/environment",
        Some(&app.tenant.api_key),
        Some(&json!({ "settings": { "radar": radar } })),
    )
    .await
}

/// `PATCH /environment` `{settings: {radar}}`, which must succeed.
pub async fn radar_settings(app: &TestApp, radar: Value) {
    let res = patch_radar(app, radar).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

/// `POST` or `DELETE /radar/lists/{type}/{action}` with `{entry}`.
pub async fn list(app: &TestApp, method: Method, path: &str, entry: &str) -> TestResponse {
    app.send(
        method,
        &format!("/radar/lists/{path}"),
        Some(&app.tenant.api_key),
        Some(&json!({ "entry": entry })),
    )
    .await
}

#[tokio::test]
async fn an_attempt_answers_the_spec_shape_and_is_marked_successful_once_per_environment() {
    let app = TestApp::new().await;
    let res = attempt(&app, "Ada@Example.com", "198.51.100.7", "sign-in").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let b = &res.body;
    assert_eq!(b["verdict"], "allow");
    assert!(b["reason"].as_str().is_some_and(|r| !r.is_empty()));
    let id = b["attempt_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("radar_att_"), "{id}");
    assert!(
        b.get("control").is_none() && b.get("blocklist_type").is_none(),
        "{b}"
    );
    assert_eq!(app.count_rows("radar_attempts").await, 1);

    // Another environment's key does not see the attempt.
    let other = app.new_tenant("Other").await;
    let path = format!("/radar/attempts/{id}");
    let body = json!({"attempt_status": "success"});
    let foreign = app
        .send(Method::PUT, &path, Some(&other.api_key), Some(&body))
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.text);

    let ok = app.put(&path, &body).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.text);
    let challenge = app
        .put(&path, &json!({"challenge_status": "success"}))
        .await;
    assert_eq!(
        challenge.status,
        StatusCode::NO_CONTENT,
        "{}",
        challenge.text
    );
    let marked: (bool, bool) =
        sqlx::query_as("select succeeded, challenge_succeeded from radar_attempts where id = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(marked, (true, true));
    let profiles = app.count_rows("radar_profiles").await;
    assert_eq!(profiles, 1, "a success starts the email's history");

    for (body, field) in [
        (json!({}), "attempt_status"),
        (json!({"attempt_status": "failed"}), "attempt_status"),
        (json!({"challenge_status": true}), "challenge_status"),
    ] {
        let res = app.put(&path, &body).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(res.body["errors"][0]["field"], field, "{body}");
    }
    for unknown in [
        "radar_att_01AAAAAAAAAAAAAAAAAAAAAAAA",
        "nope",
        "org_01AAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let res = app.put(&format!("/radar/attempts/{unknown}"), &body).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{unknown}: {}", res.text);
    }
}

#[tokio::test]
async fn bad_attempts_are_422_naming_the_field_and_write_nothing() {
    let app = TestApp::new().await;
    let good = json!({
        "ip_address": "203.0.113.9", "user_agent": CHROME, "email": "a@example.com",
        "auth_method": "Password", "action": "sign-in",
    });
    let with = |key: &str, v: Value| {
        let mut b = good.clone();
        b[key] = v;
        b
    };
    let without = |key: &str| {
        let mut b = good.clone();
        b.as_object_mut().unwrap().remove(key);
        b
    };
    for (body, field) in [
        (without("ip_address"), "ip_address"),
        (with("ip_address", json!("999.1.1.1")), "ip_address"),
        (with("ip_address", json!("10.0.0.0/8")), "ip_address"),
        (with("ip_address", json!(7)), "ip_address"),
        (without("user_agent"), "user_agent"),
        (with("user_agent", json!("x".repeat(2000))), "user_agent"),
        (without("email"), "email"),
        (with("email", json!("not-an-email")), "email"),
        (with("auth_method", json!("Telepathy")), "auth_method"),
        (without("action"), "action"),
        (with("action", json!("sign-out")), "action"),
        (with("signals_id", json!(["x"])), "signals_id"),
    ] {
        let res = attempt_with(&app, body.clone()).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            res.text
        );
        assert_eq!(res.body["errors"][0]["field"], field, "{body}");
    }
    let not_object = attempt_with(&app, json!(["a"])).await;
    assert_eq!(not_object.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count_rows("radar_attempts").await, 0);
    // Every spelling of the spec's enums is accepted.
    for action in [
        "login", "signup", "sign-up", "sign-in", "sign_up", "sign_in", "sign in", "sign up",
    ] {
        let res = attempt_with(&app, with("action", json!(action))).await;
        assert_eq!(res.status, StatusCode::OK, "{action}: {}", res.text);
    }
    let ipv6 = attempt_with(&app, with("ip_address", json!("2001:db8::1"))).await;
    assert_eq!(ipv6.status, StatusCode::OK, "{}", ipv6.text);
}

#[tokio::test]
async fn lists_add_201_then_200_remove_204_then_404_and_refuse_bad_entries_with_400() {
    let app = TestApp::new().await;
    for (path, entry) in [
        ("ip_address/block", "198.51.100.0/24"),
        ("ip_address/allow", "2001:db8::1"),
        ("domain/block", "Spam.Example."),
        ("email/allow", "Boss@Example.com"),
        ("device/block", "dev_123"),
        ("user_agent/block", "EvilBot/1.0"),
        ("device_fingerprint/allow", "fp_abc"),
        ("country/block", "kp"),
    ] {
        let added = list(&app, Method::POST, path, entry).await;
        assert_eq!(added.status, StatusCode::CREATED, "{path}: {}", added.text);
        let again = list(&app, Method::POST, path, entry).await;
        assert_eq!(again.status, StatusCode::OK, "{path}: {}", again.text);
        assert_eq!(again.body["message"], "Entry already present in list");
    }
    // Entries are normalised: the same network, domain or country written differently.
    for (path, entry) in [
        ("ip_address/block", "198.51.100.77/24"),
        ("domain/block", "spam.example"),
        ("country/block", "KP"),
        ("email/allow", "boss@example.com"),
    ] {
        let res = list(&app, Method::POST, path, entry).await;
        assert_eq!(res.status, StatusCode::OK, "{path} {entry}: {}", res.text);
    }
    assert_eq!(app.count_rows("radar_list_entries").await, 8);

    for (path, entry) in [
        ("ip_address/block", "198.51.100.0/33"),
        ("ip_address/block", "300.1.1.1"),
        ("ip_address/block", "example.com"),
        ("domain/block", "not a domain"),
        ("domain/block", "localhost"),
        ("email/block", "nobody"),
        ("country/block", "Narnia"),
        ("device/block", "   "),
    ] {
        let res = list(&app, Method::POST, path, entry).await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{path} {entry}: {}",
            res.text
        );
        assert_eq!(res.body["code"], "invalid_entry");
    }
    for path in ["phone/block", "ip_address/deny", "IP_ADDRESS/block"] {
        let res = list(&app, Method::POST, path, "198.51.100.1").await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{path}: {}", res.text);
        let res = list(&app, Method::DELETE, path, "198.51.100.1").await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{path}: {}", res.text);
    }
    let no_body = app
        .send(
            Method::POST,
            "/radar/lists/email/block",
            Some(&app.tenant.api_key),
            Some(&json!({})),
        )
        .await;
    assert_eq!(no_body.status, StatusCode::BAD_REQUEST, "{}", no_body.text);
    assert_eq!(app.count_rows("radar_list_entries").await, 8);

    // Another environment has its own lists.
    let other = app.new_tenant("Other").await;
    let foreign = app
        .send(
            Method::DELETE,
            "/radar/lists/domain/block",
            Some(&other.api_key),
            Some(&json!({"entry": "spam.example"})),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.text);

    let removed = list(&app, Method::DELETE, "domain/block", "SPAM.example").await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    let gone = list(&app, Method::DELETE, "domain/block", "spam.example").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.text);
    assert_eq!(app.count_rows("radar_list_entries").await, 7);
}

#[tokio::test]
async fn block_lists_restrict_and_an_allow_list_beats_every_block() {
    let app = TestApp::new().await;
    assert_eq!(
        verdict(&app, "eve@evil.example", "198.51.100.9", "sign-in")
            .await
            .0,
        "allow"
    );
    list(&app, Method::POST, "ip_address/block", "198.51.100.0/24").await;
    let res = attempt(&app, "eve@evil.example", "198.51.100.9", "sign-in").await;
    assert_eq!(verdict_of(&res), ("block".into(), "restriction".into()));
    assert_eq!(res.body["blocklist_type"], "ip_address");
    // Outside the network: allowed.
    assert_eq!(
        verdict(&app, "eve@evil.example", "198.51.101.9", "sign-in")
            .await
            .0,
        "allow"
    );
    list(&app, Method::POST, "domain/block", "evil.example").await;
    let res = attempt(&app, "eve@evil.example", "198.51.101.9", "sign-in").await;
    assert_eq!(res.body["blocklist_type"], "domain", "{}", res.text);
    list(&app, Method::POST, "user_agent/block", CHROME).await;
    let res = attempt(&app, "zed@good.example", "203.0.113.1", "sign-up").await;
    assert_eq!(res.body["blocklist_type"], "user_agent", "{}", res.text);

    // An allow entry for the email overrides the IP, domain and user-agent blocks.
    list(&app, Method::POST, "email/allow", "eve@evil.example").await;
    let res = attempt(&app, "eve@evil.example", "198.51.100.9", "sign-in").await;
    assert_eq!(
        verdict_of(&res),
        ("allow".into(), String::new()),
        "{}",
        res.text
    );

    // Another environment is not affected by these lists.
    let other = app.new_tenant("Other").await;
    let res = app
        .send(
            Method::POST,
            "/radar/attempts",
            Some(&other.api_key),
            Some(&json!({
                "ip_address": "198.51.100.9", "user_agent": CHROME, "email": "x@evil.example",
                "auth_method": "Password", "action": "sign-in",
            })),
        )
        .await;
    assert_eq!(res.body["verdict"], "allow", "{}", res.text);
}

#[tokio::test]
async fn radar_settings_are_shown_patched_validated_and_reset() {
    let app = TestApp::new().await;
    let defaults = app.get("/environment").await.body["settings"]["radar"].clone();
    assert_eq!(
        defaults,
        json!({
            "enabled": false, "brute_force_threshold": 10, "credential_stuffing_threshold": 20,
            "window_seconds": 900, "ip_sign_up_threshold": 10, "domain_sign_up_threshold": 50,
            "repeat_sign_up_threshold": 3, "sign_up_window_seconds": 3600,
            "stale_account_days": 90, "impossible_travel_kmh": 1000
        })
    );
    radar_settings(&app, json!({"enabled": true, "brute_force_threshold": 3})).await;
    let now = app.get("/environment").await.body["settings"]["radar"].clone();
    assert_eq!(now["enabled"], true);
    assert_eq!(now["brute_force_threshold"], 3);
    assert_eq!(now["credential_stuffing_threshold"], 20);
    for (radar, field) in [
        (
            json!({"brute_force_threshold": 0}),
            "settings.radar.brute_force_threshold",
        ),
        (
            json!({"brute_force_threshold": 1_000_000}),
            "settings.radar.brute_force_threshold",
        ),
        (
            json!({"window_seconds": 5}),
            "settings.radar.window_seconds",
        ),
        (
            json!({"impossible_travel_kmh": -1}),
            "settings.radar.impossible_travel_kmh",
        ),
        (
            json!({"stale_account_days": "90"}),
            "settings.radar.stale_account_days",
        ),
        (json!({"enabled": "yes"}), "settings.radar.enabled"),
        (json!({"bogus": 1}), "settings.radar.bogus"),
        (json!(5), "settings.radar"),
    ] {
        let res = patch_radar(&app, radar.clone()).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{radar}: {}",
            res.text
        );
        assert_eq!(res.body["errors"][0]["field"], field, "{radar}");
    }
    radar_settings(&app, Value::Null).await;
    let reset = app.get("/environment").await.body["settings"]["radar"].clone();
    assert_eq!(reset, defaults);
}
