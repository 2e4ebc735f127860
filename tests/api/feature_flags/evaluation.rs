//! The evaluator's truth table (disabled → off; else the user's target, else the organization's,
//! else `default_value`), checked through every consumer at once: the organization's and the
//! user's flag lists, OFREP one flag at a time and in bulk, and the access token's
//! `feature_flags` claim with and without an organization.

use axum::http::StatusCode;
use serde_json::json;

use super::{flag, slugs, target};
use crate::support::TestApp;
use crate::um::{claims, member, org, password, user};

/// One row of the truth table: (enabled, user target, organization target, default_value).
type Row = (bool, Option<bool>, Option<bool>, bool);

/// The Node SDK's evaluator.
fn expected(row: Row, with_user: bool, with_org: bool) -> (bool, &'static str) {
    let (enabled, user, org, default) = row;
    if !enabled {
        return (false, "DISABLED");
    }
    match (user.filter(|_| with_user), org.filter(|_| with_org)) {
        (Some(v), _) | (None, Some(v)) => (v, "TARGETING_MATCH"),
        (None, None) => (default, "DEFAULT"),
    }
}

#[tokio::test]
async fn lists_ofrep_and_the_token_claim_follow_the_evaluators_truth_table() {
    let app = TestApp::new().await;
    let acme = org(&app, "Acme").await;
    let ada = user(&app, "ada@example.com", true).await;
    member(&app, &ada, &acme, "member").await;
    let mut rows: Vec<Row> = Vec::new();
    for enabled in [true, false] {
        for user in [None, Some(true), Some(false)] {
            for org in [None, Some(true), Some(false)] {
                for default in [true, false] {
                    rows.push((enabled, user, org, default));
                }
            }
        }
    }
    for (i, row) in rows.iter().enumerate() {
        let slug = format!("f{i:02}");
        flag(&app, &slug, row.0, row.3).await;
        for (value, id) in [(row.1, &ada["id"]), (row.2, &acme["id"])] {
            if let Some(v) = value {
                target(&app, &slug, id).await;
                // The API only adds targets that are on; an off target is written directly.
                sqlx::query(
                    "update feature_flag_targets set enabled = $1
                      where environment_id = $2 and (user_id = $3 or organization_id = $3)
                        and flag_id = (select id from feature_flags where slug = $4 and environment_id = $2)",
                )
                .bind(v)
                .bind(&app.tenant.environment_id)
                .bind(id.as_str().unwrap())
                .bind(&slug)
                .execute(&app.pool)
                .await
                .unwrap();
            }
        }
    }
    let on = |with_user: bool, with_org: bool| -> Vec<String> {
        rows.iter()
            .enumerate()
            .filter(|(_, r)| expected(**r, with_user, with_org).0)
            .map(|(i, _)| format!("f{i:02}"))
            .collect()
    };
    let all = |path: String| {
        let app = &app;
        async move {
            let res = app.get(&format!("{path}?order=asc&limit=100")).await;
            slugs(&res)
        }
    };
    let (acme_id, ada_id) = (acme["id"].as_str().unwrap(), ada["id"].as_str().unwrap());
    assert_eq!(
        all(format!("/organizations/{acme_id}/feature-flags")).await,
        on(false, true)
    );
    assert_eq!(
        all(format!("/user_management/users/{ada_id}/feature-flags")).await,
        on(true, true),
        "the user inherits Acme's targets"
    );

    // OFREP, one flag at a time and in bulk.
    let context = json!({"context": {"targetingKey": ada_id, "organizationId": acme_id}});
    let bulk = app.post("/ofrep/v1/evaluate/flags", &context).await;
    assert_eq!(bulk.status, StatusCode::OK, "{}", bulk.text);
    assert_eq!(bulk.body["flags"].as_array().unwrap().len(), rows.len());
    for (i, row) in rows.iter().enumerate() {
        let (value, reason) = expected(*row, true, true);
        let one = app
            .post(&format!("/ofrep/v1/evaluate/flags/f{i:02}"), &context)
            .await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.text);
        assert_eq!(
            (one.body["value"].as_bool(), one.body["reason"].as_str()),
            (Some(value), Some(reason)),
            "{row:?}"
        );
        assert_eq!(one.body["variant"], if value { "on" } else { "off" });
        assert_eq!(bulk.body["flags"][i], one.body);
    }

    // The access token of a session in Acme, and of one without an organization.
    let signed_in = password(&app, "ada@example.com").await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    assert_eq!(signed_in.body["organization_id"], json!(acme_id));
    let token = claims(signed_in.body["access_token"].as_str().unwrap());
    assert_eq!(token["feature_flags"], json!(on(true, true)));
    let solo = user(&app, "bob@example.com", true).await;
    let bob = password(&app, "bob@example.com").await;
    assert_eq!(bob.status, StatusCode::OK, "{}", bob.text);
    let bob_flags: Vec<String> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.0 && r.3)
        .map(|(i, _)| format!("f{i:02}"))
        .collect();
    assert_eq!(
        claims(bob.body["access_token"].as_str().unwrap())["feature_flags"],
        json!(bob_flags)
    );
    let solo_id = solo["id"].as_str().unwrap();
    assert_eq!(
        all(format!("/user_management/users/{solo_id}/feature-flags")).await,
        bob_flags
    );
}
