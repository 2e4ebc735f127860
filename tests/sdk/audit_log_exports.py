"""Drives Keystead's Audit Log exports with the official Python SDK (`workos`).

Run by `tests/api/audit_log_exports.rs` with the `python-newest` lock. Steps, all through the
SDK: `audit_logs.create_schema`, two `audit_logs.create_event` calls (two actors),
`audit_logs.create_export` filtered by `actor_names` (and one with a reversed range, a 400),
`audit_logs.get_export` until the export is `ready` (the server's worker runs it), then the
export's `url` is downloaded without the API key and parsed with the `csv` module; an unknown
export id is a 404. Prints `ok` at the end. Environment: KEYSTEAD_BASE_URL, KEYSTEAD_API_KEY,
KEYSTEAD_CLIENT_ID, KEYSTEAD_ORG_ID.
"""

import csv
import io
import os
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone

from workos import BadRequestError, NotFoundError, WorkOSClient
from workos.audit_logs.models import (
    AuditLogEvent,
    AuditLogEventActor,
    AuditLogEventContext,
    AuditLogEventTarget,
    AuditLogSchemaTargetInput,
)

ORG = os.environ["KEYSTEAD_ORG_ID"]


def check(cond, what):
    if not cond:
        print(f"check failed: {what}", file=sys.stderr)
        sys.exit(1)


workos = WorkOSClient(
    api_key=os.environ["KEYSTEAD_API_KEY"],
    client_id=os.environ["KEYSTEAD_CLIENT_ID"],
    base_url=os.environ["KEYSTEAD_BASE_URL"],
)

schema = workos.audit_logs.create_schema(
    action_name="invoice.paid", targets=[AuditLogSchemaTargetInput(type="invoice")]
)
check(schema.version == 1, f"schema: {schema}")

now = datetime.now(timezone.utc)
for actor, amount in [("Ann", 10), ("Bob", 20)]:
    workos.audit_logs.create_event(
        organization_id=ORG,
        event=AuditLogEvent(
            action="invoice.paid",
            occurred_at=now - timedelta(minutes=amount),
            actor=AuditLogEventActor(id=f"user_{actor.lower()}", type="user", name=actor),
            targets=[AuditLogEventTarget(id=f"inv_{amount}", type="invoice", name="Invoice")],
            context=AuditLogEventContext(location="198.51.100.4", user_agent="python-sdk"),
            metadata={"amount": amount},
        ),
    )

export = workos.audit_logs.create_export(
    organization_id=ORG,
    range_start=now - timedelta(days=1),
    range_end=now + timedelta(minutes=1),
    actor_names=["Bob"],
)
check(export.object == "audit_log_export", f"created: {export}")
check(export.id.startswith("audit_log_export_"), f"id: {export.id}")
check(export.state == "pending" and export.url is None, f"pending: {export}")

deadline = time.monotonic() + 20
while export.state == "pending" and time.monotonic() < deadline:
    time.sleep(0.1)
    export = workos.audit_logs.get_export(export.id)
check(export.state == "ready", f"ready: {export}")
check(export.url and export.url.startswith(os.environ["KEYSTEAD_BASE_URL"]), f"url: {export.url}")

# The URL is the credential: no API key.
with urllib.request.urlopen(export.url) as res:
    check(res.status == 200, f"download status {res.status}")
    check(res.headers["Content-Type"].startswith("text/csv"), res.headers["Content-Type"])
    rows = list(csv.DictReader(io.StringIO(res.read().decode("utf-8"))))
check(len(rows) == 1, f"rows: {rows}")
row = rows[0]
check(row["action"] == "invoice.paid", row)
check(row["actor_id"] == "user_bob" and row["actor_name"] == "Bob", row)
check(row["context_user_agent"] == "python-sdk", row)
check(row["metadata"] == '{"amount":20}', row)
check(row["target_id_1"] == "inv_20" and row["target_type_1"] == "invoice", row)

try:
    workos.audit_logs.create_export(
        organization_id=ORG, range_start=now, range_end=now - timedelta(days=1)
    )
    check(False, "a reversed range was accepted")
except BadRequestError as e:
    check(e.status_code == 400, f"reversed range: {e}")

try:
    workos.audit_logs.get_export("audit_log_export_01AAAAAAAAAAAAAAAAAAAAAAAA")
    check(False, "an unknown export was found")
except NotFoundError:
    pass

print("ok")
