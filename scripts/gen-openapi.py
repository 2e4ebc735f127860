#!/usr/bin/env python3
"""Generates Keystead's `openapi.yaml` from the official WorkOS spec and the per-area fragments.

Usage: python3 scripts/gen-openapi.py [SPEC] [OUT]
  SPEC defaults to spec/workos/openapi.yaml (the vendored official spec, MIT, (c) WorkOS),
  OUT to openapi.yaml. Needs PyYAML (`pip install pyyaml`).

Every WorkOS operation Keystead serves is copied verbatim from the official spec (operationId,
parameters, request body, responses) together with every component schema it references,
transitively. Only the deviations listed in ROUTES (path-parameter renames to match the router,
`security`, trimmed response codes or request variants) are applied on top, and each one is
recorded in the operation's `x-keystead-deviations`. Keystead-only routes are added from
EXTENSIONS and carry `x-keystead-extension: true`.

Each area owns one fragment, `docs/openapi-<area>.yaml`, read by a glob (a new area adds its
file and edits nothing shared). A fragment holds:
  - `paths` (and `components.schemas` / `components.securitySchemes`): path items written by
    hand, typically Keystead's own routes;
  - `x-keystead-official`: official operations to copy, each
      {path: <official path>, method: get, as: <router path, optional>,
       deviations: [{note: "...", drop_responses: ["200"], set_responses: {"404": {...}},
                     security: []}]}
    where every key of a deviation but `note` is optional.
`openapi.yaml` is always regenerated, never edited or merged by hand: after adding a route,
re-run this; `tests/api/openapi.rs` fails while the router and openapi.yaml disagree, or while
openapi.yaml differs from what this script writes.
"""

import copy
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def cargo_version():
    m = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M)
    return m.group(1) if m else "0.0.0"


def drop_responses(*codes):
    def apply(op):
        for code in codes:
            op["responses"].pop(code, None)
    return apply


def set_response(code, response):
    def apply(op):
        op["responses"][code] = response
    return apply


def sso_identities(op):
    props = op["responses"]["200"]["content"]["application/json"]["schema"]["items"]["properties"]
    props["type"].pop("const", None)
    props["type"]["enum"] = ["OAuth", "SSO"]
    props["provider"].pop("enum", None)
    props["provider"]["description"] = (
        "The OAuth provider (`GoogleOAuth`, …) or, for `type: SSO`, the connection type.")


def public(op):
    op["security"] = []


def keep_grants(*grants):
    """Keep only the request-body `oneOf` variants whose `grant_type` const is in `grants`."""
    def apply(op):
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        schema["oneOf"] = [
            v for v in schema["oneOf"]
            if v.get("properties", {}).get("grant_type", {}).get("const") in grants
        ]
        missing = set(grants) - {v["properties"]["grant_type"]["const"] for v in schema["oneOf"]}
        if missing:
            sys.exit(f"grant types not found in the official spec: {missing}")
    return apply


def pending_403(op):
    """Adds the continuation fields of the pending-authentication 403s (WORKOS-API-NOTES §4.4)."""
    user = {"$ref": "#/components/schemas/UserlandUser"}
    extra = {
        "email_verification_required": {
            "email": {"type": "string"},
            "email_verification_id": {"type": "string"},
        },
        "mfa_challenge": {
            "authentication_factors": {"type": "array",
                                       "items": {"$ref": "#/components/schemas/AuthenticationFactor"}},
        },
        "organization_selection_required": {
            "organizations": {"type": "array", "items": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                "required": ["id", "name"],
            }},
        },
    }
    variants = op["responses"]["403"]["content"]["application/json"]["schema"]["oneOf"]
    for v in variants:
        code = v.get("properties", {}).get("code", {}).get("const")
        if code in extra:
            v["properties"]["pending_authentication_token"] = {"type": "string"}
            v["properties"]["user"] = user
            v["properties"].update(extra[code])
            v["required"] = list(v["required"]) + ["pending_authentication_token"]


