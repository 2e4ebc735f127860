#!/usr/bin/env python3
"""Writes the Postman collection and environment of Keystead's API from openapi.yaml.

    python3 scripts/gen-postman.py [openapi.yaml] [output directory]

Defaults: `openapi.yaml` and `postman/`. Writes `keystead.postman_collection.json` (Postman
collection format v2.1, which Apidog imports too) and `keystead.postman_environment.json`
(`baseUrl`, `apiKey`, `clientId`). Never edit those files by hand: change PLAN below and run the
script again (`tests/api/postman.rs` fails while the committed files differ from its output).

The requests follow PLAN: one folder per OpenAPI tag, in the order the plan first uses a tag,
and a last folder that deletes the organization and user the others used; inside a folder,
creates come before reads, updates and deletes of what they created. Each
request's test checks the expected status and stores the ids it needs later in collection
variables (`pm.collectionVariables.set('organization_id', ...)`), which later requests use as
`{{organization_id}}`. The first request sets `{{run}}`, a fresh suffix that keeps names,
emails and external ids unique, so the collection can run again against the same server.

Each request body is built from the operation's request schema: every field a step lists must
be a property of that schema, every required property must be listed, and a field given as
EXAMPLE takes the schema's own example. Each (method, path) must be an operation of
openapi.yaml. The script fails otherwise, so the collection cannot drift from the API.
"""

import json
import os
import sys

import yaml

COLLECTION_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
METHODS = ("get", "post", "put", "patch", "delete")

# A field value that takes the example the schema gives for that property.
EXAMPLE = object()

# Test-script snippets.
JSON = "const body = pm.response.json();"


def capture(var, expr="body.id"):
    """A line storing `expr` (JavaScript over `body`) into the collection variable `var`."""
    return f"pm.collectionVariables.set('{var}', {expr});"


def step(method, path, expect, name, **kw):
    """One request of the collection.

    method, path: the OpenAPI operation (`{param}` in the path is filled from `params`).
    expect: the status the request must answer.
    name: the request's name in the collection.
    kw: params (path parameter -> value), query (list of (key, value)), body (field -> value or
    EXAMPLE), checks (JavaScript assertions over `body`), captures (lines from `capture`),
    auth (False for public routes), redirects (False to see a 3xx instead of following it),
    prerequest (JavaScript lines run before the request), folder (instead of the operation's
    first tag).
    """
    return dict(method=method, path=path, expect=expect, name=name, **kw)


CLEAN_UP = "clean up"
ORG = {"organization_id": "{{organization_id}}"}
USER_ID = {"id": "{{user_id}}"}
EMAIL = "marcelina.{{run}}@example.com"
PASSWORD = "{{user_password}}"

