"""Sealed sessions with the official WorkOS Python SDK against a running Keystead.

Run by `tests/api/sdk.rs` with each pinned SDK version (10.7.0, and 10.8.0, whose session check
requires an integer `auth_time` claim). Environment: KEYSTEAD_BASE_URL, KEYSTEAD_API_KEY,
KEYSTEAD_CLIENT_ID. Flow: authenticate_with_password, seal the response, then
authenticate_with_session_cookie, load_sealed_session().authenticate(), refresh(),
authenticate the refreshed cookie, get_logout_url() and follow it. Exits non-zero at the first
failed step, naming it.
"""

import os
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
from importlib.metadata import version

import jwt
from cryptography.fernet import Fernet
from workos import WorkOSClient
from workos.session import seal_session_from_auth_response, unseal_data
from workos.user_management._resource import PasswordPlaintext

BASE_URL = os.environ["KEYSTEAD_BASE_URL"]
API_KEY = os.environ["KEYSTEAD_API_KEY"]
CLIENT_ID = os.environ["KEYSTEAD_CLIENT_ID"]
LABEL = f"python-sealed {version('workos')}"

STEP = "start"


def step(name):
    global STEP
    STEP = name
    print(f"[{LABEL}] {name}", flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def sealed_session(workos):
    email = f"sealed-{uuid.uuid4().hex[:8]}@example.com"
    password = "correct horse battery staple"
    cookie_password = Fernet.generate_key().decode()
    return_to = f"https://app-{uuid.uuid4().hex[:8]}.example.com/bye"

    step("user_management.create_redirect_uri (the logout target)")
    workos.user_management.create_redirect_uri(uri=return_to)

    step("user_management.create_user")
    user = workos.user_management.create_user(email=email, password=PasswordPlaintext(password=password))

    step("user_management.authenticate_with_password")
    auth = workos.user_management.authenticate_with_password(email=email, password=password)
    first = claims(auth.access_token)
    check(isinstance(first.get("auth_time"), int), f"auth_time {first.get('auth_time')!r}")
    check(first["auth_time"] <= first["iat"], f"auth_time {first['auth_time']} after iat {first['iat']}")

    step("seal_session_from_auth_response")
    sealed = seal_session_from_auth_response(
        access_token=auth.access_token,
        refresh_token=auth.refresh_token,
        user=auth.user.to_dict(),
        cookie_password=cookie_password,
    )

    step("user_management.authenticate_with_session_cookie")
    res = workos.user_management.authenticate_with_session_cookie(
        session_data=sealed, cookie_password=cookie_password
    )
    check(res.authenticated, f"authenticate_with_session_cookie: {getattr(res, 'reason', res)!r}")
    check(res.session_id == first["sid"], f"session id {res.session_id!r}")
    check(res.user["id"] == user.id, f"user {res.user!r}")

    step("load_sealed_session().authenticate")
    session = workos.user_management.load_sealed_session(session_data=sealed, cookie_password=cookie_password)
    res = session.authenticate()
    check(res.authenticated, f"session.authenticate: {getattr(res, 'reason', res)!r}")

    # The refreshed token is issued at least a second later, so an unchanged auth_time shows.
    time.sleep(1.1)
    step("session.refresh")
    refreshed = session.refresh()
    check(refreshed.authenticated, f"refresh: {getattr(refreshed, 'reason', refreshed)!r}")
    check(refreshed.session_id == first["sid"], f"refreshed session id {refreshed.session_id!r}")
    check(refreshed.sealed_session != sealed, "refresh sealed a new cookie")
    renewed = claims(unseal_data(refreshed.sealed_session, cookie_password)["access_token"])
    check(renewed["iat"] > first["iat"], f"a new token: iat {renewed['iat']} vs {first['iat']}")
    check(renewed.get("auth_time") == first["auth_time"], f"auth_time after refresh {renewed!r}")
    data = workos.user_management.load_sealed_session(
        session_data=refreshed.sealed_session, cookie_password=cookie_password
    )
    step("authenticate the refreshed cookie")
    res = data.authenticate()
    check(res.authenticated, f"refreshed cookie: {getattr(res, 'reason', res)!r}")

    step("get_logout_url")
    url = data.get_logout_url(return_to=return_to)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    check(url.startswith(f"{BASE_URL}/user_management/sessions/logout?"), f"logout url {url!r}")
    check(query.get("session_id") == [first["sid"]], f"logout session_id {query!r}")

    step("follow the logout URL")
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(url)
        raise AssertionError("logout did not redirect")
    except urllib.error.HTTPError as e:
        check(e.code == 302, f"logout answered {e.code}")
        check(e.headers["Location"] == return_to, f"logout to {e.headers['Location']!r}")

    step("the logged-out cookie no longer refreshes")
    after = workos.user_management.load_sealed_session(
        session_data=refreshed.sealed_session, cookie_password=cookie_password
    ).refresh()
    check(not after.authenticated, "a revoked session refreshed")


def main():
    workos = WorkOSClient(api_key=API_KEY, client_id=CLIENT_ID, base_url=BASE_URL)
    try:
        sealed_session(workos)
    except Exception:
        traceback.print_exc()
        print(f"[{LABEL}] FAILED at: {STEP}", flush=True)
        return 1
    print(f"[{LABEL}] all steps passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
