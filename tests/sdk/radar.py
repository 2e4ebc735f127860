"""Drives Keystead's Radar with the official Python SDK (`workos`, the python-newest lock):
`radar.create_attempt` (allowed, then blocked by an IP block list), `radar.update_attempt`,
`radar.add_list_entry` (added, then already present) and `radar.remove_list_entry` (removed,
then 404). Prints `ok` at the end.

Usage: radar.py BASE_URL API_KEY CLIENT_ID
"""

import sys

from workos import NotFoundError, WorkOSClient

BASE_URL, API_KEY, CLIENT_ID = sys.argv[1:4]
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def check(cond, what):
    if not cond:
        raise SystemExit(f"check failed: {what}")


def value(v):
    return getattr(v, "value", v)


workos = WorkOSClient(api_key=API_KEY, client_id=CLIENT_ID, base_url=BASE_URL)
radar = workos.radar

first = radar.create_attempt(
    ip_address="198.51.100.20", user_agent=UA, email="py@example.com",
    auth_method="Password", action="sign-in",
)
check(value(first.verdict) == "allow", f"first: {first}")
check(first.attempt_id.startswith("radar_att_"), f"attempt id: {first.attempt_id}")
check(first.control is None and first.blocklist_type is None, f"allow has no control: {first}")
radar.update_attempt(first.attempt_id, attempt_status="success")
radar.update_attempt(first.attempt_id, challenge_status="success")
try:
    radar.update_attempt("radar_att_01AAAAAAAAAAAAAAAAAAAAAAAA", attempt_status="success")
    raise SystemExit("an unknown attempt was updated")
except NotFoundError:
    pass

added = radar.add_list_entry("ip_address", "block", entry="198.51.100.0/24")
check(added is None or value(getattr(added, "message", "")) != "", f"added: {added}")
again = radar.add_list_entry("ip_address", "block", entry="198.51.100.0/24")
check(again.message == "Entry already present in list", f"again: {again}")

blocked = radar.create_attempt(
    ip_address="198.51.100.21", user_agent=UA, email="py@example.com",
    auth_method="Password", action="sign-up",
)
check(value(blocked.verdict) == "block", f"blocked: {blocked}")
check(value(blocked.control) == "restriction", f"control: {blocked}")
check(value(blocked.blocklist_type) == "ip_address", f"blocklist_type: {blocked}")

radar.remove_list_entry("ip_address", "block", entry="198.51.100.0/24")
try:
    radar.remove_list_entry("ip_address", "block", entry="198.51.100.0/24")
    raise SystemExit("a removed entry was removed again")
except NotFoundError:
    pass
after = radar.create_attempt(
    ip_address="198.51.100.22", user_agent=UA, email="py2@example.com",
    auth_method="Password", action="sign-up",
)
check(value(after.verdict) == "allow", f"after removal: {after}")
print("ok")