MEMBERSHIP_ROLES = (
    "Memberships also carry `roles` (every role held, the primary `role` first), as the SDKs "
    "read them; unknown role slugs answer 422 `invalid_role`.",
    lambda op: None,
)


# (official path, Keystead path, method, [(deviation note, fn(op))]).
# The Keystead path uses the router's parameter names.
ROUTES = [
    ("/organizations", "/organizations", "get", []),
    ("/organizations", "/organizations", "post", []),
    ("/organizations/{id}", "/organizations/{id}", "get", []),
    ("/organizations/{id}", "/organizations/{id}", "put", []),
    ("/organizations/{id}", "/organizations/{id}", "delete", [
        ("Answers 202 with no body once the organization is deleted (the official spec lists "
         "200 and 202); 404 for an unknown id.",
         lambda op: (drop_responses("200")(op), set_response("404", NOT_FOUND)(op))),
    ]),
    ("/organizations/external_id/{external_id}", "/organizations/external_id/{external_id}",
     "get", []),
    ("/organization_domains", "/organization_domains", "post", []),
    ("/organization_domains/{id}", "/organization_domains/{id}", "get", []),
    ("/organization_domains/{id}", "/organization_domains/{id}", "delete", []),
    ("/organization_domains/{id}/verify", "/organization_domains/{id}/verify", "post", []),
    ("/events", "/events", "get", []),
    ("/user_management/users", "/user_management/users", "get", []),
    ("/user_management/users", "/user_management/users", "post", []),
    ("/user_management/users/{id}", "/user_management/users/{id}", "get", []),
    ("/user_management/users/{id}", "/user_management/users/{id}", "put", []),
    ("/user_management/users/{id}", "/user_management/users/{id}", "delete", []),
    ("/user_management/users/external_id/{external_id}",
     "/user_management/users/external_id/{external_id}", "get", []),
    ("/user_management/authenticate", "/user_management/authenticate", "post", [
        ("The `password`, `refresh_token`, `authorization_code`, Magic Auth, email "
         "verification, MFA TOTP, organization selection and device code grants are implemented; "
         "the other official request variants are left out. `client_secret` is an API key of the "
         "environment that owns `client_id` (the device code grant takes none; an "
         "`authorization_code` exchange that sends a PKCE `code_verifier` may omit it, and the "
         "`refresh_token` grant may then omit it for the session that exchange started, with the "
         "same `client_id`: a public client such as AuthKit in the browser). An "
         "authorization code is single use and valid 10 minutes; presenting a spent code revokes "
         "the session its first exchange created. Browser callers must come from one of the "
         "environment's CORS origins (else 403 `{error: access_denied}`). A public client "
         "calling from a registered origin whose host is not `localhost`/`127.0.0.1` "
         "(authkit-js production mode) gets no `refresh_token` in the body: it is set in the "
         "HttpOnly cookie `keystead-refresh-<client_id>` with a readable `workos-has-session`, "
         "and a `refresh_token` grant without one in the body reads and rotates that cookie.",
         keep_grants("password", "refresh_token", "authorization_code",
                     "urn:workos:oauth:grant-type:magic-auth:code",
                     "urn:workos:oauth:grant-type:email-verification:code",
                     "urn:workos:oauth:grant-type:mfa-totp",
                     "urn:workos:oauth:grant-type:organization-selection",
                     "urn:ietf:params:oauth:grant-type:device_code")),
        ("The 403 `email_verification_required`, `mfa_challenge` and "
         "`organization_selection_required` bodies also carry the continuation fields the SDKs "
         "read: `pending_authentication_token`, `user`, and `email` + `email_verification_id`, "
         "`authentication_factors`, or `organizations[{id, name}]`.",
         pending_403),
    ]),
    ("/user_management/authorize", "/user_management/authorize", "get", [
        ("Serves Keystead's hosted login pages: answers 302 to `/authkit/sign-in` (or "
         "`/authkit/sign-up` with `screen_hint=sign-up`) with a flow cookie; the flow ends with a "
         "303 to `redirect_uri?code=…&state=…`. `redirect_uri` must exactly match one of the "
         "environment's registered redirect URIs. An unknown `client_id` or an unregistered "
         "`redirect_uri` answers 400 with an HTML error page and never redirects; other errors "
         "redirect to `redirect_uri` with `error`, `error_description` and `state` "
         "(`unsupported_response_type`, `invalid_request`). With `connection_id`, a `provider` "
         "other than `authkit` (a connection type such as `GoogleOAuth` with an active "
         "connection), or an `organization_id` whose organization has an active SSO connection, "
         "it answers 302 to that connection's identity provider instead (as `/sso/authorize` "
         "does); when the IdP answers, the profile's user is found by linked identity, else by "
         "email (and linked), else created, and an authorization code (authentication_method "
         "`SSO`, organization = the connection's) goes to `redirect_uri?code=…&state=…`. An "
         "unknown, inactive or other environment's connection redirects with "
         "`error=connection_invalid`. `domain_hint` is refused; `prompt`, `invitation_token` "
         "and `provider_query_params` are ignored. `code_challenge` requires "
         "`code_challenge_method=S256`.",
         lambda op: (drop_responses("200")(op), set_response("400", HTML_ERROR)(op))),
    ]),
    ("/user_management/users/{id}/sessions", "/user_management/users/{id}/sessions", "get", []),
    ("/user_management/sessions/revoke", "/user_management/sessions/revoke", "post", []),
    ("/user_management/organization_memberships", "/user_management/organization_memberships",
     "get", [MEMBERSHIP_ROLES]),
    ("/user_management/organization_memberships", "/user_management/organization_memberships",
     "post", [MEMBERSHIP_ROLES,
              ("An existing active or pending membership of the pair answers 400 "
               "`organization_membership_already_exists`.", lambda op: None)]),
    ("/user_management/organization_memberships/{id}",
     "/user_management/organization_memberships/{id}", "get", [MEMBERSHIP_ROLES]),
    ("/user_management/organization_memberships/{id}",
     "/user_management/organization_memberships/{id}", "put", [MEMBERSHIP_ROLES]),
    ("/user_management/organization_memberships/{id}",
     "/user_management/organization_memberships/{id}", "delete", []),
    ("/user_management/organization_memberships/{id}/deactivate",
     "/user_management/organization_memberships/{id}/deactivate", "put", [MEMBERSHIP_ROLES]),
    ("/user_management/organization_memberships/{id}/reactivate",
     "/user_management/organization_memberships/{id}/reactivate", "put", [MEMBERSHIP_ROLES]),
    ("/user_management/invitations", "/user_management/invitations", "get", []),
    ("/user_management/invitations", "/user_management/invitations", "post", []),
    ("/user_management/invitations/{id}", "/user_management/invitations/{id}", "get", []),
    ("/user_management/invitations/by_token/{token}",
     "/user_management/invitations/by_token/{token}", "get", []),
    ("/user_management/invitations/{id}/accept", "/user_management/invitations/{id}/accept",
     "post", []),
    ("/user_management/invitations/{id}/resend", "/user_management/invitations/{id}/resend",
     "post", []),
    ("/user_management/invitations/{id}/revoke", "/user_management/invitations/{id}/revoke",
     "post", []),
    ("/user_management/magic_auth", "/user_management/magic_auth", "post", [
        ("Sends are limited per email (`sends` rate-limit class): 429 `rate_limit_exceeded`.",
         lambda op: None),
    ]),
    ("/user_management/magic_auth/{id}", "/user_management/magic_auth/{id}", "get", []),
    ("/user_management/users/{id}/email_verification/send",
     "/user_management/users/{id}/email_verification/send", "post", []),
    ("/user_management/users/{id}/email_verification/confirm",
     "/user_management/users/{id}/email_verification/confirm", "post", []),
    ("/user_management/email_verification/{id}", "/user_management/email_verification/{id}",
     "get", []),
    ("/user_management/password_reset", "/user_management/password_reset", "post", []),
    ("/user_management/password_reset/confirm", "/user_management/password_reset/confirm",
     "post", [
         ("A successful reset also marks the email verified and revokes every session of the "
          "user.", lambda op: None),
     ]),
    ("/user_management/password_reset/{id}", "/user_management/password_reset/{id}", "get", []),
    ("/user_management/users/{id}/email_change/send",
     "/user_management/users/{id}/email_change/send", "post", []),
    ("/user_management/users/{id}/email_change/confirm",
     "/user_management/users/{id}/email_change/confirm", "post", []),
    ("/user_management/users/{id}/identities", "/user_management/users/{id}/identities", "get",
     [("Also lists identities linked by SSO logins through `/user_management/authorize` with "
       "an enterprise (SAML or OIDC) connection: `type: SSO`, `provider` = the connection "
       "type (e.g. `GenericSAML`), `idp_id` = the profile's `idp_id`.", sso_identities)]),
    ("/user_management/users/{userlandUserId}/auth_factors",
     "/user_management/users/{id}/auth_factors", "get", []),
    ("/user_management/users/{userlandUserId}/auth_factors",
     "/user_management/users/{id}/auth_factors", "post", []),
    ("/auth/factors/enroll", "/auth/factors/enroll", "post", [
        ("Only `type: totp` is supported; `generic_otp` and `sms` answer 422.", lambda op: None),
    ]),
    ("/auth/factors/{id}", "/auth/factors/{id}", "get", []),
    ("/auth/factors/{id}", "/auth/factors/{id}", "delete", [
        ("Answers 200 with no body.", drop_responses("204")),
    ]),
    ("/auth/factors/{id}/challenge", "/auth/factors/{id}/challenge", "post", []),
    ("/auth/challenges/{id}/verify", "/auth/challenges/{id}/verify", "post", []),
    ("/user_management/jwt_template", "/user_management/jwt_template", "get", []),
    ("/user_management/jwt_template", "/user_management/jwt_template", "put", []),
    ("/user_management/redirect_uris", "/user_management/redirect_uris", "post", [
        ("Accepts an optional `default: true`; the first URI of an environment is its default.",
         lambda op: None),
    ]),
    ("/user_management/cors_origins", "/user_management/cors_origins", "post", []),
    ("/user_management/sessions/logout", "/user_management/sessions/logout", "get", [
        ("`return_to` must be one of the environment's redirect URIs (else 422); without it the "
         "redirect goes to the default redirect URI, or the answer is 200 with no body. The "
         "answer clears authkit-js production-mode cookies (`keystead-refresh-<client_id>`, "
         "`workos-has-session`) the request carries.",
         lambda op: None),
    ]),
    ("/user_management/authorize/device", "/user_management/authorize/device", "post", []),
    ("/sso/jwks/{clientId}", "/sso/jwks/{client_id}", "get", [
        ("Public (no API key), as JWT libraries fetch it; the official spec declares bearer "
         "auth.", public),
    ]),
]

