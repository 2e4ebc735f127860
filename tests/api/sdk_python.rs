//! The official WorkOS Python SDK against Keystead over real HTTP: `sso.get_authorization_url`,
//! a SAML login through the real IdP, `sso.get_profile_and_token`, `sso.get_profile`, and the
//! connections calls (`list_connections`, `get_connection`, `delete_connection`).

use serde_json::Value;

use crate::idp::{self, form_fields, python};
use crate::sso_saml::{APP_CALLBACK, location, param, post_acs, setup};

/// Runs `tests/sdk/workos_sso.py` off the runtime (the server answers meanwhile).
async fn sdk(args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        python(
            "workos_sso.py",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_python_sdk_runs_sso_and_connections_against_keystead() {
    if idp::skipped("python sdk") {
        return;
    }
    let s = setup(None, false).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = s.app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let (key, client_id) = (s.app.tenant.api_key.clone(), s.app.tenant.client_id.clone());

    let url = sdk(&[&base, &key, &client_id, "authorize", &s.connection_id]).await;
    assert!(url.starts_with(&format!("{base}/sso/authorize?")), "{url}");

    // The browser: Keystead → IdP → ACS → application.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 302, "{}", res.text().await.unwrap());
    let to_idp = res.headers()["location"].to_str().unwrap().to_string();
    let html = reqwest::get(&to_idp).await.unwrap().text().await.unwrap();
    let (action, fields) = form_fields(&html);
    let back = location(&post_acs(&s.app, &action, &fields).await);
    assert!(back.as_str().starts_with(APP_CALLBACK));
    assert_eq!(param(&back, "state").as_deref(), Some("py-state"));
    let code = param(&back, "code").unwrap();

    let out = sdk(&[
        &base,
        &key,
        &client_id,
        "exchange",
        &code,
        &s.organization_id,
        &s.connection_id,
    ])
    .await;
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}"));
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 600);
    assert_eq!(v["email"], "alice@example.com");
    assert_eq!(v["first_name"], "Alice");
    assert_eq!(v["connection_type"], "GenericSAML");
    assert_eq!(v["profile_id"], v["token_profile_id"]);
    assert_eq!(v["listed"], serde_json::json!([s.connection_id]));
    assert_eq!(v["fetched"], s.connection_id.as_str());
    assert_eq!(v["fetched_state"], "active");
    assert_eq!(v["domains"], serde_json::json!(["acme.test"]));
    assert_eq!(v["after_delete"], serde_json::json!([]));
}
