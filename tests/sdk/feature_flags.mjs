// Drives Keystead's Feature Flags with the official Node SDK (`@workos-inc/node`): the management
// calls (`featureFlags.listFeatureFlags`, `getFeatureFlag`, `enableFeatureFlag`, `addFlagTarget`,
// `listOrganizationFeatureFlags`, `listUserFeatureFlags`) and the runtime client
// (`featureFlags.createRuntimeClient()`), which polls `GET /sdk/feature-flags`: evaluations after
// the first poll, a `change` event after a flag is disabled, and the poll's own ETag answered 304.
// The SDK's fetch is wrapped to see the responses (the SDK does not send If-None-Match itself).
// Prints `ok` at the end.
// Env: KEYSTEAD_BASE_URL, KEYSTEAD_API_KEY, KEYSTEAD_NODE_SDK_DIR, KEYSTEAD_ORG_ID,
// KEYSTEAD_USER_ID (a member of the organization), KEYSTEAD_OTHER_USER_ID (no membership).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const base = process.env.KEYSTEAD_BASE_URL;
const baseUrl = new URL(base);
const apiKey = process.env.KEYSTEAD_API_KEY;
const sdkDir = process.env.KEYSTEAD_NODE_SDK_DIR;
const orgId = process.env.KEYSTEAD_ORG_ID;
const userId = process.env.KEYSTEAD_USER_ID;
const otherUserId = process.env.KEYSTEAD_OTHER_USER_ID;

const polls = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const res = await realFetch(input, init);
  const url = typeof input === 'string' ? input : input.url ?? String(input);
  if (url.includes('/sdk/feature-flags')) {
    polls.push({ url, status: res.status, etag: res.headers.get('etag') });
  }
  return res;
};

const pkg = JSON.parse(readFileSync(join(sdkDir, 'package.json'), 'utf8'));
const entry = pkg.exports['.'].import;
const { WorkOS } = await import(pathToFileURL(join(sdkDir, typeof entry === 'string' ? entry : entry.default)).href);

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const workos = new WorkOS(apiKey, {
  apiHostname: baseUrl.hostname,
  port: Number(baseUrl.port),
  https: false,
});
const ff = workos.featureFlags;

const list = await ff.listFeatureFlags();
const slugs = list.data.map((f) => f.slug).sort();
check(JSON.stringify(slugs) === JSON.stringify(['beta', 'org-wide', 'rollout']), `list: ${slugs}`);
const beta = await ff.getFeatureFlag('beta');
check(beta.slug === 'beta' && beta.enabled === false && beta.defaultValue === false, 'getFeatureFlag');
const enabled = await ff.enableFeatureFlag('beta');
check(enabled.enabled === true, 'enableFeatureFlag');
await ff.addFlagTarget({ slug: 'beta', targetId: userId });
await ff.addFlagTarget({ slug: 'org-wide', targetId: orgId });
const forOrg = await ff.listOrganizationFeatureFlags({ organizationId: orgId });
check(forOrg.data.map((f) => f.slug).sort().join() === 'org-wide,rollout', `org flags: ${forOrg.data.map((f) => f.slug)}`);
const forUser = await ff.listUserFeatureFlags({ userId });
check(forUser.data.map((f) => f.slug).sort().join() === 'beta,org-wide,rollout', `user flags: ${forUser.data.map((f) => f.slug)}`);
let notFound = false;
try {
  await ff.getFeatureFlag('nope');
} catch (e) {
  notFound = e.status === 404;
}
check(notFound, 'getFeatureFlag of an unknown slug is a 404');

const client = ff.createRuntimeClient({ pollingIntervalMs: 5000 });
try {
  await client.waitUntilReady({ timeoutMs: 10000 });
  check(client.isEnabled('beta', { userId, organizationId: orgId }) === true, 'beta for the targeted user');
  check(client.isEnabled('beta', { userId: otherUserId }) === false, 'beta for another user');
  check(client.isEnabled('org-wide', { userId: otherUserId, organizationId: orgId }) === true, 'org-wide in the org');
  check(client.isEnabled('org-wide', { userId: otherUserId }) === false, 'org-wide outside it');
  check(client.isEnabled('rollout', {}) === true, 'rollout by default_value');
  check(client.isEnabled('missing', {}, true) === true, 'unknown flag: the caller default');
  const all = client.getAllFlags({ userId, organizationId: orgId });
  check(all.beta === true && all['org-wide'] === true && all.rollout === true, `getAllFlags: ${JSON.stringify(all)}`);

  const first = polls.find((p) => p.status === 200 && p.etag);
  check(first, `a 200 poll with an ETag: ${JSON.stringify(polls)}`);
  const conditional = await realFetch(first.url, {
    headers: { Authorization: `Bearer ${apiKey}`, 'If-None-Match': first.etag },
  });
  check(conditional.status === 304, `the poll's own ETag answers 304, got ${conditional.status}`);

  const changed = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no change event within 20 s')), 20000);
    client.on('change', (change) => {
      if (change.key === 'beta') {
        clearTimeout(timer);
        resolve(change);
      }
    });
  });
  await ff.disableFeatureFlag('beta');
  const change = await changed;
  check(change.current.enabled === false && change.previous.enabled === true, 'change event');
  check(client.isEnabled('beta', { userId }) === false, 'beta off after the next poll');
  const stats = client.getStats();
  check(stats.pollCount >= 2 && stats.pollErrorCount === 0, `stats: ${JSON.stringify(stats)}`);
} finally {
  client.close();
}
console.log('ok');
