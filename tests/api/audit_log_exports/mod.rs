//! Audit-log exports: `POST /audit_logs/exports` and `GET /audit_logs/exports/{id}` (happy and
//! error paths, tenancy, nothing written on bad input), CSV columns and filters, and the signed
//! download URL (no API key, fresh on every GET, expired and tampered URLs refused). The export
//! worker's leases, attempts and `NOTIFY` wake-up are in [`worker`], the official Node and Python
//! SDKs driving the main flow including the download in [`sdk`].

mod s3;
mod sdk;
mod worker;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use keystead::ids::AuditLogExportId;
use keystead::store::audit_log_exports as store;
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};

async fn org(app: &TestApp) -> String {
    let res = app.post("/organizations", &json!({"name": "Acme"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body["id"].as_str().unwrap().to_string()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Inserts one event directly (the seeding path of the filter and volume tests).
async fn seed(
    app: &TestApp,
    org: &str,
    action: &str,
    occurred_at: &str,
    actor: Value,
    targets: Value,
    metadata: Option<Value>,
) {
    sqlx::query(
        "insert into audit_log_events (environment_id, id, organization_id, action, version,
           occurred_at, actor, targets, context, metadata)
         values ($1, $2, $3, $4, 1, $5, $6, $7, $8, $9)",
    )
    .bind(&app.tenant.environment_id)
    .bind(keystead::ids::AuditLogEventId::new())
    .bind(org)
    .bind(action)
    .bind(at(occurred_at))
    .bind(actor)
    .bind(targets)
    .bind(json!({"location": "203.0.113.9", "user_agent": "curl/8"}))
    .bind(metadata)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// Seeds the events the filter tests select from (one org, January 2026).
async fn seed_filter_events(app: &TestApp, org: &str) {
    let ann =
        json!({"id": "user_ann", "type": "user", "name": "Ann", "metadata": {"role": "admin"}});
    let bob = json!({"id": "user_bob", "type": "user", "name": "Bob"});
    let team = |id: &str| json!({"id": id, "type": "team", "name": "Team, \"quoted\""});
    let doc = |id: &str| json!({"id": id, "type": "document", "metadata": {"pages": 3}});
    let rows = [
        (
            "e1",
            "user.signed_in",
            "2026-01-01T00:00:00Z",
            &ann,
            json!([]),
        ),
        (
            "e2",
            "team.renamed",
            "2026-01-02T00:00:00Z",
            &ann,
            json!([team("team_1")]),
        ),
        (
            "e3",
            "team.renamed",
            "2026-01-03T00:00:00Z",
            &bob,
            json!([team("team_2"), doc("doc_1")]),
        ),
        (
            "e4",
            "document.read",
            "2026-01-04T00:00:00Z",
            &bob,
            json!([doc("doc_2")]),
        ),
        (
            "e5",
            "user.signed_in",
            "2026-01-05T00:00:00.123Z",
            &bob,
            json!([]),
        ),
    ];
    for (marker, action, t, actor, targets) in rows {
        let meta = json!({"marker": marker});
        seed(app, org, action, t, actor.clone(), targets, Some(meta)).await;
    }
}

fn export_body(org: &str, extra: Value) -> Value {
    let mut b = json!({
        "organization_id": org,
        "range_start": "2026-01-01T00:00:00.000Z",
        "range_end": "2026-01-31T00:00:00.000Z",
    });
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

async fn create(app: &TestApp, body: &Value) -> String {
    let res = app.post("/audit_logs/exports", body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    res.body["id"].as_str().unwrap().to_string()
}

async fn run_worker(app: &TestApp) -> usize {
    keystead::workers::audit_log_exports::run_once(&app.state)
        .await
        .unwrap()
}

/// GETs a download URL of `app` without an API key.
async fn download(app: &TestApp, url: &str) -> TestResponse {
    let path = url
        .strip_prefix(&app.state.settings.public_url)
        .unwrap_or_else(|| panic!("{url} is not under the public URL"));
    app.send(Method::GET, path, None, None).await
}

/// The CSV body as (header, rows).
fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// Runs the export of `body` and returns its CSV (header, rows).
async fn export_csv(app: &TestApp, body: &Value) -> (Vec<String>, Vec<Vec<String>>) {
    let id = create(app, body).await;
    run_worker(app).await;
    let res = app.get(&format!("/audit_logs/exports/{id}")).await;
    assert_eq!(res.body["state"], "ready", "{}", res.text);
    let file = download(app, res.body["url"].as_str().unwrap()).await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.text);
    parse_csv(&file.text)
}

/// The `marker` of each row's metadata, in file order.
fn markers(rows: &[Vec<String>]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            let m: Value = serde_json::from_str(&r[8]).unwrap();
            m["marker"].as_str().unwrap().to_string()
        })
        .collect()
}

const BASE_COLUMNS: [&str; 9] = [
    "action",
    "occurred_at",
    "actor_id",
    "actor_type",
    "actor_name",
    "actor_metadata",
    "context_location",
    "context_user_agent",
    "metadata",
];

#[tokio::test]
async fn an_export_is_written_and_downloaded_through_a_fresh_signed_url() {
    let app = TestApp::new().await;
    let org = org(&app).await;
    seed_filter_events(&app, &org).await;

    let created = app
        .post("/audit_logs/exports", &export_body(&org, json!({})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("audit_log_export_"), "{id}");
    assert_eq!(created.body["object"], "audit_log_export");
    assert_eq!(created.body["state"], "pending");
    assert_eq!(created.body["url"], Value::Null);
    assert_eq!(
        created.body["error"],
        Value::Null,
        "sent as null, not left out"
    );
    assert!(created.body["created_at"].as_str().unwrap().ends_with('Z'));
    let pending = app.get(&format!("/audit_logs/exports/{id}")).await;
    assert_eq!(pending.body["state"], "pending");
    assert_eq!(pending.body["url"], Value::Null);

    assert_eq!(run_worker(&app).await, 1);
    assert_eq!(run_worker(&app).await, 0, "nothing left to claim");
    let ready = app.get(&format!("/audit_logs/exports/{id}")).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["state"], "ready", "{}", ready.text);
    let url = ready.body["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!(
            "http://keystead.test/audit_logs/exports/{id}/download?expires="
        )),
        "{url}"
    );

    let file = download(&app, &url).await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.text);
    assert_eq!(file.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        file.headers["content-length"].to_str().unwrap(),
        file.text.len().to_string()
    );
    let (header, rows) = parse_csv(&file.text);
    let mut expected: Vec<String> = BASE_COLUMNS.map(String::from).to_vec();
    for n in 1..=2 {
        for f in ["id", "type", "name", "metadata"] {
            expected.push(format!("target_{f}_{n}"));
        }
    }
    assert_eq!(header, expected);
    assert_eq!(markers(&rows), ["e1", "e2", "e3", "e4", "e5"], "time order");
    assert!(rows.iter().all(|r| r.len() == 17));
    let e1 = &rows[0];
    assert_eq!(
        e1[..8],
        [
            "user.signed_in",
            "2026-01-01T00:00:00.000Z",
            "user_ann",
            "user",
            "Ann",
            r#"{"role":"admin"}"#,
            "203.0.113.9",
            "curl/8"
        ]
    );
    assert!(e1[9..].iter().all(String::is_empty), "no targets: {e1:?}");
    let e3 = &rows[2];
    assert_eq!(
        e3[9..],
        [
            "team_2",
            "team",
            "Team, \"quoted\"",
            "",
            "doc_1",
            "document",
            "",
            r#"{"pages":3}"#
        ]
    );
    assert_eq!(rows[4][1], "2026-01-05T00:00:00.123Z");

    // Every GET signs a fresh URL (a later expiry), and each one works.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = app.get(&format!("/audit_logs/exports/{id}")).await;
    let url2 = again.body["url"].as_str().unwrap().to_string();
    assert_ne!(url, url2);
    assert_eq!(download(&app, &url2).await.text, file.text);
    assert_eq!(download(&app, &url).await.status, StatusCode::OK);
}

