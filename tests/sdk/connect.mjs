// Drives Keystead's Connect applications with the official Node SDK (`@workos-inc/node`,
// `workos.connect`): an OAuth application (`createApplication`, third-party for the
// organization) and an M2M one (`createM2MApplication`), `getApplication` by id and by client
// id, `listApplications` filtered by organization, `updateApplication`, client secrets
// (`createApplicationClientSecret`, `listApplicationClientSecrets`, `deleteClientSecret`) and
// `deleteApplication`. Prints `ok` at the end.
// Env: KEYSTEAD_BASE_URL, KEYSTEAD_API_KEY, KEYSTEAD_NODE_SDK_DIR, KEYSTEAD_ORG_ID.
import { workos, check } from './workos_client.mjs';

const orgId = process.env.KEYSTEAD_ORG_ID;
const connect = workos.connect;

const oauth = await connect.createApplication({
  name: 'Partner dashboard',
  applicationType: 'oauth',
  isFirstParty: false,
  organizationId: orgId,
  scopes: ['openid', 'profile', 'email'],
  redirectUris: [{ uri: 'https://partner.example.com/callback' }],
});
check(oauth.object === 'connect_application' && oauth.id.startsWith('conn_app_'), 'oauth id');
check(oauth.applicationType === 'oauth' && oauth.clientId.startsWith('client_'), 'oauth client id');
check(oauth.isFirstParty === false && oauth.organizationId === orgId, 'third party of the organization');
check(oauth.wasDynamicallyRegistered === false && oauth.usesPkce === true, 'defaults');
check(oauth.redirectUris.length === 1 && oauth.redirectUris[0].default === true, 'default redirect URI');

const m2m = await connect.createM2MApplication('Billing sync', orgId, 'Nightly job', ['billing:read']);
check(m2m.applicationType === 'm2m' && m2m.organizationId === orgId, 'm2m');
check(m2m.description === 'Nightly job' && m2m.scopes.join() === 'billing:read', 'm2m fields');

const byId = await connect.getApplication({ id: oauth.id });
const byClientId = await connect.getApplication({ id: oauth.clientId });
check(byId.id === oauth.id && byClientId.id === oauth.id, 'get by id and by client id');

const listed = await connect.listApplications({ organizationId: orgId });
check(listed.data.map((a) => a.id).sort().join() === [oauth.id, m2m.id].sort().join(), 'list');

const updated = await connect.updateApplication({
  id: oauth.clientId,
  name: 'Partner portal',
  redirectUris: [
    { uri: 'https://partner.example.com/callback' },
    { uri: 'https://partner.example.com/v2/callback', default: true },
  ],
});
check(updated.name === 'Partner portal', 'renamed');
check(updated.scopes.join() === 'openid,profile,email', 'scopes kept when not given');
check(updated.redirectUris.find((r) => r.default).uri.endsWith('/v2/callback'), 'new default');

const secret = await connect.createApplicationClientSecret({ id: m2m.id });
check(secret.object === 'connect_application_secret' && secret.id.startsWith('secret_'), 'secret id');
check(secret.secret.length >= 32 && secret.secretHint === secret.secret.slice(-4), 'secret and hint');
const secrets = await connect.listApplicationClientSecrets({ id: m2m.clientId });
check(Array.isArray(secrets) && secrets.length === 1 && secrets[0].id === secret.id, 'secret list');
check(secrets[0].secret === undefined && secrets[0].lastUsedAt === null, 'list hides the value');
await connect.deleteClientSecret({ id: secret.id });
check((await connect.listApplicationClientSecrets({ id: m2m.id })).length === 0, 'secret deleted');

await connect.deleteApplication({ id: oauth.id });
let notFound = false;
try {
  await connect.getApplication({ id: oauth.id });
} catch (e) {
  notFound = e.status === 404;
}
check(notFound, 'deleted application is a 404');

console.log('ok');
