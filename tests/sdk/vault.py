"""The official WorkOS Python SDK (`workos.vault`) against Keystead's Vault.

Run by `tests/api/vault/sdk.rs` with the newest locked SDK. Environment: KEYSTEAD_BASE_URL,
KEYSTEAD_API_KEY, KEYSTEAD_CLIENT_ID, and KEYSTEAD_NODE_CIPHERTEXT (a value the Node SDK's
`encrypt` produced with associated data `node-aad`). Creates, reads (by id and by name),
describes, updates (with a stale and a current `version_check`), lists (with paging) and deletes
objects; creates, decrypts and rekeys data keys; round-trips the SDK's local
`encrypt`/`decrypt`, and decrypts the Node SDK's ciphertext. Prints `ok`; exits non-zero naming
the failed check.
"""

import base64
import os

from workos import WorkOSClient
from workos._errors import ConflictError, NotFoundError, UnprocessableEntityError

workos = WorkOSClient(
    api_key=os.environ["KEYSTEAD_API_KEY"],
    client_id=os.environ["KEYSTEAD_CLIENT_ID"],
    base_url=os.environ["KEYSTEAD_BASE_URL"],
)
vault = workos.vault
CONTEXT = {"organization_id": "org_01PYTHON"}


def check(cond, what):
    if not cond:
        raise SystemExit(f"check failed: {what}")


def raises(error, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except error:
        return True
    return False


meta = vault.create_kv(key_context=CONTEXT, name="py-secret", value="s3cr3t")
check(meta.id.startswith("secret_") and meta.context == CONTEXT, f"create_kv: {meta}")
check(meta.version_id.startswith("secret_version_"), f"version_id: {meta}")
check(meta.updated_by.id.startswith("key_"), f"updated_by: {meta}")

obj = vault.get_kv(meta.id)
check(obj.value == "s3cr3t" and obj.name == "py-secret", f"get_kv: {obj}")
check(obj.metadata.key_id == meta.key_id, "key_id")
check(vault.get_name("py-secret").id == meta.id, "get_name")
described = vault.list_kv_metadata(meta.id)
check(described.metadata.version_id == meta.version_id, f"list_kv_metadata: {described}")

check(
    raises(ConflictError, vault.update_kv, meta.id, value="x", version_check="secret_version_0"),
    "a stale version_check is a ConflictError",
)
updated = vault.update_kv(meta.id, value="n3w", version_check=meta.version_id)
check(updated.metadata.version_id != meta.version_id, f"update_kv: {updated}")
check(vault.get_kv(meta.id).value == "n3w", "updated value")

versions = vault.list_kv_versions(meta.id)
check(len(versions.data) == 2, f"versions: {versions}")
check(versions.data[0].current_version and versions.data[0].size == 3, f"current: {versions}")
check(versions.list_metadata.after is None, "one page of versions")

for i in range(2):
    vault.create_kv(key_context={}, name=f"py-extra-{i}", value=str(i))
page = vault.list_kv(limit=2, order="asc", search="py-")
check([o.name for o in page.data] == ["py-secret", "py-extra-0"], f"list_kv: {page.data}")
check(page.list_metadata.after is not None, "a next page")
everything = [o.name for o in vault.list_kv(limit=2, order="asc", search="py-").auto_paging_iter()]
check(everything == ["py-secret", "py-extra-0", "py-extra-1"], f"auto_paging_iter: {everything}")
check(len(vault.list_kv(search="py-extra").data) == 2, "search")
check(len(vault.list_kv(updated_after="2999-01-01T00:00:00Z").data) == 0, "updated_after")

vault.delete_kv(meta.id, version_check=updated.metadata.version_id)
check(raises(NotFoundError, vault.get_kv, meta.id), "deleted")

pair = vault.create_data_key(context=CONTEXT)
check(len(base64.b64decode(pair.data_key)) == 32 and pair.context == CONTEXT, f"create_data_key: {pair}")
dec = vault.create_decrypt(keys=pair.encrypted_keys)
check(dec.data_key == pair.data_key and dec.id == pair.id, f"create_decrypt: {dec}")
rekeyed = vault.create_rekey(context={"organization_id": "org_02PYTHON"}, encrypted_keys=pair.encrypted_keys)
check(rekeyed.data_key == pair.data_key and rekeyed.id == pair.id, f"create_rekey: {rekeyed}")
check(
    raises(UnprocessableEntityError, vault.create_data_key, context={"organization_id": 5}),
    "a non-string context is a 422",
)

local = vault.encrypt(data="python secret ✓", key_context=CONTEXT)
check(vault.decrypt(encrypted_data=local) == "python secret ✓", "encrypt/decrypt round trip")
bound = vault.encrypt(data="bound", key_context=CONTEXT, associated_data="py-aad")
check(vault.decrypt(encrypted_data=bound, associated_data="py-aad") == "bound", "with associated data")
check(raises(Exception, vault.decrypt, encrypted_data=bound, associated_data="nope"), "wrong aad fails")

node = os.environ["KEYSTEAD_NODE_CIPHERTEXT"]
check(
    vault.decrypt(encrypted_data=node, associated_data="node-aad") == "bound value",
    "the Node SDK's ciphertext decrypts in Python",
)
print("ok")
