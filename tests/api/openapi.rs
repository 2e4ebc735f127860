//! `openapi.yaml` and the router agree, both ways, and real responses match its schemas.
//!
//! - Every path and method in the spec is answered by a handler, not by the router's fallback
//!   (404 `Route not found` / 405 `Method not allowed`).
//! - Every `.route("<path>", get(..).post(..))` registration in `src/**/*.rs` is in the spec.
//! - Responses of the organization, domain and event endpoints validate against the spec's
//!   component schemas (JSON Schema 2020-12, which OpenAPI 3.1 schemas are).
//! - Every WorkOS operation in it exists in the vendored official spec
//!   (`spec/workos/openapi.yaml`) under the same operationId and method.
//! - `openapi.yaml` is byte for byte what `scripts/gen-openapi.py` writes from
//!   `spec/workos/openapi.yaml` and `docs/openapi-<area>.yaml` (it is regenerated, never edited
//!   or merged by hand). The script runs with a pinned PyYAML that the test installs into
//!   `target/pyyaml/` from the Python package registry on first use.
//! - `openapi.yaml` is a valid OpenAPI document for a pinned `openapi-spec-validator` (installed
//!   into `target/openapi-spec-validator/` on first use), every operation has a `summary`, and
//!   every `security` requirement names a defined security scheme.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::command::{ok_or_explain, run, target_dir};
use crate::support::python::pinned_venv;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];
const SPEC_URI: &str = "urn:keystead:openapi";

/// `openapi.yaml`, parsed.
static SPEC: LazyLock<Value> = LazyLock::new(|| {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.yaml");
    let text = std::fs::read_to_string(&path).expect("read openapi.yaml");
    yaml_serde::from_str(&text).expect("openapi.yaml is valid YAML")
});

/// (path, method) for every operation in the spec.
fn spec_operations() -> BTreeSet<(String, String)> {
    let paths = SPEC["paths"].as_object().expect("paths");
    let mut ops = BTreeSet::new();
    for (path, item) in paths {
        for method in METHODS {
            if item.get(method).is_some() {
                ops.insert((path.clone(), method.to_string()));
            }
        }
    }
    ops
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text of the call starting at `open` (the index of its `(`), up to the matching `)`.
fn call_args(text: &str, open: usize) -> &str {
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    &text[open + 1..]
}

/// (path, method) for every `.route(..)` registration in `src/`, with the file it is in.
fn registered_routes() -> BTreeMap<(String, String), PathBuf> {
    static ROUTE: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"\.route\(").expect("regex"));
    static PATH: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r#"^\s*"([^"]+)"\s*,"#).expect("regex"));
    static METHOD: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"\b(get|post|put|delete|patch)\s*\(").expect("regex"));
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut routes = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read source");
        assert!(
            !text.contains(".nest(") && !text.contains(".route_service("),
            "{}: nested routers and route services hide their full paths from this check; \
             register full paths with .route(..) (STYLE.md, convention 3)",
            file.display()
        );
        for m in ROUTE.find_iter(&text) {
            let args = call_args(&text, m.end() - 1);
            let Some(path) = PATH.captures(args) else {
                panic!(
                    "{}: a .route(..) whose path is not a string literal: {args}",
                    file.display()
                );
            };
            let rest = &args[path.get(0).expect("match").end()..];
            // A `{*wildcard}` catch-all answering `any(..)` method is an area's fallback (e.g.
            // SCIM's own 404), not an operation.
            if path[1].contains("{*") && rest.trim_start().starts_with("any(") {
                continue;
            }
            let methods: Vec<&str> = METHOD
                .captures_iter(rest)
                .map(|c| c.get(1).expect("group").as_str())
                .collect();
            assert!(
                !methods.is_empty(),
                "{}: no get/post/put/delete/patch found for .route({:?}, ..)",
                file.display(),
                &path[1]
            );
            for method in methods {
                routes.insert((path[1].to_string(), method.to_string()), file.clone());
            }
        }
    }
    routes
}

/// The spec path with every `{param}` replaced by a placeholder value (`{client_id}` by the
/// test environment's real client id).
fn concrete(path: &str, client_id: &str) -> String {
    static PARAM: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"\{([^}]+)\}").expect("regex"));
    PARAM
        .replace_all(path, |c: &regex::Captures<'_>| match &c[1] {
            "client_id" => client_id.to_string(),
            other => format!("placeholder_{other}"),
        })
        .into_owned()
}