# The requests, in order. Keep creates before the requests that use what they created.
PLAN = [
    # --- Keystead's own routes: health, and a fresh {{run}} suffix for this run.
    step(
        "get", "/health", 200, "Health",
        auth=False,
        prerequest=[
            "// A fresh suffix for names, emails and external ids created by this run.",
            "pm.collectionVariables.set('run', Date.now().toString(36) + "
            "Math.floor(Math.random() * 1e6).toString(36));",
            "pm.collectionVariables.set('user_password', 'Postman-' + "
            "pm.collectionVariables.get('run') + '-pw!');",
        ],
        checks=["pm.expect(body.status).to.eql('ok');"],
    ),
    step("get", "/ready", 200, "Ready", auth=False),
    step("get", "/environment", 200, "Get the environment's settings",
         checks=["pm.expect(body.client_id).to.eql(pm.environment.get('clientId'));"]),
    # --- Organizations
    step(
        "post", "/organizations", 201, "Create an organization",
        body={
            "name": "Foo Corp {{run}}",
            "external_id": "ext_{{run}}",
            "metadata": EXAMPLE,
            "allow_profiles_outside_organization": EXAMPLE,
        },
        checks=["pm.expect(body.object).to.eql('organization');"],
        captures=[capture("organization_id")],
    ),
    step("get", "/organizations/{id}", 200, "Get the organization",
         params={"id": "{{organization_id}}"},
         checks=["pm.expect(body.id).to.eql(pm.collectionVariables.get('organization_id'));"]),
    step("get", "/organizations/external_id/{external_id}", 200,
         "Get the organization by external id",
         params={"external_id": "ext_{{run}}"},
         checks=["pm.expect(body.id).to.eql(pm.collectionVariables.get('organization_id'));"]),
    step("get", "/organizations", 200, "List organizations",
         query=[("limit", "10"), ("order", "desc")],
         checks=["pm.expect(body.object).to.eql('list');",
                 "pm.expect(body.data).to.be.an('array');"]),
    step("put", "/organizations/{id}", 200, "Update the organization",
         params={"id": "{{organization_id}}"},
         body={"name": "Foo Corp {{run}} (renamed)"},
         checks=["pm.expect(body.name).to.eql('Foo Corp ' + pm.collectionVariables.get('run') "
                 "+ ' (renamed)');"]),
    step("post", "/organizations", 201, "Create an organization to delete",
         body={"name": "Short-lived {{run}}"},
         captures=[capture("deleted_organization_id")]),
    step("delete", "/organizations/{id}", 202, "Delete that organization",
         params={"id": "{{deleted_organization_id}}"}),
    step("get", "/organizations/{id}", 404, "A deleted organization is not found",
         params={"id": "{{deleted_organization_id}}"},
         checks=["pm.expect(body.message).to.be.a('string');"]),
    # --- Organization domains
    step("post", "/organization_domains", 201, "Add a domain to the organization",
         body={"domain": "foo-corp-{{run}}.example.com", **ORG},
         checks=["pm.expect(body.object).to.eql('organization_domain');"],
         captures=[capture("organization_domain_id")]),
    step("get", "/organization_domains/{id}", 200, "Get the domain",
         params={"id": "{{organization_domain_id}}"}),
    step("delete", "/organization_domains/{id}", 204, "Delete the domain",
         params={"id": "{{organization_domain_id}}"}),
    # --- Users
    step(
        "post", "/user_management/users", 201, "Create a user",
        body={
            "email": EMAIL,
            "password": PASSWORD,
            "first_name": EXAMPLE,
            "last_name": EXAMPLE,
            "email_verified": True,
            "external_id": "user_ext_{{run}}",
            "metadata": EXAMPLE,
        },
        checks=["pm.expect(body.object).to.eql('user');"],
        captures=[capture("user_id"), capture("user_email", "body.email")],
    ),
    step("get", "/user_management/users/{id}", 200, "Get the user", params=USER_ID),
    step("get", "/user_management/users/external_id/{external_id}", 200,
         "Get the user by external id", params={"external_id": "user_ext_{{run}}"},
         checks=["pm.expect(body.id).to.eql(pm.collectionVariables.get('user_id'));"]),
    step("get", "/user_management/users", 200, "List users by email",
         query=[("email", "{{user_email}}")],
         checks=["pm.expect(body.data.length).to.eql(1);"]),
    step("put", "/user_management/users/{id}", 200, "Update the user",
         params=USER_ID, body={"first_name": "Marcy"},
         checks=["pm.expect(body.first_name).to.eql('Marcy');"]),
    step("get", "/user_management/users/{id}/identities", 200, "List the user's identities",
         params=USER_ID),
    step("post", "/user_management/users", 201, "Create a user to delete",
         body={"email": "short-lived.{{run}}@example.com"},
         captures=[capture("deleted_user_id")]),
    step("delete", "/user_management/users/{id}", 200, "Delete that user",
         params={"id": "{{deleted_user_id}}"}),
    step("get", "/user_management/users/{id}", 404, "A deleted user is not found",
         params={"id": "{{deleted_user_id}}"}),
    step("post", "/user_management/password_reset", 201, "Create a password reset token",
         body={"email": "{{user_email}}"},
         checks=["pm.expect(body.object).to.eql('password_reset');"],
         captures=[capture("password_reset_id")]),
    step("get", "/user_management/password_reset/{id}", 200, "Get the password reset",
         params={"id": "{{password_reset_id}}"}),
    # --- Authentication and sessions
    step(
        "post", "/user_management/authenticate", 200, "Sign in with the password",
        body={
            "client_id": "{{clientId}}",
            "client_secret": "{{apiKey}}",
            "grant_type": "password",
            "email": "{{user_email}}",
            "password": PASSWORD,
        },
        checks=["pm.expect(body.user.id).to.eql(pm.collectionVariables.get('user_id'));"],
        captures=[
            capture("refresh_token", "body.refresh_token"),
            "// The session id is the access token's `sid` claim.",
            "const claims = JSON.parse(atob(body.access_token.split('.')[1]"
            ".replace(/-/g, '+').replace(/_/g, '/')));",
            capture("session_id", "claims.sid"),
        ],
    ),
    step(
        "post", "/user_management/authenticate", 200, "Refresh the session",
        body={
            "client_id": "{{clientId}}",
            "client_secret": "{{apiKey}}",
            "grant_type": "refresh_token",
            "refresh_token": "{{refresh_token}}",
        },
        checks=["pm.expect(body.access_token).to.be.a('string');"],
    ),
    step("get", "/user_management/users/{id}/sessions", 200, "List the user's sessions",
         params=USER_ID, folder="user-management.authentication",
         checks=["pm.expect(body.data.map(s => s.id))"
                 ".to.include(pm.collectionVariables.get('session_id'));"]),
    step("post", "/user_management/sessions/revoke", 200, "Revoke the session",
         body={"session_id": "{{session_id}}"}),
    step("get", "/sso/jwks/{client_id}", 200, "Get the JWKS", auth=False,
         params={"client_id": "{{clientId}}"},
         checks=["pm.expect(body.keys).to.be.an('array').that.is.not.empty;"]),
    # --- Roles
    step("get", "/authorization/roles", 200, "List roles",
         checks=["pm.expect(body.data).to.be.an('array');"]),
    step("post", "/authorization/roles", 201, "Create a role",
         body={"slug": "editor-{{run}}", "name": "Editor {{run}}", "description": EXAMPLE},
         captures=[capture("role_slug", "body.slug")]),
    step("get", "/authorization/roles/{slug}", 200, "Get the role",
         params={"slug": "{{role_slug}}"}),
    # --- Organization memberships
    step("post", "/user_management/organization_memberships", 201,
         "Add the user to the organization",
         body={"user_id": "{{user_id}}", **ORG},
         checks=["pm.expect(body.object).to.eql('organization_membership');"],
         captures=[capture("organization_membership_id")]),
    step("get", "/user_management/organization_memberships/{id}", 200, "Get the membership",
         params={"id": "{{organization_membership_id}}"}),
    step("get", "/user_management/organization_memberships", 200,
         "List the organization's memberships", query=[("organization_id",
                                                        "{{organization_id}}")],
         checks=["pm.expect(body.data.length).to.eql(1);"]),
    step("put", "/user_management/organization_memberships/{id}/deactivate", 200,
         "Deactivate the membership", params={"id": "{{organization_membership_id}}"},
         checks=["pm.expect(body.status).to.eql('inactive');"]),
    step("put", "/user_management/organization_memberships/{id}/reactivate", 200,
         "Reactivate the membership", params={"id": "{{organization_membership_id}}"},
         checks=["pm.expect(body.status).to.eql('active');"]),
    step("put", "/user_management/organization_memberships/{id}", 200,
         "Give the membership the new role", params={"id": "{{organization_membership_id}}"},
         body={"role_slug": "{{role_slug}}"},
         checks=["pm.expect(body.role.slug).to.eql(pm.collectionVariables.get('role_slug'));"]),
    step("delete", "/user_management/organization_memberships/{id}", 200,
         "Remove the membership", params={"id": "{{organization_membership_id}}"}),
    # --- Invitations
    step("post", "/user_management/invitations", 201, "Invite someone to the organization",
         body={"email": "invitee.{{run}}@example.com", **ORG, "expires_in_days": EXAMPLE},
         checks=["pm.expect(body.state).to.eql('pending');"],
         captures=[capture("invitation_id"), capture("invitation_token", "body.token")]),
    step("get", "/user_management/invitations/{id}", 200, "Get the invitation",
         params={"id": "{{invitation_id}}"}),
    step("get", "/user_management/invitations/by_token/{token}", 200,
         "Find the invitation by token", params={"token": "{{invitation_token}}"}),
    step("get", "/user_management/invitations", 200, "List the organization's invitations",
         query=[("organization_id", "{{organization_id}}")]),
    step("post", "/user_management/invitations/{id}/resend", 200, "Resend the invitation",
         params={"id": "{{invitation_id}}"}),
    step("post", "/user_management/invitations/{id}/revoke", 200, "Revoke the invitation",
         params={"id": "{{invitation_id}}"},
         checks=["pm.expect(body.state).to.eql('revoked');"]),
    # --- Magic Auth
    step("post", "/user_management/magic_auth", 201, "Send a Magic Auth code",
         body={"email": "{{user_email}}"},
         checks=["pm.expect(body.object).to.eql('magic_auth');"],
         captures=[capture("magic_auth_id")]),
    step("get", "/user_management/magic_auth/{id}", 200, "Get the Magic Auth code",
         params={"id": "{{magic_auth_id}}"}),
    # --- Multi-factor authentication
    step("post", "/auth/factors/enroll", 201, "Enroll a TOTP factor",
         body={"type": "totp", "totp_issuer": "Foo Corp", "totp_user": "{{user_email}}"},
         checks=["pm.expect(body.type).to.eql('totp');"],
         captures=[capture("authentication_factor_id")]),
    step("get", "/auth/factors/{id}", 200, "Get the factor",
         params={"id": "{{authentication_factor_id}}"}),
    step("post", "/auth/factors/{id}/challenge", 201, "Challenge the factor",
         params={"id": "{{authentication_factor_id}}"}, body={},
         captures=[capture("authentication_challenge_id")]),
    step("post", "/auth/challenges/{id}/verify", 201, "Verify the challenge with a wrong code",
         params={"id": "{{authentication_challenge_id}}"}, body={"code": "000000"},
         folder="multi-factor-auth",
         checks=["pm.expect(body.valid).to.eql(false);"]),
    step("delete", "/auth/factors/{id}", 200, "Delete the factor",
         params={"id": "{{authentication_factor_id}}"}),
    step("post", "/user_management/users/{id}/auth_factors", 201,
         "Enroll a TOTP factor for the user", params=USER_ID,
         body={"type": "totp", "totp_issuer": "Foo Corp"}),
    step("get", "/user_management/users/{id}/auth_factors", 200, "List the user's factors",
         params=USER_ID, checks=["pm.expect(body.data.length).to.eql(1);"]),
    # --- SSO connections and directories
    step("post", "/connections", 201, "Create a Google OAuth connection",
         body={"name": "Google {{run}}", "connection_type": "GoogleOAuth",
               "oauth": {"client_id": "google-client-{{run}}",
                         "client_secret": "google-secret-{{run}}"}},
         checks=["pm.expect(body.connection_type).to.eql('GoogleOAuth');"],
         captures=[capture("connection_id")]),
    step("get", "/connections/{id}", 200, "Get the connection",
         params={"id": "{{connection_id}}"}),
    step("get", "/connections", 200, "List connections",
         query=[("connection_type", "GoogleOAuth"), ("limit", "100")],
         checks=["pm.expect(body.data.map(c => c.id))"
                 ".to.include(pm.collectionVariables.get('connection_id'));"]),
    step("delete", "/connections/{id}", 204, "Delete the connection",
         params={"id": "{{connection_id}}"}),
    step("post", "/directories", 201, "Create a SCIM directory for the organization",
         body={"name": "Foo Corp directory {{run}}", **ORG},
         checks=["pm.expect(body.scim.bearer_token).to.be.a('string');"],
         captures=[capture("directory_id")]),
    step("get", "/directories/{id}", 200, "Get the directory",
         params={"id": "{{directory_id}}"}),
    step("get", "/directories", 200, "List the organization's directories",
         query=[("organization_id", "{{organization_id}}")],
         checks=["pm.expect(body.data.length).to.eql(1);"]),
    step("get", "/directory_users", 200, "List the directory's users",
         query=[("directory", "{{directory_id}}")], folder="directories"),
    step("get", "/directory_groups", 200, "List the directory's groups",
         query=[("directory", "{{directory_id}}")], folder="directories"),
    step("delete", "/directories/{id}", 202, "Delete the directory",
         params={"id": "{{directory_id}}"}),
    # --- Events
    step("get", "/events", 200, "List organization events",
         query=[("events", "organization.created"), ("organization_id",
                                                      "{{organization_id}}")],
         checks=["pm.expect(body.data.map(e => e.event)).to.include('organization.created');"]),
    # --- Webhook endpoints
    step("post", "/webhook_endpoints", 201, "Create a webhook endpoint",
         body={"endpoint_url": "https://example.com/webhooks/{{run}}",
               "events": ["user.created", "organization.updated"]},
         checks=["pm.expect(body.secret).to.be.a('string');"],
         captures=[capture("webhook_endpoint_id")]),
    step("get", "/webhook_endpoints", 200, "List webhook endpoints"),
    step("patch", "/webhook_endpoints/{id}", 200, "Disable the webhook endpoint",
         params={"id": "{{webhook_endpoint_id}}"}, body={"status": "disabled"},
         checks=["pm.expect(body.status).to.eql('disabled');"]),
    step("get", "/webhook_endpoints/{id}/deliveries", 200, "List the endpoint's deliveries",
         params={"id": "{{webhook_endpoint_id}}"}),
    step("delete", "/webhook_endpoints/{id}", 204, "Delete the webhook endpoint",
         params={"id": "{{webhook_endpoint_id}}"}),
    # --- Redirect URIs and CORS origins
    step("post", "/user_management/redirect_uris", 201, "Add a redirect URI",
         body={"uri": "https://app-{{run}}.example.com/callback"},
         captures=[capture("redirect_uri_id")]),
    step("get", "/user_management/redirect_uris", 200, "List redirect URIs"),
    step("delete", "/user_management/redirect_uris/{id}", 204, "Delete the redirect URI",
         params={"id": "{{redirect_uri_id}}"}),
    step("post", "/user_management/cors_origins", 201, "Allow a CORS origin",
         body={"origin": "https://app-{{run}}.example.com"},
         captures=[capture("cors_origin_id")]),
    step("get", "/user_management/cors_origins", 200, "List CORS origins"),
    step("delete", "/user_management/cors_origins/{id}", 204, "Delete the CORS origin",
         params={"id": "{{cors_origin_id}}"}),
    # (No JWT template requests: setting one would change the tokens of the environment the
    # collection runs against, and reading one answers 404 until one is set.)
    # --- Clean up what the run created and still holds (a folder of its own, last).
    step("delete", "/user_management/users/{id}", 200, "Delete the user", params=USER_ID,
         folder=CLEAN_UP),
    step("delete", "/organizations/{id}", 202, "Delete the organization",
         params={"id": "{{organization_id}}"}, folder=CLEAN_UP),
]


