// Drives Keystead's Vault with the official Node SDK (`@workos-inc/node`, the node-newest lock):
// objects (createObject, readObject, readObjectByName, describeObject, updateObject with and
// without a stale versionCheck, listObjectVersions, listObjects with autoPagination and
// updatedAfter, deleteObject), data keys (createDataKey, decryptDataKey, createRekey) and the
// SDK's local encrypt/decrypt helpers (with and without associated data). Prints
// `ciphertext:<base64>` (a value encrypted with associated data `node-aad`, for the Python
// script and the Rust test to decrypt) and then `ok`.
// Env: KEYSTEAD_BASE_URL, KEYSTEAD_API_KEY, KEYSTEAD_NODE_SDK_DIR.
import { check, workos } from './workos_client.mjs';

const vault = workos.vault;
const context = { organization_id: 'org_01NODE' };

async function status(promise) {
  try {
    await promise;
    return 'ok';
  } catch (e) {
    return e.status;
  }
}

const meta = await vault.createObject({ name: 'node-secret', value: 's3cr3t', context });
check(meta.id.startsWith('secret_'), `createObject: ${JSON.stringify(meta)}`);
check(meta.context.organization_id === 'org_01NODE', `context: ${JSON.stringify(meta)}`);
check(meta.versionId.startsWith('secret_version_'), `versionId: ${meta.versionId}`);
check(meta.updatedAt instanceof Date && !isNaN(meta.updatedAt), `updatedAt: ${meta.updatedAt}`);
check(meta.updatedBy.id.startsWith('key_'), `updatedBy: ${JSON.stringify(meta.updatedBy)}`);

const read = await vault.readObject({ id: meta.id });
check(read.value === 's3cr3t' && read.name === 'node-secret', `readObject: ${JSON.stringify(read)}`);
check(read.metadata.keyId === meta.keyId, 'keyId');
const byName = await vault.readObjectByName('node-secret');
check(byName.id === meta.id && byName.value === 's3cr3t', `readObjectByName: ${JSON.stringify(byName)}`);
const described = await vault.describeObject({ id: meta.id });
check(described.value === undefined && described.metadata.versionId === meta.versionId,
  `describeObject: ${JSON.stringify(described)}`);

const updated = await vault.updateObject({ id: meta.id, value: 'n3w', versionCheck: meta.versionId });
check(updated.metadata.versionId !== meta.versionId, `updateObject: ${JSON.stringify(updated)}`);
check(await status(vault.updateObject({ id: meta.id, value: 'x', versionCheck: meta.versionId })) === 409,
  'a stale versionCheck is a 409');
const plain = await vault.updateObject({ id: meta.id, value: 'third' });
check((await vault.readObject({ id: meta.id })).value === 'third', 'update without versionCheck');

const versions = await vault.listObjectVersions({ id: meta.id });
check(versions.length === 3, `versions: ${JSON.stringify(versions)}`);
check(versions[0].currentVersion === true && versions[0].id === plain.metadata.versionId,
  `current version first: ${JSON.stringify(versions)}`);
check(versions[0].size === 5 && versions[0].etag.length > 0, `size/etag: ${JSON.stringify(versions[0])}`);

for (let i = 0; i < 3; i++) {
  await vault.createObject({ name: `node-extra-${i}`, value: `v${i}`, context: {} });
}
const firstPage = await vault.listObjects({ order: 'asc' });
check(firstPage.data.length === 4, `listObjects: ${JSON.stringify(firstPage.data)}`);
check(firstPage.data[0].name === 'node-secret', `asc order: ${JSON.stringify(firstPage.data)}`);
const all = await (await vault.listObjects()).autoPagination();
check(all.length === 4, `autoPagination: ${all.length}`);
const searched = await vault.listObjects({ search: 'extra' });
check(searched.data.length === 3, `search: ${JSON.stringify(searched.data)}`);
const future = await vault.listObjects({ updatedAfter: new Date(Date.now() + 3600_000) });
check(future.data.length === 0, `updatedAfter: ${JSON.stringify(future.data)}`);

check(await status(vault.deleteObject({ id: meta.id, versionCheck: meta.versionId })) === 409,
  'a stale versionCheck on delete is a 409');
await vault.deleteObject({ id: meta.id, versionCheck: plain.metadata.versionId });
check(await status(vault.readObject({ id: meta.id })) === 404, 'deleted');

const pair = await vault.createDataKey({ context });
check(pair.dataKey.key.length === 44 && pair.dataKey.id.length === 36, `createDataKey: ${JSON.stringify(pair)}`);
check(pair.context.organization_id === 'org_01NODE', 'pair context');
const decrypted = await vault.decryptDataKey({ keys: pair.encryptedKeys });
check(decrypted.key === pair.dataKey.key && decrypted.id === pair.dataKey.id,
  `decryptDataKey: ${JSON.stringify(decrypted)}`);
const rekeyed = await vault.createRekey({ context: { organization_id: 'org_02NODE' }, encryptedKeys: pair.encryptedKeys });
check(rekeyed.dataKey === pair.dataKey.key && rekeyed.id === pair.dataKey.id, `createRekey: ${JSON.stringify(rekeyed)}`);
check(rekeyed.context.organization_id === 'org_02NODE', 'rekeyed context');
check((await vault.decryptDataKey({ keys: rekeyed.encryptedKeys })).key === pair.dataKey.key, 'rekeyed decrypts');
check(await status(vault.createDataKey({ context: { organization_id: 5 } })) === 422, 'a non-string context is a 422');
check(await status(vault.decryptDataKey({ keys: 'bm90IGEga2V5' })) === 422, 'a malformed blob is a 422');

const local = await vault.encrypt('local secret ✓', context);
check((await vault.decrypt(local)) === 'local secret ✓', 'encrypt/decrypt round trip');
const withAad = await vault.encrypt('bound value', context, 'node-aad');
check((await vault.decrypt(withAad, 'node-aad')) === 'bound value', 'with associated data');
check(await status(vault.decrypt(withAad, 'other-aad')) !== 'ok', 'wrong associated data fails');

console.log(`ciphertext:${withAad}`);
console.log('ok');
