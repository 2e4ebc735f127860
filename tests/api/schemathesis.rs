//! Schemathesis against `openapi.yaml`: every operation (but the one [`EXCLUDED`] says why),
//! positive and negative generation, NUL characters allowed in generated strings, the
//! `not_a_server_error` check. Bad input must be a
//! WorkOS-shaped 4xx, so the run must end with no failure, and the server must not log an
//! `ERROR` line (a client mistake is not a server error).
//!
//! The real `keystead serve` runs on the test's database with rate limits off and the webhook
//! and audit-log stream workers disabled (generated endpoint and sink URLs must not be called). Before the run the test creates
//! one of each main object (organization, user, membership, domain, invitation, Magic Auth code,
//! password reset, connection, directories with a SCIM user and group, role, CORS origin,
//! redirect URI, MFA factor and challenge, webhook endpoint, session) and hands their ids to
//! Schemathesis as dictionaries (drawn for half of the generated values of the parameters that
//! take them), so the handlers behind the 404s get fuzzed too. The SCIM operations get the directory's
//! SCIM bearer token.
//!
//! Schemathesis is installed as `tests/sdk/locks/schemathesis/requirements.txt` pins it (every
//! package; `scripts/bump-sdks tools` moves it), into `target/locks/schemathesis/` on first use;
//! a failed install fails the test. Its seed is fixed ([`SEED`]) so a run is reproducible; set
//! `KEYSTEAD_SCHEMATHESIS_SEED` to explore with another one and `KEYSTEAD_SCHEMATHESIS_EXAMPLES`
//! for more examples per operation.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};

use crate::binary::Server;
use crate::support::TestApp;
use crate::support::command::run;
use crate::support::locks;

/// Examples per operation and phase (the run takes about a minute on two cores).
const EXAMPLES: u32 = 25;
/// Operations left out, by operationId, and why.
const EXCLUDED: [&str; 1] = [
    // `POST /scim/v2/{directory_id}/.search` (search across resource types) is optional in
    // RFC 7644 §3.4.3; Keystead answers every such request 501 Not Implemented, as §3.12 gives
    // for an unsupported operation, so there is nothing else to exercise.
    "KeysteadScimRootSearch",
];
/// The generation seed (reproducible runs).
const SEED: u64 = 20_261_205;

const API_KEY: &str = "sk_test_schemathesis0123456789abcdefgh";
const CLIENT_ID: &str = "client_01SCHEMATHESIS000000000000";

/// Ids of the objects created before the run, by dictionary name.
struct Seeds {
    /// Every `{id}` of the API-key routes.
    ids: Vec<String>,
    organization_ids: Vec<String>,
    user_ids: Vec<String>,
    emails: Vec<String>,
    external_ids: Vec<String>,
    tokens: Vec<String>,
    slugs: Vec<String>,
    connection_ids: Vec<String>,
    session_ids: Vec<String>,
    scim_directory: String,
    scim_token: String,
    scim_ids: Vec<String>,
}

