// Drives Keystead's Audit Log exports with the official Node SDK (`@workos-inc/node`):
// `auditLogs.createSchema`, three `auditLogs.createEvent` calls, `auditLogs.createExport` with
// `actions`, `actorIds` and `targets` filters (serialized by the SDK as `actions`, `actor_ids`,
// `targets`), `auditLogs.getExport` until the export is `ready` (the server's worker runs it),
// the `url` downloaded with `fetch` and no API key, and the error paths: a range over three
// months (400) and an unknown export (404). Prints `ok` at the end.
// Env: KEYSTEAD_BASE_URL, KEYSTEAD_API_KEY, KEYSTEAD_NODE_SDK_DIR, KEYSTEAD_ORG_ID.
import { check, workos } from './workos_client.mjs';

const orgId = process.env.KEYSTEAD_ORG_ID;

await workos.auditLogs.createSchema({ action: 'team.renamed', targets: [{ type: 'team' }, { type: 'user' }] });
await workos.auditLogs.createSchema({ action: 'team.deleted', targets: [{ type: 'team' }] });

const now = Date.now();
const event = (action, actorId, targets, minutesAgo) => ({
  action,
  occurredAt: new Date(now - minutesAgo * 60_000),
  actor: { id: actorId, type: 'user', name: `Name of ${actorId}` },
  targets,
  context: { location: '192.0.2.1', userAgent: 'node-sdk' },
});
await workos.auditLogs.createEvent(orgId, event('team.renamed', 'user_a', [{ id: 'team_1', type: 'team' }, { id: 'user_z', type: 'user', name: 'Zed' }], 3));
await workos.auditLogs.createEvent(orgId, event('team.renamed', 'user_b', [{ id: 'team_2', type: 'team' }], 2));
await workos.auditLogs.createEvent(orgId, event('team.deleted', 'user_a', [{ id: 'team_3', type: 'team' }], 1));

const created = await workos.auditLogs.createExport({
  organizationId: orgId,
  rangeStart: new Date(now - 3_600_000),
  rangeEnd: new Date(now + 60_000),
  actions: ['team.renamed'],
  actorIds: ['user_a'],
  targets: ['user'],
});
check(created.object === 'audit_log_export' && created.state === 'pending', `created: ${JSON.stringify(created)}`);
check(!created.url, 'no url while pending');
check(!Number.isNaN(new Date(created.createdAt).getTime()), 'createdAt');

let exp = created;
for (let i = 0; i < 200 && exp.state === 'pending'; i++) {
  await new Promise((r) => setTimeout(r, 100));
  exp = await workos.auditLogs.getExport(created.id);
}
check(exp.state === 'ready', `ready: ${JSON.stringify(exp)}`);
check(exp.url.startsWith(process.env.KEYSTEAD_BASE_URL), `url: ${exp.url}`);

const res = await fetch(exp.url);
check(res.status === 200, `download: ${res.status}`);
check(res.headers.get('content-type').startsWith('text/csv'), 'content type');
const lines = (await res.text()).trim().split(/\r?\n/);
check(lines.length === 2, `lines: ${JSON.stringify(lines)}`);
check(lines[0].startsWith('action,occurred_at,actor_id,actor_type,actor_name,actor_metadata,context_location,context_user_agent,metadata,target_id_1,target_type_1,target_name_1,target_metadata_1,target_id_2'), lines[0]);
check(lines[1].startsWith('team.renamed,') && lines[1].includes(',user_a,user,Name of user_a,,192.0.2.1,node-sdk,,team_1,team,,,user_z,user,Zed,'), lines[1]);

async function status(promise) {
  try {
    await promise;
    return 200;
  } catch (e) {
    return e.status;
  }
}
check(
  (await status(workos.auditLogs.createExport({ organizationId: orgId, rangeStart: new Date(now - 200 * 86_400_000), rangeEnd: new Date(now) }))) === 400,
  'a range over three months is 400',
);
check((await status(workos.auditLogs.getExport('audit_log_export_01AAAAAAAAAAAAAAAAAAAAAAAA'))) === 404, 'unknown export is 404');
console.log('ok');
