"""The official WorkOS Python SDK (`workos.api_keys`, `user_management` user keys) against
Keystead's API Keys.

Run by `tests/api/api_keys/clients.rs` with the newest locked SDK. Environment:
KEYSTEAD_BASE_URL, KEYSTEAD_API_KEY, KEYSTEAD_CLIENT_ID, KEYSTEAD_ORG_ID, KEYSTEAD_USER_ID (an
active member of the organization). Creates an organization key with an expiry and a user key,
lists both, validates them, schedules and clears an expiry, expires a key now
(`create_api_key_expire`), deletes one, and checks the SDK's errors (404, 409). Prints `ok`;
exits non-zero naming the failed check.
"""

import os

from workos import WorkOSClient
from workos._errors import ConflictError, NotFoundError

ORG = os.environ["KEYSTEAD_ORG_ID"]
USER = os.environ["KEYSTEAD_USER_ID"]

workos = WorkOSClient(
    api_key=os.environ["KEYSTEAD_API_KEY"],
    client_id=os.environ["KEYSTEAD_CLIENT_ID"],
    base_url=os.environ["KEYSTEAD_BASE_URL"],
)
keys = workos.api_keys


def check(cond, what):
    if not cond:
        raise SystemExit(f"check failed: {what}")


created = keys.create_organization_api_key(
    ORG, name="Reporting", permissions=["reports:read"], expires_at="2999-01-01T00:00:00Z"
)
check(created.value.startswith("sk_"), "value")
check(created.owner.id == ORG, f"owner {created.owner}")
check(created.expires_at is not None and created.expires_at.year == 2999, "expiry")
page = keys.list_organization_api_keys(ORG)
check([k.id for k in page.data] == [created.id], f"organization list {page.data}")

user_key = workos.user_management.create_user_api_key(USER, name="CLI", organization_id=ORG)
check(user_key.owner.id == USER and user_key.owner.organization_id == ORG, f"{user_key.owner}")
mine = workos.user_management.list_user_api_keys(USER, organization_id=ORG)
check([k.id for k in mine.data] == [user_key.id], "user list")

valid = keys.create_validation(value=created.value)
check(valid.api_key is not None and valid.api_key.id == created.id, "validates")
check(valid.api_key.last_used_at is not None, "use recorded")
check(keys.create_validation(value="sk_unknown").api_key is None, "unknown value")
check(keys.create_validation(value=user_key.value).api_key.id == user_key.id, "user key")

cleared = keys.create_api_key_expire(created.id, expires_at=None)
check(cleared.expires_at is None, "expiry cleared")
expired = keys.create_api_key_expire(created.id)
check(expired.expires_at is not None, "expired now")
check(keys.create_validation(value=created.value).api_key is None, "expired key")
try:
    keys.create_api_key_expire(created.id)
    check(False, "expiring twice")
except ConflictError:
    pass

keys.delete_api_key(user_key.id)
check(keys.create_validation(value=user_key.value).api_key is None, "deleted key")
try:
    keys.delete_api_key(user_key.id)
    check(False, "deleting twice")
except NotFoundError:
    pass

print("ok")