HTML_ERROR = {
    "description": "Unknown client_id, or a redirect_uri that is not registered (HTML error page; no redirect)",
    "content": {"text/html": {"schema": {"type": "string"}}},
}

NOT_FOUND = {
    "description": "Not Found",
    "content": {"application/json": {"schema": {
        "type": "object",
        "properties": {"message": {"type": "string",
                                   "example": "Organization not found: 'org_01EHQMYV6MBK39QC5PZXHY59C3'."}},
        "required": ["message"],
    }}},
}

EXTENSIONS = {
    "/health": {
        "get": {
            "operationId": "KeysteadHealth",
            "summary": "Health check",
            "description": "Liveness: answers 200 once the server accepts API calls. No API key.",
            "x-keystead-extension": True,
            "security": [],
            "tags": ["keystead"],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "properties": {
                            "status": {"type": "string", "const": "ok"},
                            "version": {"type": "string", "example": "0.1.0",
                                        "description": "Keystead's version."},
                        },
                        "required": ["status", "version"],
                    }}},
                },
            },
        },
    },
    "/ready": {
        "get": {
            "operationId": "KeysteadReady",
            "summary": "Readiness check",
            "description": "Answers 200 when the database answers within 2 s, 503 otherwise. No API key; "
                           "never rate limited.",
            "x-keystead-extension": True,
            "security": [],
            "tags": ["keystead"],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "properties": {"status": {"type": "string", "const": "ready"}},
                        "required": ["status"],
                    }}},
                },
                "503": {
                    "description": "The database is unreachable",
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "properties": {"code": {"type": "string", "const": "service_unavailable"},
                                       "message": {"type": "string"}},
                        "required": ["code", "message"],
                    }}},
                },
            },
        },
    },
    "/metrics": {
        "get": {
            "operationId": "KeysteadMetrics",
            "summary": "Prometheus metrics",
            "description": "Prometheus text exposition: `keystead_http_requests_total` and "
                           "`keystead_http_request_duration_seconds` by route, method and status; "
                           "database pool gauges; `keystead_rate_limit_rejections_total` by class; "
                           "`keystead_rate_limit_backend_errors_total`; `keystead_idempotency_replays_total`; "
                           "background queue depth. Needs `Authorization: Bearer <KEYSTEAD_METRICS_TOKEN>` "
                           "when that is set, else public.",
            "x-keystead-extension": True,
            "security": [],
            "tags": ["keystead"],
            "responses": {
                "200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}},
                "401": {"description": "Missing or wrong metrics token"},
            },
        },
    },
}