#[tokio::test]
async fn filters_select_by_action_actor_target_type_and_range() {
    let app = TestApp::new().await;
    let org = org(&app).await;
    seed_filter_events(&app, &org).await;
    let other_org = self::org(&app).await;
    let ann = json!({"id": "user_ann", "type": "user", "name": "Ann"});
    seed(
        &app,
        &other_org,
        "user.signed_in",
        "2026-01-02T00:00:00Z",
        ann,
        json!([]),
        Some(json!({"marker": "other-org"})),
    )
    .await;

    let cases = [
        (
            json!({"actions": ["team.renamed", "document.read"]}),
            vec!["e2", "e3", "e4"],
        ),
        (json!({"actor_ids": ["user_ann"]}), vec!["e1", "e2"]),
        (json!({"actor_names": ["Bob"]}), vec!["e3", "e4", "e5"]),
        (json!({"actors": ["Ann"]}), vec!["e1", "e2"]),
        (json!({"targets": ["document"]}), vec!["e3", "e4"]),
        (
            json!({"targets": ["team"], "actor_names": ["Bob"]}),
            vec!["e3"],
        ),
        (
            json!({"actions": [], "targets": null}),
            vec!["e1", "e2", "e3", "e4", "e5"],
        ),
        (json!({"actions": ["nothing.matches"]}), vec![]),
        // Both ends are inclusive, to the millisecond.
        (
            json!({"range_start": "2026-01-02T00:00:00Z", "range_end": "2026-01-05T00:00:00.123Z"}),
            vec!["e2", "e3", "e4", "e5"],
        ),
        (
            json!({"range_start": "2026-01-02T00:00:00.001Z", "range_end": "2026-01-05T00:00:00.122Z"}),
            vec!["e3", "e4"],
        ),
    ];
    for (filter, want) in cases {
        let (header, rows) = export_csv(&app, &export_body(&org, filter.clone())).await;
        assert_eq!(markers(&rows), want, "{filter}");
        assert!(header.len() >= 9, "{filter}");
    }
    // Columns go up to the most targets a *selected* event has.
    let (header, _) = export_csv(
        &app,
        &export_body(&org, json!({"actions": ["user.signed_in"]})),
    )
    .await;
    assert_eq!(header, BASE_COLUMNS);
    let (header, _) =
        export_csv(&app, &export_body(&org, json!({"actor_ids": ["user_ann"]}))).await;
    assert_eq!(header.len(), 9 + 4);
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_written() {
    let app = TestApp::new().await;
    let org = org(&app).await;
    let other = app.new_tenant("Other").await;
    let foreign = app
        .send(
            Method::POST,
            "/organizations",
            Some(&other.api_key),
            Some(&json!({"name": "F"})),
        )
        .await;
    let foreign = foreign.body["id"].as_str().unwrap().to_string();

    let unprocessable = [
        (
            json!({}),
            vec!["organization_id", "range_start", "range_end"],
        ),
        (
            json!({"organization_id": 7, "range_start": "yesterday", "range_end": true}),
            vec!["organization_id", "range_start", "range_end"],
        ),
        (
            export_body(&org, json!({"actions": "user.signed_in"})),
            vec!["actions"],
        ),
        (
            export_body(&org, json!({"actor_ids": ["ok", 3, ""]})),
            vec!["actor_ids[1]", "actor_ids[2]"],
        ),
        (
            export_body(&org, json!({"targets": vec!["t"; 101]})),
            vec!["targets"],
        ),
        (
            export_body(&org, json!({"actor_names": ["x".repeat(501)]})),
            vec!["actor_names[0]"],
        ),
    ];
    for (body, fields) in unprocessable {
        let res = app.post("/audit_logs/exports", &body).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            res.text
        );
        assert_eq!(res.body["code"], "invalid_request_parameters");
        let got = res.error_fields();
        assert_eq!(got, fields, "{body}");
    }

    let reversed = export_body(
        &org,
        json!({"range_start": "2026-02-01T00:00:00Z",
                                            "range_end": "2026-01-31T23:59:59Z"}),
    );
    let too_long = export_body(
        &org,
        json!({"range_start": "2026-01-31T00:00:00Z",
                                            "range_end": "2026-04-30T00:00:01Z"}),
    );
    for body in [reversed, too_long] {
        let res = app.post("/audit_logs/exports", &body).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text);
        assert_eq!(res.body["code"], "invalid_audit_log_export_range_date");
        assert!(
            res.body["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid date range")
        );
    }
    let three_months = export_body(
        &org,
        json!({"range_start": "2026-01-31T00:00:00Z",
                                                "range_end": "2026-04-30T00:00:00Z"}),
    );
    for unknown in [foreign.as_str(), "org_01AAAAAAAAAAAAAAAAAAAAAAAA", "nope"] {
        let res = app
            .post("/audit_logs/exports", &export_body(unknown, json!({})))
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
        assert_eq!(
            res.body["message"],
            format!("Organization not found: '{unknown}'.")
        );
    }
    let no_key = app
        .send(
            Method::POST,
            "/audit_logs/exports",
            None,
            Some(&three_months),
        )
        .await;
    assert_eq!(no_key.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.count_rows("audit_log_exports").await,
        0,
        "nothing written"
    );
    // Exactly three months is accepted.
    create(&app, &three_months).await;
    assert_eq!(app.count_rows("audit_log_exports").await, 1);
    run_worker(&app).await;
}