/// POSTs `body` to `path` with the API key (or `bearer`); panics unless 200/201.
async fn create(server: &Server, path: &str, body: Value, bearer: Option<&str>) -> Value {
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{}{path}", server.base_url))
        .bearer_auth(bearer.unwrap_or(API_KEY))
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = res.status();
    let text = res.text().await.expect("body");
    assert!(status.is_success(), "seeding POST {path}: {status} {text}");
    serde_json::from_str(&text).expect("json")
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// Creates one of each main object through the API.
async fn seed(server: &Server) -> Seeds {
    let email = "seed.user@example.com";
    let org = create(
        server,
        "/organizations",
        json!({"name": "Seed Org", "external_id": "seed-org"}),
        None,
    )
    .await;
    let org_id = id(&org);
    let user = create(
        server,
        "/user_management/users",
        json!({"email": email, "password": "a-Seed-password-1", "external_id": "seed-user",
               "email_verified": true}),
        None,
    )
    .await;
    let user_id = id(&user);
    let membership = create(
        server,
        "/user_management/organization_memberships",
        json!({"user_id": user_id, "organization_id": org_id}),
        None,
    )
    .await;
    let domain = create(
        server,
        "/organization_domains",
        json!({"domain": "seed-org.example.com", "organization_id": org_id}),
        None,
    )
    .await;
    let invitation = create(
        server,
        "/user_management/invitations",
        json!({"email": "invitee@example.com", "organization_id": org_id}),
        None,
    )
    .await;
    let magic = create(
        server,
        "/user_management/magic_auth",
        json!({"email": email}),
        None,
    )
    .await;
    let reset = create(
        server,
        "/user_management/password_reset",
        json!({"email": email}),
        None,
    )
    .await;
    let connection = create(
        server,
        "/connections",
        json!({"name": "Seed Google", "connection_type": "GoogleOAuth",
               "oauth": {"client_id": "seed", "client_secret": "seed-secret"}}),
        None,
    )
    .await;
    let directory = create(
        server,
        "/directories",
        json!({"organization_id": org_id, "name": "Seed directory"}),
        None,
    )
    .await;
    // The SCIM directory and its organization stay out of the dictionaries: rotating its
    // token or deleting either would turn every later SCIM request into a 401.
    let scim_org = create(
        server,
        "/organizations",
        json!({"name": "Seed SCIM Org"}),
        None,
    )
    .await;
    let scim = create(
        server,
        "/directories",
        json!({"organization_id": id(&scim_org), "name": "Seed SCIM"}),
        None,
    )
    .await;
    let scim_directory = id(&scim);
    let scim_token = scim["scim"]["bearer_token"]
        .as_str()
        .expect("scim token")
        .to_string();
    let scim_user = create(
        server,
        &format!("/scim/v2/{scim_directory}/Users"),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
               "userName": "scim.seed@example.com", "active": true,
               "name": {"givenName": "Scim", "familyName": "Seed"},
               "emails": [{"value": "scim.seed@example.com", "primary": true}]}),
        Some(&scim_token),
    )
    .await;
    let scim_group = create(
        server,
        &format!("/scim/v2/{scim_directory}/Groups"),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
               "displayName": "Seed group",
               "members": [{"value": id(&scim_user)}]}),
        Some(&scim_token),
    )
    .await;
    let role = create(
        server,
        "/authorization/roles",
        json!({"slug": "seed-role", "name": "Seed role"}),
        None,
    )
    .await;
    let cors = create(
        server,
        "/user_management/cors_origins",
        json!({"origin": "https://seed.example.com"}),
        None,
    )
    .await;
    let redirect = create(
        server,
        "/user_management/redirect_uris",
        json!({"uri": "https://seed.example.com/callback"}),
        None,
    )
    .await;
    let factor = create(
        server,
        "/auth/factors/enroll",
        json!({"type": "totp", "totp_issuer": "Seed", "totp_user": email}),
        None,
    )
    .await;
    let challenge = create(
        server,
        &format!("/auth/factors/{}/challenge", id(&factor)),
        json!({}),
        None,
    )
    .await;
    let webhook = create(
        server,
        "/webhook_endpoints",
        json!({"endpoint_url": "https://hooks.example.com/keystead", "events": ["user.created"]}),
        None,
    )
    .await;
    let signed_in = create(
        server,
        "/user_management/authenticate",
        json!({"client_id": CLIENT_ID, "client_secret": API_KEY, "grant_type": "password",
               "email": email, "password": "a-Seed-password-1"}),
        None,
    )
    .await;
    let session_id = session_of(signed_in["access_token"].as_str().expect("access token"));
    let ids = [
        &org,
        &user,
        &membership,
        &domain,
        &invitation,
        &magic,
        &reset,
        &connection,
        &directory,
        &cors,
        &redirect,
        &factor,
        &challenge,
        &webhook,
    ]
    .into_iter()
    .map(id)
    .collect();
    Seeds {
        ids,
        organization_ids: vec![org_id],
        user_ids: vec![user_id],
        emails: vec![email.into(), "invitee@example.com".into()],
        external_ids: vec!["seed-org".into(), "seed-user".into()],
        tokens: vec![invitation["token"].as_str().expect("token").to_string()],
        slugs: vec![
            role["slug"].as_str().expect("slug").to_string(),
            "admin".into(),
            "member".into(),
        ],
        connection_ids: vec![id(&connection)],
        session_ids: vec![session_id],
        scim_directory,
        scim_token,
        scim_ids: vec![id(&scim_user), id(&scim_group)],
    }
}

