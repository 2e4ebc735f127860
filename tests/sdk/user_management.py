"""The official WorkOS Python SDK drives every User Management flow against a running Keystead.

Run by `tests/api/sdk.rs` (test `official_python_sdk_drives_user_management`) against a server
started with KEYSTEAD_REQUIRE_EMAIL_VERIFICATION=true. Environment: KEYSTEAD_BASE_URL,
KEYSTEAD_API_KEY, KEYSTEAD_CLIENT_ID. Every API call goes through the SDK, including the 403
pending-authentication steps, which the SDK raises as EmailVerificationRequiredError,
MfaChallengeError and OrganizationSelectionRequiredError carrying
`pending_authentication_token` and the step's fields. Exits non-zero naming the failed steps.
"""

import base64
import hashlib
import hmac
import os
import struct
import sys
import time
import traceback
import urllib.error
import urllib.request
import uuid

import jwt
from workos import WorkOSClient
from workos._errors import (
    BadRequestError,
    EmailVerificationRequiredError,
    MfaChallengeError,
    NotFoundError,
    OrganizationSelectionRequiredError,
)
from workos.organization_membership import RoleMultiple, RoleSingle
from workos.user_management._resource import PasswordPlaintext

BASE_URL = os.environ["KEYSTEAD_BASE_URL"]
API_KEY = os.environ["KEYSTEAD_API_KEY"]
CLIENT_ID = os.environ["KEYSTEAD_CLIENT_ID"]
PASSWORD = "correct horse battery staple 42"

STEP = "start"
RUN = uuid.uuid4().hex[:8]


