//! The official `workos` CLI (locked in `tests/sdk/locks/workos-cli`) pointed at Keystead with
//! `workos env add … --endpoint <url>`: organizations, domains, users, memberships,
//! invitations, sessions, roles, webhooks, events, redirect URIs, CORS origins and the app
//! homepage URL, each
//! command's JSON answer checked against what the API then holds.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::locks;

/// The CLI with its own `HOME` (its config lives in `~/.workos`, in plaintext with
/// `--insecure-storage`).
struct Cli {
    bin: PathBuf,
    home: PathBuf,
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

impl Cli {
    fn new() -> Self {
        let bin = locks::node_modules("workos-cli").join("workos/dist/bin.js");
        let home = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("workos-cli-home-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&home).expect("home");
        Self { bin, home }
    }

    /// Runs `workos <args> --mode ci`; returns (success, parsed JSON of stdout, or of stderr).
    async fn run(&self, args: &[&str]) -> (bool, Value) {
        let mut cmd = Command::new("node");
        cmd.arg(&self.bin)
            .args(args)
            .args(["--mode", "ci"])
            .env("HOME", &self.home)
            .env_remove("WORKOS_API_KEY")
            .env_remove("WORKOS_CLIENT_ID");
        let shown = format!("workos {}", args.join(" "));
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .expect("run the workos CLI");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let text = if stdout.trim().is_empty() {
            stderr.trim()
        } else {
            stdout.trim()
        };
        let value = serde_json::from_str(text)
            .unwrap_or_else(|_| panic!("{shown}: not JSON:\n{stdout}\n{stderr}"));
        (out.status.success(), value)
    }

    /// Like [`Cli::run`], asserting success.
    async fn ok(&self, args: &[&str]) -> Value {
        let (ok, value) = self.run(args).await;
        assert!(ok, "workos {}: {value}", args.join(" "));
        value
    }
}

fn home_config(home: &Path) -> Value {
    let text = std::fs::read_to_string(home.join(".workos/config.json")).expect("CLI config");
    serde_json::from_str(&text).expect("config JSON")
}

#[tokio::test]
async fn the_workos_cli_manages_an_environment_through_its_endpoint_option() {
    if crate::support::skip("KEYSTEAD_SKIP_SDK_TESTS", "the workos CLI test") {
        return;
    }
    let app = TestApp::new().await;
    let base = app.serve().await;
    let cli = Cli::new();
    let t = &app.tenant;

    let added = cli
        .ok(&[
            "env",
            "add",
            "keystead",
            &t.api_key,
            "--client-id",
            &t.client_id,
            "--endpoint",
            &base,
            "--insecure-storage",
        ])
        .await;
    assert_eq!(added["status"], "ok", "{added}");
    cli.ok(&["env", "switch", "keystead"]).await;
    assert_eq!(
        home_config(&cli.home)["environments"]["keystead"]["endpoint"],
        base.as_str()
    );

    // Organizations and their domains.
    let org = cli.ok(&["organization", "create", "Foo Corp"]).await;
    let org_id = org["data"]["id"]
        .as_str()
        .expect("organization id")
        .to_string();
    assert!(org_id.starts_with("org_"), "{org}");
    let listed = cli.ok(&["organization", "list"]).await;
    assert_eq!(listed["data"][0]["id"], org_id.as_str(), "{listed}");
    let fetched = cli.ok(&["organization", "get", &org_id]).await;
    assert_eq!(fetched["name"], "Foo Corp", "{fetched}");
    let domain = cli
        .ok(&["org-domain", "create", "foo.example", "--org", &org_id])
        .await;
    let domain_id = domain["data"]["id"]
        .as_str()
        .or(domain["id"].as_str())
        .expect("domain id")
        .to_string();
    let got = cli.ok(&["org-domain", "get", &domain_id]).await;
    assert_eq!(got["domain"], "foo.example", "{got}");

    // Users, memberships, sessions.
    let user = app
        .post(
            "/user_management/users",
            &json!({"email": "cli@example.com", "first_name": "Ada"}),
        )
        .await;
    assert_eq!(user.status, StatusCode::CREATED);
    let user_id = user.body["id"].as_str().unwrap().to_string();
    let got = cli.ok(&["user", "get", &user_id]).await;
    assert_eq!(got["email"], "cli@example.com", "{got}");
    cli.ok(&["user", "update", &user_id, "--last-name", "Lovelace"])
        .await;
    let after = app.get(&format!("/user_management/users/{user_id}")).await;
    assert_eq!(after.body["last_name"], "Lovelace");
    let membership = cli
        .ok(&["membership", "create", "--org", &org_id, "--user", &user_id])
        .await;
    let membership_id = membership["data"]["id"]
        .as_str()
        .or(membership["id"].as_str())
        .expect("membership id")
        .to_string();
    assert!(membership_id.starts_with("om_"), "{membership}");
    let sessions = cli.ok(&["session", "list", &user_id]).await;
    assert_eq!(sessions["data"], json!([]), "{sessions}");

    // Invitations.
    let invitation = cli
        .ok(&[
            "invitation",
            "send",
            "--email",
            "new@example.com",
            "--org",
            &org_id,
        ])
        .await;
    let invitation_id = invitation["data"]["id"]
        .as_str()
        .or(invitation["id"].as_str())
        .expect("invitation id")
        .to_string();
    cli.ok(&["invitation", "revoke", &invitation_id]).await;
    let revoked = app
        .get(&format!("/user_management/invitations/{invitation_id}"))
        .await;
    assert_eq!(revoked.body["state"], "revoked");
    assert_eq!(app.drain_emails().await, 1, "the invitation email");

    // Roles, webhooks, events.
    let roles = cli.ok(&["role", "list"]).await;
    let slugs: Vec<&str> = roles["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["slug"].as_str())
        .collect();
    assert!(
        slugs.contains(&"member") && slugs.contains(&"admin"),
        "{roles}"
    );
    let webhooks = cli.ok(&["webhook", "list"]).await;
    assert!(webhooks["data"].is_array(), "{webhooks}");
    let events = cli
        .ok(&["event", "list", "--events", "organization.created"])
        .await;
    assert_eq!(events["data"][0]["data"]["id"], org_id.as_str(), "{events}");

    // Configuration: redirect URIs and CORS origins.
    cli.ok(&[
        "config",
        "redirect",
        "add",
        "http://localhost:3000/callback",
    ])
    .await;
    cli.ok(&["config", "cors", "add", "http://localhost:3000"])
        .await;
    let uris: Vec<String> =
        sqlx::query_scalar("select uri from redirect_uris where environment_id = $1")
            .bind(&t.environment_id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(uris, ["http://localhost:3000/callback"]);
    let origins: Vec<String> =
        sqlx::query_scalar("select origin from cors_origins where environment_id = $1")
            .bind(&t.environment_id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(origins, ["http://localhost:3000"]);
    cli.ok(&[
        "config",
        "homepage-url",
        "set",
        "http://localhost:3000/home",
    ])
    .await;
    let environment = app.get("/environment").await;
    assert_eq!(
        environment.body["settings"]["app_homepage_url"], "http://localhost:3000/home",
        "{}",
        environment.text
    );

    // Errors come back as the CLI's error objects, and deletes stick.
    let (ok, missing) = cli
        .run(&["organization", "get", "org_01HZZZZZZZZZZZZZZZZZZZZZZZ"])
        .await;
    assert!(!ok, "{missing}");
    assert!(missing.to_string().contains("404"), "{missing}");
    cli.ok(&["membership", "delete", &membership_id]).await;
    cli.ok(&["organization", "delete", &org_id]).await;
    let gone = app.get(&format!("/organizations/{org_id}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}
