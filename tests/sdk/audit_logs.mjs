// Drives Keystead's Audit Logs with the official Node SDK (`@workos-inc/node`):
// `auditLogs.createSchema` twice (versions 1 and 2), `auditLogs.createEvent` against version 1
// (with an explicit idempotency key, sent twice), one event the schema refuses (400), and one
// for an unknown organization (404). Prints `ok` at the end.
// Env: KEYSTEAD_BASE_URL, KEYSTEAD_API_KEY, KEYSTEAD_NODE_SDK_DIR, KEYSTEAD_ORG_ID.
import { check, workos } from './workos_client.mjs';

const orgId = process.env.KEYSTEAD_ORG_ID;

const v1 = await workos.auditLogs.createSchema({
  action: 'document.updated',
  actor: { metadata: { role: 'string' } },
  targets: [{ type: 'document', metadata: { pages: 'number' } }],
  metadata: { reason: 'string' },
});
check(v1.object === 'audit_log_schema' && v1.version === 1, `v1: ${JSON.stringify(v1)}`);
check(v1.targets[0].type === 'document' && v1.targets[0].metadata.pages === 'number', 'v1 targets');
check(v1.actor.metadata.role === 'string' && v1.metadata.reason === 'string', 'v1 metadata');
check(!Number.isNaN(new Date(v1.createdAt).getTime()), 'v1 createdAt');

const v2 = await workos.auditLogs.createSchema({
  action: 'document.updated',
  targets: [{ type: 'invoice' }],
});
check(v2.version === 2, `v2: ${JSON.stringify(v2)}`);

const event = {
  action: 'document.updated',
  occurredAt: new Date(),
  actor: { id: 'user_1', type: 'user', name: 'Jon', metadata: { role: 'admin' } },
  targets: [{ id: 'doc_1', type: 'document', metadata: { pages: 3 } }],
  context: { location: '203.0.113.7', userAgent: 'node-sdk-test' },
  metadata: { reason: 'typo' },
};
// No version: checked against version 1, which declares `document` targets.
await workos.auditLogs.createEvent(orgId, event, { idempotencyKey: 'node-audit-1' });
await workos.auditLogs.createEvent(orgId, event, { idempotencyKey: 'node-audit-1' });

async function status(promise) {
  try {
    await promise;
    return 200;
  } catch (e) {
    return e.status;
  }
}
const wrongType = { ...event, targets: [{ id: 'doc_1', type: 'document', metadata: { pages: 'three' } }] };
check((await status(workos.auditLogs.createEvent(orgId, wrongType))) === 400, 'schema mismatch is 400');
check((await status(workos.auditLogs.createEvent(orgId, { ...event, version: 2 }))) === 400, 'v2 refuses document targets');
check((await status(workos.auditLogs.createEvent('org_01AAAAAAAAAAAAAAAAAAAAAAAA', event))) === 404, 'unknown org is 404');
console.log('ok');
