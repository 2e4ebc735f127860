"""The official WorkOS Python SDK (`workos.connect`) against Keystead's Connect applications, and
an M2M access token verified with PyJWT against the environment's JWKS.

Run by `tests/api/connect.rs` with the newest locked SDK. Environment: KEYSTEAD_BASE_URL,
KEYSTEAD_API_KEY, KEYSTEAD_CLIENT_ID, KEYSTEAD_ORG_ID. Creates an OAuth and an M2M application,
reads one by client id, lists and updates, creates and lists a client secret, gets a token with
the client-credentials grant (`client_secret_basic`, plain urllib) and verifies it with PyJWT's
`PyJWKClient` on `/sso/jwks/{client id}`, then deletes the application and checks the SDK's 404.
Prints `ok`; exits non-zero naming the failed check.
"""

import base64
import json
import os
import urllib.parse
import urllib.request

import jwt
from workos import WorkOSClient
from workos._errors import NotFoundError

BASE = os.environ["KEYSTEAD_BASE_URL"]
ORG = os.environ["KEYSTEAD_ORG_ID"]
ENV_CLIENT_ID = os.environ["KEYSTEAD_CLIENT_ID"]

workos = WorkOSClient(
    api_key=os.environ["KEYSTEAD_API_KEY"], client_id=ENV_CLIENT_ID, base_url=BASE
)
connect = workos.connect


def check(cond, what):
    if not cond:
        raise SystemExit(f"check failed: {what}")


oauth = connect.create_oauth_application(
    name="Partner", is_first_party=False, organization_id=ORG,
    redirect_uris=[{"uri": "https://partner.example.com/cb"}], scopes=["openid"],
)
check(oauth.application_type == "oauth" and oauth.organization_id == ORG, f"{oauth}")
check(oauth.redirect_uris[0].default is True and oauth.uses_pkce is True, "oauth defaults")
m2m = connect.create_m2m_application(name="Sync", organization_id=ORG, scopes=["billing:read"])
check(m2m.application_type == "m2m" and m2m.client_id.startswith("client_"), f"{m2m}")
check(connect.get_application(m2m.client_id).id == m2m.id, "get by client id")
page = connect.list_applications(organization_id=ORG)
check(sorted(a.id for a in page.data) == sorted([oauth.id, m2m.id]), "list")
renamed = connect.update_application(m2m.id, name="Billing sync")
check(renamed.name == "Billing sync" and renamed.scopes == ["billing:read"], "update")

secret = connect.create_application_client_secret(m2m.id)
check(secret.secret_hint == secret.secret[-4:], "hint")
listed = connect.list_application_client_secrets(m2m.id)
check([s.id for s in listed] == [secret.id], f"secrets {listed}")

basic = base64.b64encode(f"{m2m.client_id}:{secret.secret}".encode()).decode()
req = urllib.request.Request(
    f"{BASE}/oauth2/token",
    data=urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
    headers={"Authorization": f"Basic {basic}"},
)
with urllib.request.urlopen(req) as res:
    answer = json.load(res)
check(answer["token_type"] == "Bearer" and answer["scope"] == "billing:read", f"{answer}")
token = answer["access_token"]
signing_key = jwt.PyJWKClient(f"{BASE}/sso/jwks/{ENV_CLIENT_ID}").get_signing_key_from_jwt(token)
claims = jwt.decode(
    token, signing_key.key, algorithms=["RS256"], audience=ENV_CLIENT_ID,
    issuer="http://keystead.test",
)
check(claims["sub"] == m2m.client_id and claims["org_id"] == ORG, f"{claims}")
check(claims["scope"] == "billing:read", "scope claim")

connect.delete_application(m2m.id)
try:
    connect.get_application(m2m.id)
    check(False, "a deleted application")
except NotFoundError:
    pass

print("ok")
