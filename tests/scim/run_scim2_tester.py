"""scim2-tester against one Keystead directory: every check must pass, or be listed in
NOT_APPLICABLE with the reason it does not apply to a Directory Sync SCIM server."""
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

# title substring -> why the check does not apply (printed with the results).
NOT_APPLICABLE: dict[str, str] = {}

url, token = sys.argv[1], sys.argv[2]
client = Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
results = check_server(SyncSCIMClient(client))
failures = []
counts: dict[str, int] = {}
for r in results:
    counts[r.status.name] = counts.get(r.status.name, 0) + 1
    waived = next((why for t, why in NOT_APPLICABLE.items() if r.title and t in r.title), None)
    line = f"{r.status.name:10} {r.resource_type or '-':6} {r.title}: {r.reason or ''}"
    if r.status in (Status.ERROR, Status.CRITICAL):
        if waived:
            line += f"  [not applicable: {waived}]"
        else:
            failures.append(r)
    print(line)
print("summary:", ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
print(f"{len(results) - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