def resolve(spec, schema):
    """Follows `$ref`s."""
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def variants(spec, schema):
    """The (properties, required) pairs a body may take: `allOf` parts combined, `oneOf` and
    `anyOf` alternatives listed."""
    schema = resolve(spec, schema)
    own = (schema.get("properties", {}), set(schema.get("required", [])))
    out = [own]
    for part in schema.get("allOf", []):
        out = [
            ({**p, **q}, r | s) for p, r in out for q, s in variants(spec, part)
        ]
    alternatives = schema.get("oneOf", []) or schema.get("anyOf", [])
    if alternatives:
        out = [
            ({**p, **q}, r | s)
            for p, r in out
            for alt in alternatives
            for q, s in variants(spec, alt)
        ]
    return out


def example_of(spec, prop, where):
    prop = resolve(spec, prop)
    for key in ("example", "default"):
        if key in prop:
            return prop[key]
    if prop.get("examples"):
        return prop["examples"][0]
    sys.exit(f"gen-postman: {where} has no example in openapi.yaml")


def body_for(spec, op, fields, where):
    """The JSON body of a step: its fields, checked against the operation's request schema."""
    content = (op.get("requestBody") or {}).get("content", {})
    if "application/json" not in content:
        sys.exit(f"gen-postman: {where} takes no JSON body")
    for props, required in variants(spec, content["application/json"]["schema"]):
        if set(fields) <= set(props) and required <= set(fields):
            break
    else:
        sys.exit(f"gen-postman: the body of {where} ({sorted(fields)}) fits no variant of its "
                 "request schema (unknown field or missing required one)")
    return {
        k: example_of(spec, props[k], f"{where} field {k}") if v is EXAMPLE else v
        for k, v in fields.items()
    }


