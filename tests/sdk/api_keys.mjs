// Drives Keystead's API Keys with the official Node SDK (`@workos-inc/node`): an organization key
// (`apiKeys.createOrganizationApiKey`, `listOrganizationApiKeys`), a user key
// (`userManagement.createUserApiKey`, `listUserApiKeys`), validations (`apiKeys.createValidation`)
// of both, of an unknown value and of the environment key itself, and `apiKeys.deleteApiKey`,
// after which the key no longer validates. Prints `ok` at the end.
// Env: KEYSTEAD_BASE_URL, KEYSTEAD_API_KEY, KEYSTEAD_NODE_SDK_DIR, KEYSTEAD_ORG_ID,
// KEYSTEAD_USER_ID (an active member of the organization).
import { workos, check } from './workos_client.mjs';

const orgId = process.env.KEYSTEAD_ORG_ID;
const userId = process.env.KEYSTEAD_USER_ID;

const created = await workos.apiKeys.createOrganizationApiKey({
  organizationId: orgId,
  name: 'Production',
  permissions: ['posts:read'],
});
check(created.object === 'api_key' && created.id.startsWith('api_key_'), 'created id');
check(created.value.startsWith('sk_'), 'created value');
check(created.obfuscatedValue === `sk_...${created.value.slice(-4)}`, 'obfuscated value');
check(created.owner.type === 'organization' && created.owner.id === orgId, 'organization owner');
check(created.lastUsedAt === null, 'never used');

const listed = await workos.apiKeys.listOrganizationApiKeys({ organizationId: orgId });
check(listed.data.length === 1 && listed.data[0].id === created.id, 'organization list');
check(listed.data[0].value === undefined, 'a list shows no value');

const userKey = await workos.userManagement.createUserApiKey(userId, {
  name: 'CLI',
  organizationId: orgId,
});
check(userKey.owner.type === 'user' && userKey.owner.id === userId, `user owner ${JSON.stringify(userKey.owner)}`);
check(userKey.owner.organizationId === orgId, 'user owner organization');
const userKeys = await workos.userManagement.listUserApiKeys(userId, { organizationId: orgId });
check(userKeys.data.length === 1 && userKeys.data[0].id === userKey.id, 'user list');

const valid = await workos.apiKeys.createValidation({ value: created.value });
check(valid.apiKey && valid.apiKey.id === created.id, 'organization key validates');
check(valid.apiKey.permissions.join() === 'posts:read', 'permissions');
check(valid.apiKey.lastUsedAt !== null, 'use recorded');
const validUser = await workos.apiKeys.createValidation({ value: userKey.value });
check(validUser.apiKey && validUser.apiKey.owner.type === 'user', 'user key validates');
check(validUser.apiKey.owner.organizationId === orgId, 'validated user owner organization');

const unknown = await workos.apiKeys.createValidation({ value: 'sk_nope' });
check(unknown.apiKey === null, 'unknown value');
const envKey = await workos.apiKeys.createValidation({ value: process.env.KEYSTEAD_API_KEY });
check(envKey.apiKey === null, 'the environment key is no API key');

await workos.apiKeys.deleteApiKey(created.id);
const gone = await workos.apiKeys.createValidation({ value: created.value });
check(gone.apiKey === null, 'deleted key');
let notFound = false;
try {
  await workos.apiKeys.deleteApiKey(created.id);
} catch (e) {
  notFound = e.status === 404;
}
check(notFound, 'deleting again is a 404');

console.log('ok');