#[test]
fn the_source_scanner_finds_the_routes_it_should() {
    let routes = registered_routes();
    assert!(routes.contains_key(&("/organizations/{id}".into(), "put".into())));
    assert!(routes.contains_key(&("/organizations/{id}".into(), "delete".into())));
    assert!(routes.contains_key(&("/health".into(), "get".into())));
    assert_eq!(
        concrete("/organizations/{id}/x/{client_id}", "client_1"),
        "/organizations/placeholder_id/x/client_1"
    );
}

#[test]
fn every_registered_route_is_in_openapi_yaml() {
    let spec = spec_operations();
    let missing: Vec<String> = registered_routes()
        .into_iter()
        .filter(|(op, _)| !spec.contains(op))
        .map(|((path, method), file)| {
            format!("{} {path} ({})", method.to_uppercase(), file.display())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "routes served but not described in openapi.yaml (add them to scripts/gen-openapi.py and \
         regenerate):\n  {}",
        missing.join("\n  ")
    );
}

#[tokio::test]
async fn every_openapi_operation_reaches_a_handler() {
    let app = TestApp::new().await;
    let route_not_found = json!({"message": "Route not found: 'unknown'."});
    let method_not_allowed = json!({"message": "Method not allowed for this route."});
    let mut unrouted = Vec::new();
    for (path, method) in spec_operations() {
        let uri = concrete(&path, &app.tenant.client_id);
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let body = matches!(method.as_str(), "post" | "put" | "patch").then(|| json!({}));
        let res = app
            .send(m, &uri, Some(&app.tenant.api_key), body.as_ref())
            .await;
        let fallback = (res.status == StatusCode::NOT_FOUND && res.body == route_not_found)
            || (res.status == StatusCode::METHOD_NOT_ALLOWED && res.body == method_not_allowed);
        if fallback {
            unrouted.push(format!(
                "{} {path} -> {} {}",
                method.to_uppercase(),
                res.status.as_u16(),
                res.text
            ));
        }
    }
    assert!(
        unrouted.is_empty(),
        "operations in openapi.yaml that no handler serves:\n  {}",
        unrouted.join("\n  ")
    );
}

#[test]
fn operations_keep_the_official_ids_and_extensions_are_marked() {
    let paths = SPEC["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            let extension = op.get("x-keystead-extension") == Some(&Value::Bool(true));
            assert_eq!(
                extension,
                id.starts_with("Keystead"),
                "{method} {path}: Keystead's own operations (and only they) are marked \
                 x-keystead-extension"
            );
        }
    }
    for public in ["/health", "/sso/jwks/{client_id}"] {
        assert_eq!(
            SPEC["paths"][public]["get"]["security"],
            json!([]),
            "{public} is public"
        );
    }
}

#[test]
fn official_operations_are_in_the_vendored_workos_spec() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/workos/openapi.yaml");
    let text = std::fs::read_to_string(&path).expect("read spec/workos/openapi.yaml");
    let official: Value = yaml_serde::from_str(&text).expect("the WorkOS spec is valid YAML");
    let mut official_ids = BTreeMap::new();
    for (path, item) in official["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(id) = item.get(method).and_then(|op| op["operationId"].as_str()) {
                official_ids.insert(id.to_string(), (path.clone(), method));
            }
        }
    }
    let mut unknown = Vec::new();
    for (path, item) in SPEC["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            if op.get("x-keystead-extension") == Some(&Value::Bool(true)) {
                continue;
            }
            let id = op["operationId"].as_str().unwrap_or_default();
            match official_ids.get(id) {
                Some((_, m)) if *m == method => {}
                Some((p, m)) => unknown.push(format!(
                    "{method} {path}: {id} is {} {p} in the WorkOS spec",
                    m.to_uppercase()
                )),
                None => unknown.push(format!("{method} {path}: {id} is not in the WorkOS spec")),
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "operations of openapi.yaml that are neither marked x-keystead-extension nor in \
         spec/workos/openapi.yaml:\n  {}",
        unknown.join("\n  ")
    );
}

/// PyYAML version `scripts/gen-openapi.py` runs with in the regeneration check.
pub const PYYAML: &str = "6.0.3";

/// What the regeneration and validity checks need when a step fails.
const NEEDS: &str = "The regeneration and validity checks need python3 with venv and pip (Debian: \
                     python3-venv python3-pip) and the Python package registry once.";