def step(name):
    global STEP
    STEP = name
    print(f"[python-um] {name}", flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def email(name):
    return f"{name}-{RUN}@example.com"


def totp(secret, offset=0):
    """RFC 6238 (SHA-1, 6 digits, 30 s) for the current time plus `offset` steps."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int(time.time()) // 30 + offset
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000:06d}"


def fresh_step():
    """Avoids codes computed across a 30-second boundary."""
    left = 30 - int(time.time()) % 30
    if left < 5:
        time.sleep(left + 1)


def expect(exc_type, fn, what):
    try:
        fn()
    except exc_type as e:
        return e
    raise AssertionError(f"{what}: no {exc_type.__name__} raised")


def claims(workos, token):
    key = jwt.PyJWKClient(workos.user_management.get_jwks_url()).get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], options={"verify_aud": False})


def new_user(workos, name, verified=True, password=True):
    return workos.user_management.create_user(
        email=email(name),
        first_name=name.title(),
        email_verified=verified,
        password=PasswordPlaintext(password=PASSWORD) if password else None,
    )


def event_ids(workos, name):
    """The `data.id` (or None, for payloads without one) of every `name` event, oldest first."""
    page = workos.events.list_events(events=[name], limit=100)
    ids = [getattr(e.data, "id", None) for e in page.data]
    while page.has_more():
        page = workos.events.list_events(events=[name], limit=100, after=page.after)
        ids.extend(getattr(e.data, "id", None) for e in page.data)
    return ids


def memberships_roles_and_organization_selection(workos):
    om = workos.organization_membership
    um = workos.user_management
    step("organizations for memberships")
    one = workos.organizations.create_organization(name=f"One {RUN}")
    two = workos.organizations.create_organization(name=f"Two {RUN}")
    three = workos.organizations.create_organization(name=f"Three {RUN}")
    user = new_user(workos, "member")

    step("authorization.create_environment_role / list_environment_roles")
    role = workos.authorization.create_environment_role(slug=f"editor-{RUN}", name="Editor")
    check(role.slug == f"editor-{RUN}", f"role {role!r}")
    slugs = [r.slug for r in workos.authorization.list_environment_roles().data]
    check({"member", "admin", role.slug} <= set(slugs), f"roles {slugs}")

    step("organization_membership.create / get / list")
    m1 = om.create_organization_membership(
        user_id=user.id, organization_id=one.id, role=RoleSingle(role_slug="admin")
    )
    check(m1.status == "active" and m1.role.slug == "admin", f"membership {m1!r}")
    check([r.slug for r in m1.roles] == ["admin"], f"roles {m1.roles!r}")
    got = om.get_organization_membership(m1.id)
    check(got.user.id == user.id and got.organization_name == one.name, f"fetched {got!r}")
    m2 = om.create_organization_membership(user_id=user.id, organization_id=two.id)
    check(m2.role.slug == "member", "default role is member")
    page = om.list_organization_memberships(user_id=user.id)
    check({m.id for m in page.data} == {m1.id, m2.id}, "memberships listed")

    step("organization_membership.update (role_slugs) / deactivate / reactivate / delete")
    updated = om.update_organization_membership(
        m2.id, role=RoleMultiple(role_slugs=[role.slug, "member"])
    )
    check([r.slug for r in updated.roles] == [role.slug, "member"], f"roles {updated.roles!r}")
    e = expect(
        Exception,
        lambda: om.update_organization_membership(m2.id, role=RoleSingle(role_slug="ghost")),
        "unknown role",
    )
    check(getattr(e, "code", None) == "invalid_role", f"unknown role error {e!r}")
    check(om.deactivate_organization_membership(m1.id).status == "inactive", "deactivated")
    inactive = om.list_organization_memberships(user_id=user.id, statuses=["inactive"])
    check([m.id for m in inactive.data] == [m1.id], "inactive listed")
    check(om.reactivate_organization_membership(m1.id).status == "active", "reactivated")
    m3 = om.create_organization_membership(user_id=user.id, organization_id=three.id)
    om.delete_organization_membership(m3.id)
    expect(NotFoundError, lambda: om.get_organization_membership(m3.id), "deleted membership")

    step("authenticate_with_password -> OrganizationSelectionRequiredError")
    e = expect(
        OrganizationSelectionRequiredError,
        lambda: um.authenticate_with_password(email=user.email, password=PASSWORD),
        "two organizations",
    )
    check(e.code == "organization_selection_required", f"code {e.code}")
    check(bool(e.pending_authentication_token), "pending_authentication_token")
    check({o["id"] for o in e.organizations} == {one.id, two.id}, f"organizations {e.organizations}")
    check(e.user["id"] == user.id, "user in the error")

    step("authenticate_with_organization_selection")
    auth = um.authenticate_with_organization_selection(
        pending_authentication_token=e.pending_authentication_token, organization_id=two.id
    )
    check(auth.organization_id == two.id, f"organization {auth.organization_id}")
    c = claims(workos, auth.access_token)
    check(c.get("org_id") == two.id and c.get("role") == role.slug, f"claims {c}")

    step("authenticate_with_refresh_token(organization_id) switches organization")
    switched = um.authenticate_with_refresh_token(
        refresh_token=auth.refresh_token, organization_id=one.id
    )
    check(switched.organization_id == one.id, "switched")
    check(claims(workos, switched.access_token).get("role") == "admin", "role in the new org")
    return user, one


def email_verification(workos):
    um = workos.user_management
    step("authenticate_with_password (unverified) -> EmailVerificationRequiredError")
    user = new_user(workos, "unverified", verified=False)
    e = expect(
        EmailVerificationRequiredError,
        lambda: um.authenticate_with_password(email=user.email, password=PASSWORD),
        "unverified email",
    )
    check(e.code == "email_verification_required", f"code {e.code}")
    check(e.email == user.email and bool(e.email_verification_id), f"error fields {e!r}")

    step("get_email_verification + authenticate_with_email_verification")
    verification = um.get_email_verification(e.email_verification_id)
    check(verification.user_id == user.id and len(verification.code) == 6, f"{verification!r}")
    bad = expect(
        BadRequestError,
        lambda: um.authenticate_with_email_verification(
            code="000000" if verification.code != "000000" else "111111",
            pending_authentication_token=e.pending_authentication_token,
        ),
        "wrong code",
    )
    check(bad.code == "invalid_one_time_code", f"wrong code error {bad.code}")
    auth = um.authenticate_with_email_verification(
        code=verification.code, pending_authentication_token=e.pending_authentication_token
    )
    check(auth.user.email_verified, "verified after the grant")

    step("send_verification_email / verify_email")
    other = new_user(workos, "verifyme", verified=False, password=False)
    sent = um.send_verification_email(other.id)
    check(sent.user.id == other.id, "send_verification_email returns the user")
    vid = event_ids(workos, "email_verification.created")[-1]
    code = um.get_email_verification(vid).code
    verified = um.verify_email(other.id, code=code)
    check(verified.user.email_verified, "verify_email")


def mfa(workos):
    um = workos.user_management
    mf = workos.multi_factor_auth
    step("multi_factor_auth.create_user_auth_factor / list_user_auth_factors")
    user = new_user(workos, "mfa")
    enrolled = mf.create_user_auth_factor(user.id, type="totp", totp_issuer="Keystead SDK")
    factor = enrolled.authentication_factor
    check(factor.totp.qr_code.startswith("data:image/png;base64,"), "qr_code data URI")
    check(factor.totp.uri.startswith("otpauth://totp/"), f"uri {factor.totp.uri}")
    check(enrolled.authentication_challenge.authentication_factor_id == factor.id, "challenge")
    listed = mf.list_user_auth_factors(user.id)
    check([f.id for f in listed.data] == [factor.id], "factor listed")

    step("authenticate_with_password -> MfaChallengeError")
    e = expect(
        MfaChallengeError,
        lambda: um.authenticate_with_password(email=user.email, password=PASSWORD),
        "user with a factor",
    )
    check(e.code == "mfa_challenge" and bool(e.pending_authentication_token), f"{e!r}")
    check(e.authentication_factors[0]["id"] == factor.id, f"factors {e.authentication_factors}")

    step("challenge_factor + authenticate_with_totp")
    challenge = mf.challenge_factor(factor.id)
    fresh_step()
    bad = expect(
        BadRequestError,
        lambda: um.authenticate_with_totp(
            code=totp(factor.totp.secret, 5),
            pending_authentication_token=e.pending_authentication_token,
            authentication_challenge_id=challenge.id,
        ),
        "wrong TOTP code",
    )
    check(bad.code == "invalid_one_time_code", f"code {bad.code}")
    auth = um.authenticate_with_totp(
        code=totp(factor.totp.secret),
        pending_authentication_token=e.pending_authentication_token,
        authentication_challenge_id=challenge.id,
    )
    check(auth.user.id == user.id, "signed in with TOTP")

    step("enroll_factor / get_factor / challenge_factor / verify_challenge / delete_factor")
    standalone = mf.enroll_factor(type="totp", totp_issuer="Acme", totp_user="ops@example.com")
    check(standalone.totp.secret and standalone.totp.issuer == "Acme", f"{standalone!r}")
    check(mf.get_factor(standalone.id).totp.user == "ops@example.com", "get_factor")
    fresh_step()
    ch = mf.challenge_factor(standalone.id)
    code = totp(standalone.totp.secret)
    check(mf.verify_challenge(ch.id, code=code).valid is True, "valid code")
    again = mf.challenge_factor(standalone.id)
    check(mf.verify_challenge(again.id, code=code).valid is False, "a code works once")
    mf.delete_factor(standalone.id)
    expect(NotFoundError, lambda: mf.get_factor(standalone.id), "deleted factor")


def magic_auth(workos):
    um = workos.user_management
    step("create_magic_auth / get_magic_auth")
    address = email("magic")
    magic = um.create_magic_auth(email=address)
    check(len(magic.code) == 6 and magic.user_id.startswith("user_"), f"{magic!r}")
    check(um.get_magic_auth(magic.id).code == magic.code, "get_magic_auth returns the code")

    step("authenticate_with_magic_auth signs the user up")
    auth = um.authenticate_with_magic_auth(code=magic.code, email=address)
    check(auth.user.id == magic.user_id and auth.user.email_verified, f"{auth.user!r}")
    check(auth.authentication_method == "MagicAuth", f"method {auth.authentication_method}")
    reused = expect(
        BadRequestError,
        lambda: um.authenticate_with_magic_auth(code=magic.code, email=address),
        "reused code",
    )
    check(reused.code == "one_time_code_previously_used", f"code {reused.code}")


def password_reset_and_email_change(workos):
    um = workos.user_management
    step("reset_password / get_password_reset / confirm_password_reset")
    user = new_user(workos, "reset")
    before = um.authenticate_with_password(email=user.email, password=PASSWORD)
    reset = um.reset_password(email=user.email)
    check(reset.password_reset_url.endswith(reset.password_reset_token), "reset URL")
    check(um.get_password_reset(reset.id).password_reset_token == reset.password_reset_token, "get")
    new_password = "an entirely new passphrase 9"
    done = um.confirm_password_reset(token=reset.password_reset_token, new_password=new_password)
    check(done.user.id == user.id, "confirm_password_reset")
    stale = expect(
        BadRequestError,
        lambda: um.authenticate_with_refresh_token(refresh_token=before.refresh_token),
        "sessions revoked by the reset",
    )
    check(stale.error == "invalid_grant", f"error {stale.error}")
    um.authenticate_with_password(email=user.email, password=new_password)

    step("send_email_change / confirm_email_change")
    change = um.send_email_change(user.id, new_email=email("changed"))
    check(change.new_email == email("changed") and change.user.id == user.id, f"{change!r}")
    # The code is only in the email; a wrong one is refused.
    wrong = expect(
        BadRequestError, lambda: um.confirm_email_change(user.id, code="000000"), "wrong code"
    )
    check(wrong.code == "email_change_code_incorrect", f"code {wrong.code}")


def invitations(workos, org):
    um = workos.user_management
    step("send_invitation / get_invitation / find_invitation_by_token / list_invitations")
    invited = email("invited")
    inv = um.send_invitation(email=invited, organization_id=org.id, role_slug="admin")
    check(inv.state == "pending" and inv.token and inv.accept_invitation_url, f"{inv!r}")
    check(um.get_invitation(inv.id).email == invited, "get_invitation")
    check(um.find_invitation_by_token(inv.token).id == inv.id, "find_invitation_by_token")
    listed = um.list_invitations(organization_id=org.id)
    check(inv.id in [i.id for i in listed.data], "list_invitations")

    step("resend_invitation / accept_invitation")
    check(um.resend_invitation(inv.id).id == inv.id, "resend_invitation")
    accepted = um.accept_invitation(inv.id)
    check(accepted.state == "accepted" and accepted.accepted_user_id, f"{accepted!r}")
    ms = workos.organization_membership.list_organization_memberships(
        user_id=accepted.accepted_user_id
    )
    check(ms.data[0].organization_id == org.id and ms.data[0].role.slug == "admin", "membership")

    step("revoke_invitation")
    other = um.send_invitation(email=email("revoked"))
    check(um.revoke_invitation(other.id).state == "revoked", "revoke_invitation")

    step("authenticate_with_password(invitation_token)")
    joiner = new_user(workos, "joiner")
    inv3 = um.send_invitation(email=joiner.email, organization_id=org.id)
    auth = um.authenticate_with_password(
        email=joiner.email, password=PASSWORD, invitation_token=inv3.token
    )
    check(auth.organization_id == org.id, "invitation accepted while signing in")


def settings_logout_and_device(workos, user):
    um = workos.user_management
    step("get_user_identities")
    check(list(um.get_user_identities(user.id)) == [], "no OAuth identities")

    step("update_jwt_template / list_jwt_template / claims in access tokens")
    content = '{"urn:keystead:email": {{user.email}}, "urn:keystead:org": "{{organization.name}}"}'
    um.update_jwt_template(content=content)
    check(um.list_jwt_template().content == content, "template read back")
    plain = new_user(workos, "templated")
    auth = um.authenticate_with_password(email=plain.email, password=PASSWORD)
    c = claims(workos, auth.access_token)
    check(c.get("urn:keystead:email") == plain.email, f"claims {c}")

    step("create_redirect_uri / list_redirect_uris / get_logout_url")
    target = f"https://app-{RUN}.example.com/signed-out"
    ruri = um.create_redirect_uri(uri=target)
    check(ruri.uri == target, f"{ruri!r}")
    check(target in [r.uri for r in um.list_redirect_uris(limit=100).data], "listed")
    sid = c["sid"]
    url = um.get_logout_url(session_id=sid, return_to=target)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        urllib.request.build_opener(NoRedirect).open(url)
        raise AssertionError("logout did not redirect")
    except urllib.error.HTTPError as e:
        check(e.code == 302 and e.headers["Location"] == target, f"logout {e.code}")
    statuses = {s.id: s.status for s in um.list_sessions(plain.id).data}
    check(statuses.get(sid) == "revoked", f"sessions {statuses}")
    um.delete_redirect_uris(ruri.id)

    step("create_cors_origin / list_cors_origins")
    origin = um.create_cors_origin(origin=f"https://spa-{RUN}.example.com")
    check(origin.origin == f"https://spa-{RUN}.example.com", f"{origin!r}")
    check(origin.id in [o.id for o in um.list_cors_origins(limit=100).data], "listed")

    step("create_device / authenticate_with_device_code polling")
    device = um.create_device(client_id=CLIENT_ID)
    check(len(device.user_code) == 9 and device.verification_uri.endswith("/device"), f"{device!r}")
    pending = expect(
        BadRequestError,
        lambda: um.authenticate_with_device_code(device_code=device.device_code),
        "nobody approved yet",
    )
    check(pending.error == "authorization_pending", f"error {pending.error}")
    slow = expect(
        BadRequestError,
        lambda: um.authenticate_with_device_code(device_code=device.device_code),
        "polled too fast",
    )
    check(slow.error == "slow_down", f"error {slow.error}")


def events(workos):
    step("events.list_events (User Management events)")
    names = [
        "organization_membership.created",
        "organization_membership.updated",
        "organization_membership.deleted",
        "invitation.created",
        "invitation.accepted",
        "invitation.resent",
        "invitation.revoked",
        "magic_auth.created",
        "email_verification.created",
        "password_reset.created",
        "password_reset.succeeded",
        "authentication.password_succeeded",
        "authentication.magic_auth_succeeded",
        "authentication.magic_auth_failed",
        "authentication.email_verification_succeeded",
        "authentication.mfa_succeeded",
        "session.created",
        "session.revoked",
        "user.updated",
    ]
    missing = [n for n in names if not event_ids(workos, n)]
    check(not missing, f"events missing: {missing}")


def main():
    workos = WorkOSClient(api_key=API_KEY, client_id=CLIENT_ID, base_url=BASE_URL)
    failures = []
    user, org = None, None

    def run(fn, *args):
        try:
            return fn(*args)
        except Exception:
            failures.append(STEP)
            traceback.print_exc()
            return None

    result = run(memberships_roles_and_organization_selection, workos)
    if result:
        user, org = result
    run(email_verification, workos)
    run(mfa, workos)
    run(magic_auth, workos)
    run(password_reset_and_email_change, workos)
    if org is not None:
        run(invitations, workos, org)
    if user is not None:
        run(settings_logout_and_device, workos, user)
    run(events, workos)
    if failures:
        print(f"[python-um] FAILED steps: {failures}", flush=True)
        return 1
    print("[python-um] all steps passed", flush=True)
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"[python-um] done in {time.monotonic() - started:.1f}s", flush=True)
    sys.exit(code)
