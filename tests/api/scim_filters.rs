//! SCIM list filtering (RFC 7644 §3.4.2.2), sorting (§3.4.2.3) and paging (§3.4.2.4) through
//! HTTP: every operator family on the attributes filtered in SQL, filters that fall back to the
//! in-memory evaluator, `invalidFilter` errors, and `sortBy`/`sortOrder`. Each filter's answer is
//! also checked against the in-memory evaluator run over the unfiltered list, so both paths agree.

use axum::http::{Method, StatusCode};
use keystead::protocols::scim::filter;
use serde_json::{Map, Value, json};

use crate::directories::{Dir, new_directory, scim};
use crate::support::{TestApp, TestResponse};

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn names(res: &TestResponse, attr: &str) -> Vec<String> {
    res.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[attr].as_str().unwrap_or("-").to_string())
        .collect()
}

async fn get(app: &TestApp, dir: &Dir, path: &str) -> TestResponse {
    let res = scim(app, dir, Method::GET, path, None).await;
    assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text);
    res
}

/// Every resource of a collection, as the server renders it (oldest first).
async fn all(app: &TestApp, dir: &Dir, kind: &str) -> Vec<Map<String, Value>> {
    get(app, dir, &format!("/{kind}?count=1000")).await.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_object().unwrap().clone())
        .collect()
}

/// Runs `f` over HTTP, checks the result against the in-memory evaluator, and returns the
/// matching resources' `attr` values.
async fn filtered(app: &TestApp, dir: &Dir, kind: &str, f: &str, attr: &str) -> Vec<String> {
    let res = get(app, dir, &format!("/{kind}?filter={}", enc(f))).await;
    let parsed = filter::parse(f).unwrap();
    let expected: Vec<String> = all(app, dir, kind)
        .await
        .iter()
        .filter(|r| filter::matches(&parsed, r))
        .map(|r| r[attr].as_str().unwrap_or("-").to_string())
        .collect();
    let got = names(&res, attr);
    assert_eq!(got, expected, "{f}: the server and the evaluator disagree");
    assert_eq!(
        res.body["totalResults"].as_u64().unwrap() as usize,
        got.len(),
        "{f}"
    );
    got
}