DESCRIPTION = """\
Keystead is a self-hosted server that speaks the WorkOS REST API, so the official WorkOS SDKs
can be pointed at it. This document lists every route Keystead serves.

WorkOS operations are copied from the official WorkOS OpenAPI specification (MIT licence,
(c) WorkOS) with their operationIds, parameters, bodies, responses and component schemas. Where
Keystead differs, the operation lists the difference under `x-keystead-deviations`. Path
parameters are named as Keystead's router names them (`{client_id}` where the official spec
says `{clientId}`). Routes that are Keystead's own carry `x-keystead-extension: true`. Repeated names in the official
schemas' `required` lists are listed once here (JSON Schema requires them unique).

Authentication: every route needs `Authorization: Bearer <API key>` (`sk_test_...` or
`sk_live_...`) unless it declares `security: []`. A missing, unknown or revoked key answers 401
`{"message": ...}`.

Rate limits (GCRA, per API key; per client IP on public routes; per email and end-user IP on
password sign-ins): limited responses carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
`X-RateLimit-Reset` (seconds); a rejected request answers 429 with `Retry-After` (seconds) and
`{"code": "rate_limit_exceeded", "message": "Too many requests."}`.

Idempotency: any POST, PUT, PATCH or DELETE on an API-key route may carry `Idempotency-Key`. A
retry with the same key within 24 hours returns the stored response with `Idempotent-Replayed:
true`; the same key with a different request answers 422 `idempotency_key_mismatch`; a retry
while the first request still runs answers 409 `idempotency_request_in_progress`. Responses
with a 5xx status are not stored. Requests that outlive `KEYSTEAD_REQUEST_TIMEOUT` answer 408
`request_timeout`; bodies over `KEYSTEAD_MAX_BODY_BYTES` answer 413 `payload_too_large`; a
database outage answers 503 `service_unavailable`. Every response carries `X-Request-ID`.

Unknown routes answer 404 `{"message": "Route not found: 'unknown'."}`; a known path with an
unsupported method answers 405 `{"message": "Method not allowed for this route."}`.

Hosted login: `GET /user_management/authorize` starts a browser flow through Keystead's own
HTML pages under `/authkit/*` (no API key; an encrypted flow cookie, CSRF-protected forms,
per-IP rate limits, HTML error pages); it ends at `redirect_uri?code=...&state=...`, and the
code is exchanged with the `authorization_code` grant of `POST /user_management/authenticate`.

CLI-only extensions (no HTTP route; they act on the same database as the server):

- `keystead environments create --name NAME [--production] [--json]`: create an environment
  (tenant) with its client id, first API key and JWT signing key.
- `keystead environments list [--json]`: list environments.
- `keystead api-keys create --environment ENV [--name NAME] [--json]`: create an API key; its
  value is printed once.
- `keystead api-keys list --environment ENV [--json]`: list an environment's API keys.
- `keystead api-keys revoke KEY_ID`: revoke a key; requests with it get 401 from then on.
- `keystead feature-flags create --environment ENV --slug SLUG --name NAME [--description TEXT]
  [--enabled] [--default-value] [--tag TAG ...] [--json]` and `keystead feature-flags delete
  --environment ENV SLUG`: what `POST /feature-flags` and `DELETE /feature-flags/{slug}` do.
"""