def script(lines):
    return {"type": "text/javascript", "exec": lines}


def item_for(spec, s):
    method, path = s["method"], s["path"]
    where = f"{method.upper()} {path}"
    op = spec["paths"].get(path, {}).get(method)
    if op is None:
        sys.exit(f"gen-postman: {where} is not an operation of openapi.yaml")
    params = s.get("params", {})
    segments = []
    for seg in path.strip("/").split("/"):
        if seg.startswith("{") and seg.endswith("}"):
            if seg[1:-1] not in params:
                sys.exit(f"gen-postman: {where} needs a value for {seg}")
            seg = params[seg[1:-1]]
        segments.append(seg)
    query = s.get("query", [])
    known = {p.get("name") for p in op.get("parameters", []) if p.get("in") == "query"}
    for key, _ in query:
        if key not in known:
            sys.exit(f"gen-postman: {where} has no query parameter {key}")
    raw = "{{baseUrl}}/" + "/".join(segments)
    if query:
        raw += "?" + "&".join(f"{k}={v}" for k, v in query)
    url = {"raw": raw, "host": ["{{baseUrl}}"], "path": segments}
    if query:
        url["query"] = [{"key": k, "value": v} for k, v in query]
    request = {"method": method.upper(), "header": [], "url": url}
    summary = op.get("summary", "").strip()
    request["description"] = f"{summary}\n\n`{where}` (operationId `{op['operationId']}`)."
    if "body" in s:
        body = body_for(spec, op, s["body"], where)
        request["header"].append({"key": "Content-Type", "value": "application/json"})
        request["body"] = {
            "mode": "raw",
            "raw": json.dumps(body, indent=2),
            "options": {"raw": {"language": "json"}},
        }
    if s.get("auth", True) is False:
        request["auth"] = {"type": "noauth"}
    expect = s["expect"]
    if str(expect) not in {str(c) for c in op.get("responses", {})}:
        sys.exit(f"gen-postman: openapi.yaml gives {where} no {expect} response")
    tests = [
        f"pm.test('{where} answers {expect}', function () {{",
        f"    pm.response.to.have.status({expect});",
        "});",
    ]
    checks = s.get("checks", [])
    captures = s.get("captures", [])
    if checks or captures:
        tests.append(f"if (pm.response.code === {expect}) {{")
        tests.append(f"    {JSON}")
        if checks:
            tests.append("    pm.test('the body is as expected', function () {")
            tests += [f"        {c}" for c in checks]
            tests.append("    });")
        tests += [f"    {c}" for c in captures]
        tests.append("}")
    events = [{"listen": "test", "script": script(tests)}]
    if s.get("prerequest"):
        events.insert(0, {"listen": "prerequest", "script": script(s["prerequest"])})
    item = {"name": s["name"], "event": events, "request": request}
    if s.get("redirects") is False:
        item["protocolProfileBehavior"] = {"followRedirects": False}
    return item, s.get("folder") or op.get("tags", ["keystead"])[0]