async fn seed_users(app: &TestApp, dir: &Dir) -> Vec<String> {
    let mut ids = Vec::new();
    for (user, ext, display, active, work, dept) in [
        (
            "alice@a.io",
            Some("X1"),
            Some("Alice Liddell"),
            Some(true),
            "alice@work.io",
            "Eng",
        ),
        (
            "Bob@b.io",
            Some("x2"),
            Some("bob builder"),
            Some(false),
            "bob@work.io",
            "Ops",
        ),
        ("carol@a.io", None, None, Some(true), "carol@home.io", "Eng"),
        (
            "dave@c.io",
            Some("x4"),
            Some("Dave"),
            None,
            "dave@work.io",
            "Sales",
        ),
    ] {
        let mut body = json!({
            "userName": user,
            "emails": [
                {"value": work, "type": if work.contains("home") { "home" } else { "work" }, "primary": true},
                {"value": format!("{}@other.org", &user[..3]), "type": "other"}
            ],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": dept}
        });
        if let Some(e) = ext {
            body["externalId"] = e.into();
        }
        if let Some(d) = display {
            body["displayName"] = d.into();
        }
        if let Some(a) = active {
            body["active"] = a.into();
        }
        let res = scim(app, dir, Method::POST, "/Users", Some(body)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        ids.push(res.body["id"].as_str().unwrap().to_string());
    }
    ids
}

#[tokio::test]
async fn scim_user_filters_cover_every_operator_family_in_sql() {
    let app = TestApp::new().await;
    let dir = new_directory(&app, "generic scim v2.0").await;
    let ids = seed_users(&app, &dir).await;
    let f = |s: &'static str| filtered(&app, &dir, "Users", s, "userName");
    // eq / ne: userName is case-insensitive, externalId and id case-exact.
    assert_eq!(f(r#"userName eq "BOB@B.IO""#).await, ["Bob@b.io"]);
    assert_eq!(f(r#"userName ne "bob@b.io""#).await.len(), 3);
    assert!(f(r#"externalId eq "x1""#).await.is_empty());
    assert_eq!(f(r#"externalId eq "X1""#).await, ["alice@a.io"]);
    assert_eq!(f(r#"externalId ne "X1""#).await.len(), 3);
    let by_id = format!(r#"id eq "{}""#, ids[2]);
    let by_id: &'static str = Box::leak(by_id.into_boxed_str());
    assert_eq!(f(by_id).await, ["carol@a.io"]);
    // co / sw / ew.
    assert_eq!(
        f(r#"userName co "@A.""#).await,
        ["alice@a.io", "carol@a.io"]
    );
    assert_eq!(f(r#"displayName co "LID""#).await, ["alice@a.io"]);
    assert_eq!(f(r#"userName sw "b""#).await, ["Bob@b.io"]);
    assert_eq!(f(r#"externalId sw "x""#).await, ["Bob@b.io", "dave@c.io"]);
    assert_eq!(f(r#"userName ew ".IO""#).await.len(), 4);
    assert_eq!(f(r#"displayName ew "builder""#).await, ["Bob@b.io"]);
    // pr and null.
    assert_eq!(f("externalId pr").await.len(), 3);
    assert_eq!(f("displayName pr").await.len(), 3);
    assert_eq!(f("displayName eq null").await, ["carol@a.io"]);
    assert_eq!(f("active pr").await.len(), 3);
    // gt / ge / lt / le on strings (code-point order of the lower-cased values).
    assert_eq!(
        f(r#"userName gt "bob@b.io""#).await,
        ["carol@a.io", "dave@c.io"]
    );
    assert_eq!(f(r#"userName ge "bob@b.io""#).await.len(), 3);
    assert_eq!(f(r#"userName lt "bob@b.io""#).await, ["alice@a.io"]);
    assert_eq!(
        f(r#"userName le "BOB@B.IO""#).await,
        ["alice@a.io", "Bob@b.io"]
    );
    assert_eq!(f(r#"externalId lt "x""#).await, ["alice@a.io"]);
    // Booleans.
    assert_eq!(f("active eq true").await, ["alice@a.io", "carol@a.io"]);
    assert_eq!(f("active eq false").await, ["Bob@b.io"]);
    assert_eq!(f("active ne true").await, ["Bob@b.io", "dave@c.io"]);
    assert!(f(r#"active eq "true""#).await.is_empty());
    // Timestamps compare as instants.
    assert_eq!(
        f(r#"meta.lastModified gt "2000-01-01T00:00:00Z""#)
            .await
            .len(),
        4
    );
    assert!(
        f(r#"meta.lastModified lt "2000-01-01T00:00:00Z""#)
            .await
            .is_empty()
    );
    let users = all(&app, &dir, "Users").await;
    let stamp = users[1]["meta"]["lastModified"]
        .as_str()
        .unwrap()
        .to_string();
    for op in ["eq", "ne", "gt", "ge", "lt", "le", "sw"] {
        let q: &'static str =
            Box::leak(format!(r#"meta.lastModified {op} "{stamp}""#).into_boxed_str());
        let got = f(q).await;
        let has_bob = got.iter().any(|u| u == "Bob@b.io");
        assert_eq!(has_bob, matches!(op, "eq" | "ge" | "le"), "{q}");
    }
    // Multi-valued emails, plain and through value paths (Entra ID's form included).
    assert_eq!(f(r#"emails.value eq "DAVE@work.io""#).await, ["dave@c.io"]);
    assert_eq!(f(r#"emails.value co "other.org""#).await.len(), 4);
    assert_eq!(f(r#"emails.type eq "home""#).await, ["carol@a.io"]);
    assert_eq!(f(r#"emails.value ne "dave@work.io""#).await.len(), 3);
    assert_eq!(
        f(r#"emails[type eq "work"].value eq "bob@work.io""#).await,
        ["Bob@b.io"]
    );
    assert!(
        f(r#"emails[type eq "other"].value eq "bob@work.io""#)
            .await
            .is_empty()
    );
    assert_eq!(
        f(r#"emails[type eq "work" and value sw "a"]"#).await,
        ["alice@a.io"]
    );
    assert_eq!(
        f(r#"emails[primary eq true and type eq "home"]"#).await,
        ["carol@a.io"]
    );
    assert_eq!(f(r#"emails[not (type eq "work")]"#).await.len(), 4);
    // and / or / not, nested.
    assert_eq!(
        f(r#"active eq true and (userName sw "c" or externalId eq "X1")"#).await,
        ["alice@a.io", "carol@a.io"]
    );
    assert_eq!(
        f(r#"not (userName co "a.io") or active eq false"#)
            .await
            .len(),
        2
    );
    assert_eq!(f(r#"not (externalId eq "X1")"#).await.len(), 3);
    assert_eq!(f(r#"userName eq 5"#).await.len(), 0);
}

#[tokio::test]
async fn scim_filters_outside_sql_fall_back_to_memory_with_correct_paging() {
    let app = TestApp::new().await;
    let dir = new_directory(&app, "generic scim v2.0").await;
    let ids = seed_users(&app, &dir).await;
    let dept = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";
    let f = |s: String| {
        let s: &'static str = Box::leak(s.into_boxed_str());
        filtered(&app, &dir, "Users", s, "userName")
    };
    assert_eq!(
        f(format!(r#"{dept} eq "eng""#)).await,
        ["alice@a.io", "carol@a.io"]
    );
    assert_eq!(
        f(format!(r#"{dept} eq "eng" and userName sw "c""#)).await,
        ["carol@a.io"]
    );
    assert_eq!(
        f(format!(r#"{dept} eq "ops" or active eq true"#))
            .await
            .len(),
        3
    );
    assert_eq!(
        f(r#"userName eq "ALICE@a.io" or title pr"#.into())
            .await
            .len(),
        1
    );
    assert_eq!(f(r#"emails co "work.io""#.into()).await.len(), 3);
    assert_eq!(f(r#"userName sw "é""#.into()).await.len(), 0);
    // User groups are only in memory.
    let res = scim(
        &app,
        &dir,
        Method::POST,
        "/Groups",
        Some(json!({"displayName": "Admins", "members": [{"value": ids[3]}]})),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED);
    assert_eq!(
        f(r#"groups.display eq "admins""#.into()).await,
        ["dave@c.io"]
    );

    // Paging: totalResults is the full match count in both paths.
    for filter in [r#"userName co "@""#.to_string(), format!(r#"{dept} pr"#)] {
        let res = get(
            &app,
            &dir,
            &format!("/Users?filter={}&startIndex=2&count=2", enc(&filter)),
        )
        .await;
        assert_eq!(res.body["totalResults"], 4, "{filter}");
        assert_eq!(res.body["startIndex"], 2);
        assert_eq!(res.body["itemsPerPage"], 2);
        assert_eq!(
            names(&res, "userName"),
            ["Bob@b.io", "carol@a.io"],
            "{filter}"
        );
        let past = get(
            &app,
            &dir,
            &format!("/Users?filter={}&startIndex=9", enc(&filter)),
        )
        .await;
        assert_eq!(
            (
                past.body["totalResults"].as_i64(),
                past.body["itemsPerPage"].as_i64()
            ),
            (Some(4), Some(0))
        );
        let none = get(
            &app,
            &dir,
            &format!("/Users?filter={}&count=0", enc(&filter)),
        )
        .await;
        assert_eq!(none.body["totalResults"], 4);
        assert_eq!(none.body["Resources"], json!([]));
    }
}

#[tokio::test]
async fn scim_group_filters_cover_names_external_ids_and_members() {
    let app = TestApp::new().await;
    let dir = new_directory(&app, "generic scim v2.0").await;
    let ids = seed_users(&app, &dir).await;
    for (name, ext, members) in [
        (
            "Engineering",
            Some("G1"),
            vec![ids[0].clone(), ids[2].clone()],
        ),
        ("Ops", Some("g2"), vec![ids[1].clone()]),
        ("Empty", None, vec![]),
    ] {
        let mut body = json!({"displayName": name,
            "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()});
        if let Some(e) = ext {
            body["externalId"] = e.into();
        }
        let res = scim(&app, &dir, Method::POST, "/Groups", Some(body)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }
    let f = |s: String| {
        let s: &'static str = Box::leak(s.into_boxed_str());
        filtered(&app, &dir, "Groups", s, "displayName")
    };
    assert_eq!(f(r#"displayName eq "ops""#.into()).await, ["Ops"]);
    assert_eq!(
        f(r#"displayName sw "E""#.into()).await,
        ["Engineering", "Empty"]
    );
    assert_eq!(
        f(r#"displayName gt "eng""#.into()).await,
        ["Engineering", "Ops"]
    );
    assert_eq!(f(r#"externalId eq "g1""#.into()).await.len(), 0);
    assert_eq!(f(r#"externalId eq "G1""#.into()).await, ["Engineering"]);
    assert_eq!(f("externalId pr".into()).await.len(), 2);
    assert_eq!(
        f(format!(r#"members.value eq "{}""#, ids[2])).await,
        ["Engineering"]
    );
    assert_eq!(f(format!(r#"members eq "{}""#, ids[1])).await, ["Ops"]);
    assert_eq!(
        f(format!(r#"members[value eq "{}"]"#, ids[0])).await,
        ["Engineering"]
    );
    assert_eq!(
        f(format!(r#"members.value ne "{}""#, ids[0])).await,
        ["Ops", "Empty"]
    );
    assert_eq!(f("members pr".into()).await, ["Engineering", "Ops"]);
    assert_eq!(f("not (members pr)".into()).await, ["Empty"]);
    assert_eq!(
        f(format!(
            r#"displayName co "o" and members[value eq "{}"]"#,
            ids[1]
        ))
        .await,
        ["Ops"]
    );
    assert_eq!(
        f(r#"members[type eq "User"]"#.into()).await.len(),
        2,
        "fallback"
    );
}

#[tokio::test]
async fn scim_bad_filters_are_400_invalid_filter() {
    let app = TestApp::new().await;
    let dir = new_directory(&app, "generic scim v2.0").await;
    for bad in [
        "userName",
        "userName eq",
        r#"userName zz "x""#,
        r#"(userName eq "x""#,
        r#"userName eq "x" and"#,
        r#"emails[type eq "work""#,
        r#"emails[type eq "work"].a.b eq "x""#,
        r#"not userName eq "x""#,
        r#"userName eq "x" extra"#,
    ] {
        for res in [
            scim(
                &app,
                &dir,
                Method::GET,
                &format!("/Users?filter={}", enc(bad)),
                None,
            )
            .await,
            scim(
                &app,
                &dir,
                Method::POST,
                "/Groups/.search",
                Some(json!({"filter": bad})),
            )
            .await,
        ] {
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(res.body["scimType"], "invalidFilter", "{bad}");
        }
    }
}

#[tokio::test]
async fn scim_sort_by_orders_before_paging() {
    let app = TestApp::new().await;
    let dir = new_directory(&app, "generic scim v2.0").await;
    seed_users(&app, &dir).await;
    let sorted = |q: &'static str| {
        let app = &app;
        let dir = &dir;
        async move { names(&get(app, dir, &format!("/Users?{q}")).await, "userName") }
    };
    assert_eq!(
        sorted("sortBy=userName").await,
        ["alice@a.io", "Bob@b.io", "carol@a.io", "dave@c.io"]
    );
    assert_eq!(
        sorted("sortBy=userName&sortOrder=descending").await,
        ["dave@c.io", "carol@a.io", "Bob@b.io", "alice@a.io"]
    );
    // Missing values sort last ascending, first descending.
    assert_eq!(
        sorted("sortBy=displayName").await,
        ["alice@a.io", "Bob@b.io", "dave@c.io", "carol@a.io"]
    );
    assert_eq!(
        sorted("sortBy=displayName&sortOrder=Descending").await,
        ["carol@a.io", "dave@c.io", "Bob@b.io", "alice@a.io"]
    );
    // externalId is case-exact: "X1" sorts before "x2".
    assert_eq!(
        sorted("sortBy=externalId").await,
        ["alice@a.io", "Bob@b.io", "dave@c.io", "carol@a.io"]
    );
    assert_eq!(
        sorted("sortBy=meta.lastModified&sortOrder=descending").await,
        ["dave@c.io", "carol@a.io", "Bob@b.io", "alice@a.io"]
    );
    // Sorting applies before paging, in SQL and in the fallback.
    let page = get(
        &app,
        &dir,
        &format!(
            "/Users?sortBy=userName&sortOrder=descending&startIndex=2&count=2&filter={}",
            enc(r#"userName co "@""#)
        ),
    )
    .await;
    assert_eq!(names(&page, "userName"), ["carol@a.io", "Bob@b.io"]);
    assert_eq!(page.body["totalResults"], 4);
    let search = scim(
        &app,
        &dir,
        Method::POST,
        "/Users/.search",
        Some(json!({
            "filter": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr",
            "sortBy": "userName", "sortOrder": "descending", "startIndex": 1, "count": 3
        })),
    )
    .await;
    assert_eq!(
        names(&search, "userName"),
        ["dave@c.io", "carol@a.io", "Bob@b.io"]
    );
    assert_eq!(search.body["totalResults"], 4);
    let groups = get(
        &app,
        &dir,
        "/Groups?sortBy=displayName&sortOrder=descending",
    )
    .await;
    assert_eq!(groups.body["totalResults"], 0);
    // Errors.
    for q in [
        "sortBy=emails",
        "sortBy=userName&sortOrder=up",
        "sortBy=a..b",
    ] {
        let res = scim(&app, &dir, Method::GET, &format!("/Users?{q}"), None).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(res.body["scimType"], "invalidValue", "{q}");
    }
    let spc = get(&app, &dir, "/ServiceProviderConfig").await;
    assert_eq!(spc.body["sort"]["supported"], true);
}