def refs(node, out):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            out.add(ref.rsplit("/", 1)[1])
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def dedupe_required(node, fixed):
    """Removes repeated names from `required` lists (the official OrganizationList repeats
    `list_metadata`); JSON Schema 2020-12 requires them unique, and validators misreport them."""
    if isinstance(node, dict):
        req = node.get("required")
        if isinstance(req, list) and len(set(req)) != len(req):
            node["required"] = list(dict.fromkeys(req))
            fixed.append(req)
        for v in node.values():
            dedupe_required(v, fixed)
    elif isinstance(node, list):
        for v in node:
            dedupe_required(v, fixed)


def declared_deviation(d):
    """The change a fragment's `x-keystead-official` deviation declares (see the module doc)."""
    unknown = set(d) - {"note", "drop_responses", "set_responses", "security"}
    if unknown:
        sys.exit(f"unknown deviation keys {sorted(unknown)} in {d}")

    def apply(op):
        drop_responses(*d.get("drop_responses", []))(op)
        for code, response in d.get("set_responses", {}).items():
            set_response(str(code), copy.deepcopy(response))(op)
        if "security" in d:
            op["security"] = copy.deepcopy(d["security"])
    return apply


def path_params(path):
    return re.findall(r"\{([^}]+)\}", path)


class Dumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks, so descriptions stay readable."""


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


Dumper.add_representer(str, _str)


def main():
    spec_path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "spec/workos/openapi.yaml"
    out_path = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "openapi.yaml"
    spec = yaml.safe_load(spec_path.read_text())

    paths = {}
    used_tags = set()

    def copy_official(official, ours, method, deviations, where):
        item = spec["paths"].get(official)
        if not item or method not in item:
            sys.exit(f"{where}: {method.upper()} {official} is not in the official spec")
        if method in paths.get(ours, {}):
            sys.exit(f"{where}: {method.upper()} {ours} is defined twice")
        op = copy.deepcopy(item[method])
        renames = dict(zip(path_params(official), path_params(ours)))
        notes = []
        for old, new in renames.items():
            if old != new:
                notes.append(f"Path parameter `{old}` is named `{new}`.")
        for p in op.get("parameters", []):
            if p.get("in") == "path" and p["name"] in renames:
                p["name"] = renames[p["name"]]
        declared = {p["name"] for p in op.get("parameters", []) if p.get("in") == "path"}
        if declared != set(path_params(ours)):
            sys.exit(f"{where}: {method.upper()} {ours}: path parameters {declared} do not match")
        for note, fn in deviations:
            fn(op)
            notes.append(note)
        if notes:
            op["x-keystead-deviations"] = notes
        used_tags.update(op.get("tags", []))
        paths.setdefault(ours, {})[method] = op

    for official, ours, method, deviations in ROUTES:
        copy_official(official, ours, method, deviations, "ROUTES")
    for path, item in EXTENSIONS.items():
        paths[path] = copy.deepcopy(item)
        for op in item.values():
            used_tags.update(op.get("tags", []))

    # Per-area fragments (docs/openapi-*.yaml): path items and the schemas and security
    # schemes they need, written by hand for Keystead's own routes, and the official
    # operations the area copies (`x-keystead-official`).
    extra_schemas, extra_security = {}, {}
    for frag_path in sorted((ROOT / "docs").glob("openapi-*.yaml")):
        frag = yaml.safe_load(frag_path.read_text())
        for path, item in frag.get("paths", {}).items():
            for method, op in item.items():
                if method not in ("get", "post", "put", "patch", "delete"):
                    # Path-level keys (shared `parameters`, `summary`) stay on the path item.
                    paths.setdefault(path, {}).setdefault(method, op)
                    continue
                if method in paths.get(path, {}):
                    sys.exit(f"{frag_path.name}: {method.upper()} {path} is defined twice")
                paths.setdefault(path, {})[method] = op
                used_tags.update(op.get("tags", []))
        for entry in frag.get("x-keystead-official", []):
            official = entry["path"]
            deviations = [(d["note"], declared_deviation(d)) for d in entry.get("deviations", [])]
            copy_official(official, entry.get("as", official), entry["method"], deviations,
                          frag_path.name)
        components = frag.get("components", {})
        extra_schemas.update(components.get("schemas", {}))
        extra_security.update(components.get("securitySchemes", {}))

    # Component schemas referenced from the operations, transitively.
    schemas = {**extra_schemas, **spec["components"]["schemas"]}
    wanted, todo = set(), set()
    refs(paths, todo)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        if name not in schemas:
            sys.exit(f"schema {name} is referenced but not defined")
        wanted.add(name)
        found = set()
        refs(schemas[name], found)
        todo |= found - wanted

    official_tags = {t["name"]: t for t in spec.get("tags", [])}
    tags = [official_tags[t] for t in sorted(used_tags) if t in official_tags]
    tags.append({"name": "keystead", "description": "Keystead's own routes (not in WorkOS)."})

    doc = {
        "openapi": spec["openapi"],
        "info": {
            "title": "Keystead",
            "version": cargo_version(),
            "description": DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
            "x-workos-spec-version": spec["info"]["version"],
        },
        "servers": [{"url": "http://127.0.0.1:8080", "description": "Local default (`keystead serve`)"}],
        "security": [{"bearer": []}],
        "tags": tags,
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {"bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A Keystead API key (`sk_test_...` or `sk_live_...`): "
                               "`Authorization: Bearer sk_test_...`.",
            }, **extra_security},
            "schemas": {name: schemas[name] for name in sorted(wanted)},
        },
    }
    schemes = doc["components"]["securitySchemes"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for requirement in op.get("security", []) if isinstance(op, dict) else []:
                for name in set(requirement) - set(schemes):
                    sys.exit(f"{method.upper()} {path}: security scheme `{name}` is not defined "
                             "(add it under a fragment's components.securitySchemes)")
    fixed = []
    dedupe_required(doc, fixed)
    header = ("# Generated by scripts/gen-openapi.py from the official WorkOS OpenAPI spec "
              "(MIT, (c) WorkOS).\n# Edit the script, not this file.\n")
    out_path.write_text(header + yaml.dump(doc, Dumper=Dumper, sort_keys=False,
                                                 allow_unicode=True, width=100))
    print(f"wrote {out_path}: {sum(len(v) for v in paths.values())} operations, "
          f"{len(paths)} paths, {len(wanted)} schemas; {len(fixed)} duplicate `required` lists fixed")


if __name__ == "__main__":
    main()
