// Evaluates Keystead's flags through OpenFeature (`@openfeature/server-sdk`) with the OFREP
// provider (`@openfeature/ofrep-provider`), both from tests/sdk/locks/openfeature: a flag on for
// the targeted user (TARGETING_MATCH), the same flag for someone else (DEFAULT), an
// organization target, and an unknown flag (the caller's default, FLAG_NOT_FOUND). Prints `ok`.
// Env: KEYSTEAD_BASE_URL, KEYSTEAD_API_KEY, KEYSTEAD_NODE_MODULES, KEYSTEAD_ORG_ID,
// KEYSTEAD_USER_ID.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.KEYSTEAD_NODE_MODULES;
const load = (name, file) => import(pathToFileURL(join(modules, name, file)).href);
const { OpenFeature } = await load('@openfeature/server-sdk', 'dist/esm/index.js');
const { OFREPProvider } = await load('@openfeature/ofrep-provider', 'index.esm.js');

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const userId = process.env.KEYSTEAD_USER_ID;
const orgId = process.env.KEYSTEAD_ORG_ID;
await OpenFeature.setProviderAndWait(
  new OFREPProvider({
    baseUrl: process.env.KEYSTEAD_BASE_URL,
    headers: [['Authorization', `Bearer ${process.env.KEYSTEAD_API_KEY}`]],
  }),
);
const client = OpenFeature.getClient();

const hit = await client.getBooleanDetails('beta', false, { targetingKey: userId });
check(hit.value === true && hit.reason === 'TARGETING_MATCH' && hit.variant === 'on', `beta for the user: ${JSON.stringify(hit)}`);
const miss = await client.getBooleanDetails('beta', true, { targetingKey: 'user_01HZZZZZZZZZZZZZZZZZZZZZZZ' });
check(miss.value === false && miss.reason === 'DEFAULT', `beta for someone else: ${JSON.stringify(miss)}`);
const org = await client.getBooleanValue('org-wide', false, { targetingKey: 'x', organizationId: orgId });
check(org === true, 'org-wide through organizationId');
const unknown = await client.getBooleanDetails('missing', true, { targetingKey: userId });
check(unknown.value === true && unknown.errorCode === 'FLAG_NOT_FOUND', `unknown flag: ${JSON.stringify(unknown)}`);
await OpenFeature.close();
console.log('ok');
