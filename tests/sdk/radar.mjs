// Drives Keystead's Radar with the official Node SDK (`@workos-inc/node`, the node-newest lock):
// `radar.createAttempt` (allowed, then blocked by an email block list), `radar.updateAttempt`,
// `radar.addListEntry` (added, then already present) and `radar.removeListEntry`. Prints `ok`.
// Env: KEYSTEAD_BASE_URL, KEYSTEAD_API_KEY, KEYSTEAD_NODE_SDK_DIR.
import { check, workos } from './workos_client.mjs';

const UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:133.0) Gecko/20100101 Firefox/133.0';

const first = await workos.radar.createAttempt({
  ipAddress: '203.0.113.40', userAgent: UA, email: 'node@example.com',
  authMethod: 'Password', action: 'sign-in',
});
check(first.verdict === 'allow', `first: ${JSON.stringify(first)}`);
check(first.attemptId.startsWith('radar_att_'), `attemptId: ${first.attemptId}`);
await workos.radar.updateAttempt({ id: first.attemptId, attemptStatus: 'success' });

const added = await workos.radar.addListEntry({ type: 'email', action: 'block', entry: 'node@example.com' });
check(added.message === 'Entry added to list', `added: ${JSON.stringify(added)}`);
const again = await workos.radar.addListEntry({ type: 'email', action: 'block', entry: 'NODE@example.com' });
check(again.message === 'Entry already present in list', `again: ${JSON.stringify(again)}`);

const blocked = await workos.radar.createAttempt({
  ipAddress: '203.0.113.41', userAgent: UA, email: 'node@example.com',
  authMethod: 'Password', action: 'sign-in',
});
check(blocked.verdict === 'block' && blocked.control === 'restriction', `blocked: ${JSON.stringify(blocked)}`);
check(blocked.blocklistType === 'email', `blocklistType: ${JSON.stringify(blocked)}`);

await workos.radar.removeListEntry({ type: 'email', action: 'block', entry: 'node@example.com' });
let notFound = false;
try {
  await workos.radar.removeListEntry({ type: 'email', action: 'block', entry: 'node@example.com' });
} catch (e) {
  notFound = e.status === 404;
}
check(notFound, 'removing twice is a 404');
const after = await workos.radar.createAttempt({
  ipAddress: '203.0.113.42', userAgent: UA, email: 'node@example.com',
  authMethod: 'Password', action: 'sign-in',
});
check(after.verdict === 'allow', `after: ${JSON.stringify(after)}`);
console.log('ok');