#[tokio::test]
async fn another_environments_export_is_not_found() {
    let app = TestApp::new().await;
    let org = org(&app).await;
    let id = create(&app, &export_body(&org, json!({}))).await;
    run_worker(&app).await;
    let other = app.new_tenant("Other").await;
    let res = app
        .send(
            Method::GET,
            &format!("/audit_logs/exports/{id}"),
            Some(&other.api_key),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(
        res.body,
        json!({"message": format!("Audit Log Export not found: '{id}'.")})
    );
    for bad in [
        "audit_log_export_01AAAAAAAAAAAAAAAAAAAAAAAA",
        "org_01AAAAAAAAAAAAAAAAAAAAAAAA",
        "x",
    ] {
        let res = app.get(&format!("/audit_logs/exports/{bad}")).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{bad}");
    }
    let no_key = app
        .send(
            Method::GET,
            &format!("/audit_logs/exports/{id}"),
            None,
            None,
        )
        .await;
    assert_eq!(no_key.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expired_tampered_and_foreign_urls_are_refused() {
    let app = TestApp::new().await;
    let org = org(&app).await;
    seed_filter_events(&app, &org).await;
    let id = create(&app, &export_body(&org, json!({}))).await;
    assert_eq!(run_worker(&app).await, 1);
    // A second export stays pending (the worker is not run again).
    let pending_id = create(&app, &export_body(&org, json!({}))).await;

    let typed: AuditLogExportId = id.parse().unwrap();
    let now = Utc::now().timestamp();
    let sign = |id: &AuditLogExportId, expires: i64| {
        keystead::api::audit_logs::export_download::signed_url(&app.state, id, expires).unwrap()
    };
    assert_eq!(
        download(&app, &sign(&typed, now + 60)).await.status,
        StatusCode::OK
    );

    let expired = download(&app, &sign(&typed, now - 1)).await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN, "{}", expired.text);
    assert_eq!(expired.body["code"], "download_url_expired");

    let good = sign(&typed, now + 60);
    let (base, sig) = good.split_once("&signature=").unwrap();
    let flipped: String = sig
        .chars()
        .enumerate()
        .map(|(i, ch)| {
            if i == 0 {
                if ch == '0' { '1' } else { '0' }
            } else {
                ch
            }
        })
        .collect();
    let later = base.replace(
        &format!("expires={}", now + 60),
        &format!("expires={}", now + 6000),
    );
    let pending_typed: AuditLogExportId = pending_id.parse().unwrap();
    let refused = [
        format!("{base}&signature={flipped}"),
        format!("{later}&signature={sig}"),
        base.to_string(),
        format!("{base}&signature=zz"),
        good.replace("expires=", "expires=x"),
        good.replace(&id, &pending_id),
    ];
    for url in refused {
        let res = download(&app, &url).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{url}: {}", res.text);
        assert_eq!(res.body["code"], "invalid_download_url", "{url}");
        assert!(res.body["message"].is_string());
    }
    // Correctly signed, but no file: a pending export and an unknown one are 404s.
    for missing in [pending_typed, AuditLogExportId::new()] {
        let res = download(&app, &sign(&missing, now + 60)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text);
    }
    let malformed = app
        .send(Method::GET, "/audit_logs/exports/nope/download", None, None)
        .await;
    assert_eq!(malformed.status, StatusCode::NOT_FOUND);
}