/// The `sid` claim of an access token (a JWT; the payload is not verified here).
fn session_of(jwt: &str) -> String {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).expect("jwt payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let claims: Value = serde_json::from_slice(&bytes).expect("claims");
    claims["sid"].as_str().expect("sid").to_string()
}

/// A TOML array of strings.
fn toml_list(values: &[String]) -> String {
    let quoted: Vec<String> = values
        .iter()
        .map(|v| serde_json::to_string(v).expect("string"))
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// `schemathesis.toml`: the API key, the seeded ids as dictionaries bound to the parameters
/// that take them (half of the time), and the SCIM operations' own bearer token, directory and
/// ids.
fn config(seeds: &Seeds) -> String {
    let bind = |param: &str, dictionary: &str| {
        format!("{param:?} = {{ dictionary = {dictionary:?}, probability = 0.5 }}\n")
    };
    let mut out = format!(
        "headers = {{ Authorization = \"Bearer {API_KEY}\" }}\n\
         request-timeout = 15.0\n\n"
    );
    let dictionaries: [(&str, Vec<String>); 11] = [
        ("ids", seeds.ids.clone()),
        ("organization_ids", seeds.organization_ids.clone()),
        ("user_ids", seeds.user_ids.clone()),
        ("emails", seeds.emails.clone()),
        ("external_ids", seeds.external_ids.clone()),
        ("tokens", seeds.tokens.clone()),
        ("slugs", seeds.slugs.clone()),
        ("connection_ids", seeds.connection_ids.clone()),
        ("session_ids", seeds.session_ids.clone()),
        ("client_ids", vec![CLIENT_ID.to_string()]),
        ("scim_ids", seeds.scim_ids.clone()),
    ];
    for (name, values) in &dictionaries {
        out += &format!("[dictionaries.{name}]\nvalues = {}\n\n", toml_list(values));
    }
    out += "[parameters]\n";
    for (param, dictionary) in [
        ("path.id", "ids"),
        ("path.external_id", "external_ids"),
        ("path.token", "tokens"),
        ("path.slug", "slugs"),
        ("path.client_id", "client_ids"),
        ("path.connection_id", "connection_ids"),
        ("query.organization_id", "organization_ids"),
        ("query.user_id", "user_ids"),
        ("query.email", "emails"),
        ("query.connection", "connection_ids"),
        ("query.client_id", "client_ids"),
        ("body.organization_id", "organization_ids"),
        ("body.user_id", "user_ids"),
        ("body.email", "emails"),
        ("body.session_id", "session_ids"),
        ("body.client_id", "client_ids"),
    ] {
        out += &bind(param, dictionary);
    }
    out += &format!(
        "\n[[operations]]\ninclude-path-regex = \"^/scim/v2/\"\n\
         headers = {{ Authorization = \"Bearer {}\" }}\n\
         parameters = {{ \"path.id\" = {{ dictionary = \"scim_ids\", probability = 0.5 }}, \
         \"path.directory_id\" = \"{}\" }}\n",
        seeds.scim_token, seeds.scim_directory
    );
    out
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `ERROR` lines of a JSON log (one object per line).
fn error_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| {
            serde_json::from_str::<Value>(line).is_ok_and(|v| v["level"] == "ERROR")
                || line.contains("panicked at")
        })
        .collect()
}