#[test]
fn openapi_yaml_is_what_gen_openapi_writes() {
    if crate::support::skip(
        "KEYSTEAD_SKIP_SDK_TESTS",
        "the openapi.yaml regeneration check (it installs PyYAML from the Python package registry)",
    ) {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = pinned_venv(&target_dir("pyyaml"), &format!("pyyaml=={PYYAML}"), NEEDS);
    let out_dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("gen-openapi-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).expect("create scratch dir");
    let generated = out_dir.join("openapi.yaml");
    ok_or_explain(
        &run(Command::new(&python)
            .current_dir(root)
            .arg("scripts/gen-openapi.py")
            .arg("spec/workos/openapi.yaml")
            .arg(&generated)),
        "scripts/gen-openapi.py",
        NEEDS,
    );
    let want = std::fs::read_to_string(&generated).expect("read the generated openapi.yaml");
    let _ = std::fs::remove_dir_all(&out_dir);
    let have = std::fs::read_to_string(root.join("openapi.yaml")).expect("read openapi.yaml");
    if want != have {
        let line = want
            .lines()
            .zip(have.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| want.lines().count().min(have.lines().count()));
        panic!(
            "openapi.yaml differs from what scripts/gen-openapi.py writes (first difference at \
             line {}: generated {:?}, committed {:?}). Do not edit or merge openapi.yaml by \
             hand: change docs/openapi-<area>.yaml or the script, then run \
             `python3 scripts/gen-openapi.py`.",
            line + 1,
            want.lines().nth(line).unwrap_or("<end of file>"),
            have.lines().nth(line).unwrap_or("<end of file>"),
        );
    }
}

/// openapi-spec-validator version the validity check runs.
const OPENAPI_SPEC_VALIDATOR: &str = "0.9.0";

#[test]
fn openapi_yaml_passes_openapi_spec_validator() {
    if crate::support::skip(
        "KEYSTEAD_SKIP_SDK_TESTS",
        "the openapi.yaml validity check (it installs openapi-spec-validator from the Python \
         package registry)",
    ) {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = pinned_venv(
        &target_dir("openapi-spec-validator"),
        &format!("openapi-spec-validator=={OPENAPI_SPEC_VALIDATOR}"),
        NEEDS,
    );
    let out = run(Command::new(&python)
        .current_dir(root)
        .args(["-m", "openapi_spec_validator", "--validation-errors", "all"])
        .arg("openapi.yaml"));
    assert!(
        out.status.success(),
        "openapi.yaml is not a valid OpenAPI document (openapi-spec-validator \
         {OPENAPI_SPEC_VALIDATOR}, {}); fix docs/openapi-<area>.yaml or scripts/gen-openapi.py \
         and regenerate:\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_operation_has_a_summary() {
    let mut missing = Vec::new();
    for (path, item) in SPEC["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            if op["summary"].as_str().is_none_or(|s| s.trim().is_empty()) {
                missing.push(format!(
                    "{} {path} ({})",
                    method.to_uppercase(),
                    op["operationId"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "operations of openapi.yaml without a summary (add one in docs/openapi-<area>.yaml, \
         the official one where WorkOS has it):\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn security_requirements_name_defined_schemes() {
    // openapi-spec-validator does not check this; clients and linters do.
    let schemes = SPEC["components"]["securitySchemes"]
        .as_object()
        .expect("components.securitySchemes");
    let mut requirements = vec![("top level".to_string(), &SPEC["security"])];
    for (path, item) in SPEC["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(security) = item.get(method).and_then(|op| op.get("security")) {
                requirements.push((format!("{} {path}", method.to_uppercase()), security));
            }
        }
    }
    let mut undefined = Vec::new();
    for (at, security) in requirements {
        for requirement in security.as_array().expect("security is a list") {
            for name in requirement
                .as_object()
                .expect("a security requirement")
                .keys()
            {
                if !schemes.contains_key(name) {
                    undefined.push(format!("{at}: {name}"));
                }
            }
        }
    }
    assert!(
        undefined.is_empty(),
        "security requirements naming no scheme of components.securitySchemes (define it in a \
         fragment's components.securitySchemes):\n  {}",
        undefined.join("\n  ")
    );
}

/// Validates `instance` against the schema at `pointer` (a JSON pointer into openapi.yaml).
pub(crate) fn assert_matches_schema(pointer: &str, instance: &Value) {
    let registry = jsonschema::Registry::new()
        .add(SPEC_URI, SPEC.clone())
        .expect("register openapi.yaml")
        .prepare()
        .expect("prepare registry");
    let schema = json!({ "$ref": format!("{SPEC_URI}#{pointer}") });
    let validator = jsonschema::draft202012::options()
        .with_registry(&registry)
        .build(&schema)
        .unwrap_or_else(|e| panic!("schema {pointer}: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "response does not match {pointer}:\n  {}\nresponse: {instance:#}",
        errors.join("\n  ")
    );
}

pub(crate) fn component(name: &str) -> String {
    format!("/components/schemas/{name}")
}

#[tokio::test]
async fn responses_match_the_component_schemas() {
    let app = TestApp::new().await;

    let created = app
        .post(
            "/organizations",
            &json!({
                "name": "Schema Corp",
                "external_id": "schema-1",
                "metadata": {"tier": "gold"},
                "domain_data": [
                    {"domain": "schema-corp.com", "state": "pending"},
                    {"domain": "schema.io", "state": "verified"}
                ]
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_matches_schema(&component("Organization"), &created.body);
    let id = created.body["id"].as_str().expect("id");

    let plain = app.post("/organizations", &json!({"name": "Plain"})).await;
    assert_matches_schema(&component("Organization"), &plain.body);

    let got = app.get(&format!("/organizations/{id}")).await;
    assert_matches_schema(&component("Organization"), &got.body);

    let updated = app
        .put(
            &format!("/organizations/{id}"),
            &json!({"name": "Schema Corp 2", "external_id": null}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_matches_schema(&component("Organization"), &updated.body);

    let list = app.get("/organizations?limit=1").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_matches_schema(&component("OrganizationList"), &list.body);

    let domain = app
        .post(
            "/organization_domains",
            &json!({"domain": "other-schema.com", "organization_id": id}),
        )
        .await;
    assert_eq!(domain.status, StatusCode::CREATED, "{}", domain.text);
    assert_matches_schema(
        "/paths/~1organization_domains/post/responses/201/content/application~1json/schema",
        &domain.body,
    );
    assert_matches_schema(&component("OrganizationDomainStandAlone"), &domain.body);
    let domain_id = domain.body["id"].as_str().expect("domain id");
    let got_domain = app.get(&format!("/organization_domains/{domain_id}")).await;
    assert_matches_schema(&component("OrganizationDomainStandAlone"), &got_domain.body);

    assert_eq!(
        app.delete(&format!(
            "/organizations/{}",
            plain.body["id"].as_str().expect("id")
        ))
        .await
        .status,
        StatusCode::ACCEPTED
    );

    let events = app.get("/events?limit=100").await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.text);
    let names: BTreeSet<&str> = events.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    for name in [
        "organization.created",
        "organization.updated",
        "organization.deleted",
        "organization_domain.created",
    ] {
        assert!(names.contains(name), "{name} not in {names:?}");
    }
    assert_matches_schema(&component("EventList"), &events.body);

    let health = app.send(Method::GET, "/health", None, None).await;
    assert_matches_schema(
        "/paths/~1health/get/responses/200/content/application~1json/schema",
        &health.body,
    );
}

#[test]
fn the_schema_check_rejects_a_wrong_shape() {
    let result = std::panic::catch_unwind(|| {
        assert_matches_schema(
            &component("Organization"),
            &json!({"object": "organization", "id": "org_1"}),
        );
    });
    assert!(
        result.is_err(),
        "an incomplete organization must not validate"
    );
}

#[tokio::test]
async fn json_responses_say_so_over_a_real_socket() {
    // The Node SDK parses a success body only when Content-Type contains application/json.
    let app = TestApp::new().await;
    let base = app.serve().await;
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{base}/organizations"))
        .bearer_auth(&app.tenant.api_key)
        .json(&json!({"name": "Socket Corp"}))
        .send()
        .await
        .expect("POST /organizations");
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    for res in [
        created,
        http.get(format!("{base}/health"))
            .send()
            .await
            .expect("GET /health"),
        http.get(format!("{base}/nope"))
            .send()
            .await
            .expect("GET /nope"),
    ] {
        let content_type = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            content_type.starts_with("application/json"),
            "{} answered Content-Type {content_type:?}",
            res.url()
        );
    }
}
