"""Smoke test: the official WorkOS Python SDK against a running Keystead.

Run by `tests/api/sdk.rs` with the SDK installed in `target/sdk/venv`. Environment:
KEYSTEAD_BASE_URL, KEYSTEAD_API_KEY, KEYSTEAD_CLIENT_ID. Every call goes through the SDK;
the access token is verified with PyJWT (an SDK dependency) against the JWKS URL the SDK
builds. Exits non-zero at the first failed step, naming it.
"""

import os
import sys
import time
import traceback
import uuid

import jwt
from workos import NotFoundError, WorkOSClient
from workos.organizations.models import OrganizationDomainData

BASE_URL = os.environ["KEYSTEAD_BASE_URL"]
API_KEY = os.environ["KEYSTEAD_API_KEY"]
CLIENT_ID = os.environ["KEYSTEAD_CLIENT_ID"]

STEP = "start"


def step(name):
    global STEP
    STEP = name
    print(f"[python] {name}", flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def organizations(workos):
    suffix = uuid.uuid4().hex[:8]
    step("organizations.create_organization")
    org = workos.organizations.create_organization(
        name=f"Py Corp {suffix}",
        external_id=f"py-{suffix}",
        metadata={"tier": "gold"},
        domain_data=[
            OrganizationDomainData(domain=f"py-{suffix}.example.org", state="verified"),
            OrganizationDomainData(domain=f"py-{suffix}.example.net", state="pending"),
        ],
    )
    check(org.id.startswith("org_"), f"organization id {org.id!r}")
    check(
        sorted(d.domain for d in org.domains) == [f"py-{suffix}.example.net", f"py-{suffix}.example.org"],
        f"domains {org.domains!r}",
    )
    check(org.name == f"Py Corp {suffix}", f"name {org.name!r}")
    check(org.metadata == {"tier": "gold"}, f"metadata {org.metadata!r}")

    step("organizations.list_organizations")
    page = workos.organizations.list_organizations(limit=100)
    check(any(o.id == org.id for o in page.data), "created organization missing from the list")

    step("organizations.update_organization")
    updated = workos.organizations.update_organization(org.id, name=f"Py Corp {suffix} (renamed)")
    check(updated.name.endswith("(renamed)"), f"updated name {updated.name!r}")

    step("organizations.get_organization")
    got = workos.organizations.get_organization(org.id)
    check(got.name == updated.name, f"fetched name {got.name!r}")

    step("organizations.get_organization_by_external_id")
    by_ext = workos.organizations.get_organization_by_external_id(f"py-{suffix}")
    check(by_ext.id == org.id, f"by external id {by_ext.id!r}")

    step("organization_domains.create / get / delete")
    domain = workos.organization_domains.create_organization_domain(
        domain=f"py-{suffix}.example.com", organization_id=org.id
    )
    check(str(getattr(domain.state, "value", domain.state)) == "pending", f"domain state {domain.state!r}")
    got_domain = workos.organization_domains.get_organization_domain(domain.id)
    check(got_domain.domain == f"py-{suffix}.example.com", f"domain {got_domain.domain!r}")
    workos.organization_domains.delete_organization_domain(domain.id)

    step("organizations.delete_organization")
    workos.organizations.delete_organization(org.id)
    try:
        workos.organizations.get_organization(org.id)
    except NotFoundError:
        pass
    else:
        raise AssertionError("organization still exists after delete")


def users_and_sessions(workos):
    email = f"py-{uuid.uuid4().hex[:8]}@example.com"
    password = "correct horse battery staple 42"

    step("user_management.create_user (with password)")
    from workos.user_management._resource import PasswordPlaintext

    user = workos.user_management.create_user(
        email=email, first_name="Py", last_name="Smoke", password=PasswordPlaintext(password=password)
    )
    check(user.id.startswith("user_"), f"user id {user.id!r}")

    step("user_management.authenticate_with_password")
    auth = workos.user_management.authenticate_with_password(email=email, password=password)
    check(auth.user.id == user.id, "authenticated user differs from the created one")
    check(bool(auth.access_token) and bool(auth.refresh_token), "missing tokens")

    step("verify the access token against get_jwks_url() with PyJWT")
    jwks_url = workos.user_management.get_jwks_url()
    signing_key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(auth.access_token)
    claims = jwt.decode(
        auth.access_token,
        signing_key.key,
        algorithms=["RS256"],
        options={"verify_aud": False},
    )
    check(claims.get("sub") == user.id, f"sub claim {claims.get('sub')!r}")
    check(bool(claims.get("sid")), "no sid claim")

    step("user_management.authenticate_with_refresh_token")
    refreshed = workos.user_management.authenticate_with_refresh_token(refresh_token=auth.refresh_token)
    check(refreshed.user.id == user.id, "refreshed user differs")
    check(refreshed.refresh_token != auth.refresh_token, "refresh token was not rotated")

    step("user_management.list_sessions")
    sessions = workos.user_management.list_sessions(user.id)
    check(any(s.id == claims["sid"] for s in sessions.data), "session missing from the list")
    return user


def seen_events(workos, names):
    """Every event name in `names` that GET /events returns, paging with `after`."""
    seen = set()
    page = workos.events.list_events(events=names, limit=100)
    for _ in range(50):
        seen.update(e.event for e in page.data)
        if not page.has_more():
            break
        page = workos.events.list_events(events=names, limit=100, after=page.after)
    return seen


def events(workos, user):
    step("events.list_events (organization events)")
    org_events = [
        "organization.created",
        "organization.updated",
        "organization.deleted",
        "organization_domain.created",
        "organization_domain.deleted",
    ]
    seen = seen_events(workos, org_events)
    missing = [name for name in org_events if name not in seen]
    check(not missing, f"events missing: {missing} (seen {sorted(seen)})")

    step("events.list_events (user and session events)")
    user_events = ["user.created", "session.created", "authentication.password_succeeded"]
    if user is None:
        raise AssertionError("skipped: the user steps failed")
    seen = seen_events(workos, user_events)
    missing = [name for name in user_events if name not in seen]
    check(not missing, f"events missing: {missing} (seen {sorted(seen)})")


def main():
    workos = WorkOSClient(api_key=API_KEY, client_id=CLIENT_ID, base_url=BASE_URL)
    failures = []
    try:
        organizations(workos)
    except Exception:
        failures.append(STEP)
        traceback.print_exc()
    user = None
    try:
        user = users_and_sessions(workos)
    except Exception:
        failures.append(STEP)
        traceback.print_exc()
    try:
        events(workos, user)
    except Exception:
        failures.append(STEP)
        traceback.print_exc()
    if failures:
        print(f"[python] FAILED steps: {failures}", flush=True)
        return 1
    print("[python] all steps passed", flush=True)
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"[python] done in {time.monotonic() - started:.1f}s", flush=True)
    sys.exit(code)