def collection(spec):
    tags = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    folders = {}
    variables = ["run", "user_password"]
    for s in PLAN:
        item, tag = item_for(spec, s)
        folders.setdefault(tag, []).append(item)
        for line in s.get("captures", []):
            if line.startswith("pm.collectionVariables.set('"):
                name = line.split("'")[1]
                if name not in variables:
                    variables.append(name)
    return {
        "info": {
            "_postman_id": "6f1d0c3e-5b7a-4c0e-9a51-6b657973746561",
            "name": "Keystead",
            "description": (
                "Keystead's WorkOS-compatible REST API, generated from openapi.yaml by "
                "scripts/gen-postman.py (do not edit by hand).\n\n"
                "Set `baseUrl`, `apiKey` and `clientId` in the environment "
                "(keystead.postman_environment.json) and run the folders in order: "
                "each request checks its status and stores the ids later requests use in "
                "collection variables."
            ),
            "schema": COLLECTION_SCHEMA,
        },
        "item": [
            {"name": tag, "description": tags.get(tag, ""), "item": items}
            for tag, items in folders.items()
        ],
        "auth": {
            "type": "bearer",
            "bearer": [{"key": "token", "value": "{{apiKey}}", "type": "string"}],
        },
        "variable": [{"key": v, "value": "", "type": "string"} for v in variables],
    }


def environment():
    values = [
        ("baseUrl", "http://127.0.0.1:8080", "default"),
        ("apiKey", "sk_test_replace_me", "secret"),
        ("clientId", "client_replace_me", "default"),
    ]
    return {
        "id": "0b5e3c1a-7f2d-4e8b-9c6a-6b657973746564",
        "name": "Keystead (local)",
        "values": [{"key": k, "value": v, "type": t, "enabled": True} for k, v, t in values],
        "_postman_variable_scope": "environment",
    }


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else "openapi.yaml"
    out_dir = sys.argv[2] if len(sys.argv) > 2 else "postman"
    with open(source, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    os.makedirs(out_dir, exist_ok=True)
    for name, doc in [
        ("keystead.postman_collection.json", collection(spec)),
        ("keystead.postman_environment.json", environment()),
    ]:
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, ensure_ascii=False)
            f.write("\n")


if __name__ == "__main__":
    main()
