//! Provisioning runs replayed from fixtures with real IdP request bodies
//! (`tests/fixtures/scim/{entra,okta}_provisioning.json`): each step's status and response are
//! checked, the result is checked through `/directory_users` and `/directory_groups`, and every
//! `dsync.*` event arrives as a signed webhook that the official SDKs verify.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::directories::{new_directory, scim};
use crate::support::TestApp;
use crate::webhooks::{Receiver, receiver, verify, verify_with_sdks};

fn substitute(s: &str, vars: &HashMap<String, String>) -> String {
    vars.iter().fold(s.to_string(), |acc, (k, v)| {
        acc.replace(&format!("{{{{{k}}}}}"), v)
    })
}

async fn replay(fixture: &str) {
    let raw = std::fs::read_to_string(format!(
        "{}/tests/fixtures/scim/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let spec: Value = serde_json::from_str(&raw).unwrap();
    let app = TestApp::new().await;
    let rx: Receiver = receiver(0, std::time::Duration::ZERO).await;
    let all_dsync = [
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
    let e = app
        .post(
            "/webhook_endpoints",
            &json!({"endpoint_url": rx.url, "events": all_dsync}),
        )
        .await
        .body;
    let dir = new_directory(&app, spec["type"].as_str().unwrap()).await;
    let flag = spec["query"].as_str().unwrap().trim_start_matches('?');
    let mut vars: HashMap<String, String> = HashMap::new();
    for step in spec["steps"].as_array().unwrap() {
        let name = step["step"].as_str().unwrap();
        let mut path = substitute(step["path"].as_str().unwrap(), &vars);
        if !flag.is_empty() {
            path.push(if path.contains('?') { '&' } else { '?' });
            path.push_str(flag);
        }
        let body = step
            .get("body")
            .map(|b| serde_json::from_str(&substitute(&b.to_string(), &vars)).unwrap());
        let method = Method::from_bytes(step["method"].as_str().unwrap().as_bytes()).unwrap();
        let res = scim(&app, &dir, method, &path, body).await;
        assert_eq!(
            res.status.as_u16(),
            step["status"].as_u64().unwrap() as u16,
            "{fixture}: {name}: {}",
            res.text
        );
        if res.status != StatusCode::NO_CONTENT {
            assert!(
                res.headers["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/scim+json"),
                "{name}"
            );
        }
        if let Some(expect) = step.get("expect").and_then(Value::as_object) {
            for (pointer, want) in expect {
                let want: Value =
                    serde_json::from_str(&substitute(&want.to_string(), &vars)).unwrap();
                let got = res.body.pointer(pointer).cloned().unwrap_or(Value::Null);
                assert_eq!(got, want, "{fixture}: {name}: {pointer} in {}", res.body);
            }
        }
        if let Some(var) = step.get("capture").and_then(Value::as_str) {
            vars.insert(var.into(), res.body["id"].as_str().unwrap().into());
        }
    }

    // The result, through the WorkOS API.
    let final_ = &spec["final"];
    let users = app
        .get(&format!(
            "/directory_users?directory={}&order=asc&limit=100",
            dir.id
        ))
        .await
        .body;
    let users = users["data"].as_array().unwrap();
    let want_users = final_["users"].as_array().unwrap();
    assert_eq!(users.len(), want_users.len(), "{fixture}: {users:?}");
    for (got, want) in users.iter().zip(want_users) {
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(&got[k], v, "{fixture}: user {k}: {got}");
        }
        assert_eq!(got["organization_id"], dir.org);
    }
    let groups = app
        .get(&format!("/directory_groups?directory={}&order=asc", dir.id))
        .await
        .body;
    let groups = groups["data"].as_array().unwrap();
    let want_groups = final_["groups"].as_array().unwrap();
    assert_eq!(groups.len(), want_groups.len());
    for (got, want) in groups.iter().zip(want_groups) {
        assert_eq!(got["name"], want["name"]);
        let members = app
            .get(&format!(
                "/directory_users?group={}&order=asc",
                got["id"].as_str().unwrap()
            ))
            .await
            .body;
        let names: Vec<&Value> = members["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| &u["username"])
            .collect();
        let want: Vec<&Value> = want["members"].as_array().unwrap().iter().collect();
        assert_eq!(names, want, "{fixture}: members of {}", got["name"]);
    }
    let events: Vec<String> = app
        .event_names()
        .await
        .into_iter()
        .filter(|n| n.starts_with("dsync."))
        .collect();
    let want_events: Vec<&str> = final_["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(events, want_events, "{fixture}: events");

    // Each step arrived as a signed webhook.
    let sent = app.drain_webhooks().await;
    assert_eq!(sent, events.len());
    let secret = e["secret"].as_str().unwrap();
    let hits = rx.hits();
    assert_eq!(hits.len(), events.len());
    let mut cases = Vec::new();
    for (sig, body) in &hits {
        assert!(verify(secret, sig, body));
        cases.push(json!({"body": body, "signature": sig, "secret": secret}));
    }
    verify_with_sdks(&cases);
}

#[tokio::test]
async fn an_entra_id_provisioning_run_with_its_dialect_quirks() {
    replay("entra_provisioning.json").await;
}

#[tokio::test]
async fn an_okta_provisioning_run_with_put_memberships_and_deactivation() {
    replay("okta_provisioning.json").await;
}
