"""The official WorkOS Python SDK (`workos.feature_flags`) against Keystead's Feature Flags.

Run by `tests/api/feature_flags/clients.rs` with the newest locked SDK. Environment:
KEYSTEAD_BASE_URL, KEYSTEAD_API_KEY, KEYSTEAD_CLIENT_ID, KEYSTEAD_ORG_ID, KEYSTEAD_USER_ID (a
member of the organization). Lists and gets flags, enables and disables one, adds and removes
targets, lists an organization's and a user's flags, and checks the SDK's errors for an unknown
slug (404) and a resource id of the wrong kind (400). Prints `ok`; exits non-zero naming the failed
check.
"""

import os

from workos import WorkOSClient
from workos._errors import BadRequestError, NotFoundError

ORG = os.environ["KEYSTEAD_ORG_ID"]
USER = os.environ["KEYSTEAD_USER_ID"]

workos = WorkOSClient(
    api_key=os.environ["KEYSTEAD_API_KEY"],
    client_id=os.environ["KEYSTEAD_CLIENT_ID"],
    base_url=os.environ["KEYSTEAD_BASE_URL"],
)
ff = workos.feature_flags


def check(cond, what):
    if not cond:
        raise SystemExit(f"check failed: {what}")


def slugs(page):
    return sorted(f.slug for f in page.data)


page = ff.list_feature_flags(limit=2, order="asc")
check([f.slug for f in page.data] == ["beta", "org-wide"], f"first page: {page.data}")
check(page.list_metadata.after is not None, "a next page")
rest = ff.list_feature_flags(limit=2, order="asc", after=page.list_metadata.after)
check([f.slug for f in rest.data] == ["rollout"], f"second page: {rest.data}")

beta = ff.get_feature_flag("beta")
check(beta.slug == "beta" and beta.enabled is False and beta.owner is None, f"get: {beta}")
check(ff.enable_feature_flag("beta").enabled is True, "enable")

ff.add_flag_target(USER, "beta")
ff.add_flag_target(ORG, "org-wide")
check(slugs(ff.list_organization_feature_flags(ORG)) == ["org-wide", "rollout"], "org flags")
check(slugs(ff.list_user_feature_flags(USER)) == ["beta", "org-wide", "rollout"], "user flags")

ff.remove_flag_target(USER, "beta")
check(slugs(ff.list_user_feature_flags(USER)) == ["org-wide", "rollout"], "after removal")
check(ff.disable_feature_flag("beta").enabled is False, "disable")

try:
    ff.get_feature_flag("nope")
    check(False, "unknown slug")
except NotFoundError:
    pass
try:
    ff.add_flag_target("conn_01HZZZZZZZZZZZZZZZZZZZZZZZ", "beta")
    check(False, "a connection id is not a target")
except BadRequestError as e:
    check(e.code == "invalid_resource_id_format", f"400: {e}")
print("ok")