/// How many responses of a JSON request log had each status.
fn statuses(log: &str) -> std::collections::BTreeMap<u64, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for line in log.lines() {
        if let Some(status) = serde_json::from_str::<Value>(line)
            .ok()
            .and_then(|v| v["fields"]["status"].as_u64())
        {
            *counts.entry(status).or_default() += 1;
        }
    }
    counts
}

/// The responses with a 5xx status in a JSON request log.
fn server_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| {
            serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| v["fields"]["status"].as_u64())
                .is_some_and(|s| s >= 500)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error() {
    let python = locks::python("schemathesis");
    let schemathesis = python.with_file_name("schemathesis");
    let app = TestApp::new().await;
    app.allow_pending_jobs();
    let server = Server::start(
        &app,
        API_KEY,
        CLIENT_ID,
        &[
            ("KEYSTEAD_RATE_LIMITS", "off"),
            ("KEYSTEAD_WEBHOOK_WORKER_DISABLED", "true"),
            ("KEYSTEAD_AUDIT_LOG_STREAM_WORKER_DISABLED", "true"),
            ("KEYSTEAD_SSO_OUTBOUND_TIMEOUT", "2"),
            ("KEYSTEAD_LOG", "info,sqlx=warn"),
        ],
    )
    .await;
    let seeds = seed(&server).await;

    let scratch =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("schemathesis-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let config_path = scratch.join("schemathesis.toml");
    std::fs::write(&config_path, config(&seeds)).expect("write config");
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.yaml");
    let examples = env_or("KEYSTEAD_SCHEMATHESIS_EXAMPLES", EXAMPLES).to_string();
    let seed = env_or("KEYSTEAD_SCHEMATHESIS_SEED", SEED).to_string();
    let started = Instant::now();
    let out = run(Command::new(&schemathesis)
        .current_dir(&scratch)
        .env("NO_COLOR", "1")
        .arg("--config-file")
        .arg(&config_path)
        .arg("run")
        .arg(&spec)
        .args(["--url", &server.base_url])
        .args(["--checks", "not_a_server_error"])
        .args(["--mode", "all"])
        .args(["--generation-allow-x00", "true"])
        .args(["--max-examples", &examples])
        .args(["--seed", &seed])
        .args(["--generation-database", "none"])
        .args(["--workers", "2"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(
            EXCLUDED
                .iter()
                .flat_map(|id| ["--exclude-operation-id", id]),
        )
        .arg("--no-color"));
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("schemathesis ran {elapsed:.1?} (seed {seed}, {examples} examples per operation)");
    let log = server.stop();
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(
        out.status.success(),
        "schemathesis failed ({}), seed {seed}:\n{stdout}\n{stderr}",
        out.status
    );
    let total = spec_operation_count() - EXCLUDED.len();
    assert!(
        stdout.contains(&format!("Tested: {total}")),
        "schemathesis did not test all {total} operations of openapi.yaml (less {EXCLUDED:?}):\n\
         {stdout}"
    );
    let fives = server_errors(&log);
    assert!(
        fives.is_empty(),
        "the server answered 5xx during the run:\n{}",
        fives.join("\n")
    );
    let errors = error_lines(&log);
    assert!(
        errors.is_empty(),
        "the server logged errors for client input during the run:\n{}",
        errors.join("\n")
    );
    // Shown with `--nocapture`: phases, warnings (operations that only answered 401 or 404),
    // the counts, and how the server answered.
    eprintln!("{stdout}\nresponses by status: {:?}", statuses(&log));
}

/// The number of operations in `openapi.yaml`.
fn spec_operation_count() -> usize {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.yaml"))
        .expect("read openapi.yaml");
    let spec: Value = yaml_serde::from_str(&text).expect("openapi.yaml");
    spec["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| {
            ["get", "post", "put", "delete", "patch"]
                .iter()
                .filter(|m| item.get(**m).is_some())
                .count()
        })
        .sum()
}
