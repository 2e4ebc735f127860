"""Drives Keystead with the official WorkOS Python SDK (pinned in tests/api/idp.rs).

usage: workos_sso.py BASE_URL API_KEY CLIENT_ID authorize CONNECTION_ID
       workos_sso.py BASE_URL API_KEY CLIENT_ID exchange CODE ORGANIZATION_ID CONNECTION_ID
Prints a URL (authorize) or one JSON object (exchange).
"""
import json
import sys

from workos import WorkOSClient

base, api_key, client_id, command = sys.argv[1:5]
client = WorkOSClient(api_key=api_key, client_id=client_id, base_url=base)

if command == "authorize":
    print(
        client.sso.get_authorization_url(
            redirect_uri="https://app.test/callback",
            state="py-state",
            connection=sys.argv[5],
        )
    )
elif command == "exchange":
    code, organization_id, connection_id = sys.argv[5:8]
    token = client.sso.get_profile_and_token(code=code)
    profile = client.sso.get_profile(access_token=token.access_token)
    page = client.sso.list_connections(organization_id=organization_id)
    connection = client.sso.get_connection(connection_id)
    client.sso.delete_connection(connection_id)
    after = client.sso.list_connections(organization_id=organization_id)
    print(
        json.dumps(
            {
                "token_type": token.token_type,
                "expires_in": token.expires_in,
                "email": token.profile.email,
                "first_name": token.profile.first_name,
                "connection_type": str(getattr(token.profile.connection_type, "value", token.profile.connection_type)),
                "profile_id": profile.id,
                "token_profile_id": token.profile.id,
                "listed": [c.id for c in page.data],
                "fetched": connection.id,
                "fetched_state": str(getattr(connection.state, "value", connection.state)),
                "domains": [d.domain for d in connection.domains],
                "after_delete": [c.id for c in after.data],
            }
        )
    )
else:
    sys.exit(f"unknown command {command}")
