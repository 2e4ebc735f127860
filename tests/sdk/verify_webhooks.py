"""Verifies recorded webhook deliveries with the official Python SDK (`workos`).

argv[1]: a JSON file of [{"body": raw body, "signature": WorkOS-Signature header, "secret": …}].
Prints one verified event id per line; exits non-zero on the first failure.
"""
import json
import sys

from workos import WorkOSClient

client = WorkOSClient(api_key="sk_test_sdkverification", client_id="client_sdkverification")
for case in json.load(open(sys.argv[1])):
    event = client.webhooks.verify_event(
        event_body=case["body"].encode("utf-8"),
        event_signature=case["signature"],
        secret=case["secret"],
    )
    print(f"{event.id} {event.event}")
    try:
        client.webhooks.verify_event(
            event_body=case["body"], event_signature=case["signature"], secret=case["secret"] + "x"
        )
    except ValueError:
        pass
    else:
        sys.exit("a wrong secret verified")
