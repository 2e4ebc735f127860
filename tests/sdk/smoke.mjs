// Smoke test: the official WorkOS Node SDK against a running Keystead.
//
// Run by `tests/api/sdk.rs` with each pinned SDK version (`target/sdk/node`,
// `target/sdk-node-newest/node`). Environment:
// KEYSTEAD_BASE_URL, KEYSTEAD_API_KEY, KEYSTEAD_CLIENT_ID, and KEYSTEAD_NODE_SDK_DIR (the
// installed `@workos-inc/node` package directory). Every call goes through the SDK. The access
// token is checked twice: by the SDK's own session helper (sealed session -> jose `jwtVerify`
// against the JWKS), and by resolving its key through the SDK's `getJWKS()` key set and
// verifying the RS256 signature with WebCrypto. Exits non-zero if any step failed, naming it.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';

const baseUrl = new URL(process.env.KEYSTEAD_BASE_URL);
const apiKey = process.env.KEYSTEAD_API_KEY;
const clientId = process.env.KEYSTEAD_CLIENT_ID;
const sdkDir = process.env.KEYSTEAD_NODE_SDK_DIR;

// The package's ESM entry point, as its `exports` map names it.
const pkg = JSON.parse(readFileSync(join(sdkDir, 'package.json'), 'utf8'));
const entry = pkg.exports['.'].import;
const { WorkOS, NotFoundException } = await import(pathToFileURL(join(sdkDir, entry)).href);

let current = 'start';
function step(name) {
  current = name;
  console.log(`[node] ${name}`);
}
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const workos = new WorkOS(apiKey, {
  apiHostname: baseUrl.hostname,
  port: Number(baseUrl.port),
  https: false,
  clientId,
});

async function organizations() {
  const suffix = randomUUID().slice(0, 8);
  step('organizations.createOrganization');
  const org = await workos.organizations.createOrganization({
    name: `Node Corp ${suffix}`,
    externalId: `node-${suffix}`,
    metadata: { tier: 'gold' },
    domainData: [
      { domain: `node-${suffix}.example.org`, state: 'verified' },
      { domain: `node-${suffix}.example.net`, state: 'pending' },
    ],
  });
  check(org.id.startsWith('org_'), `organization id ${org.id}`);
  check(
    org.domains.map((d) => d.domain).sort().join() ===
      `node-${suffix}.example.net,node-${suffix}.example.org`,
    `domains ${JSON.stringify(org.domains)}`,
  );
  check(org.metadata.tier === 'gold', `metadata ${JSON.stringify(org.metadata)}`);

  step('organizations.listOrganizations');
  const list = await workos.organizations.listOrganizations({ limit: 100 });
  check(list.data.some((o) => o.id === org.id), 'created organization missing from the list');

  step('organizations.updateOrganization');
  const updated = await workos.organizations.updateOrganization({
    organization: org.id,
    name: `Node Corp ${suffix} (renamed)`,
  });
  check(updated.name.endsWith('(renamed)'), `updated name ${updated.name}`);

  step('organizations.getOrganization');
  const got = await workos.organizations.getOrganization(org.id);
  check(got.name === updated.name, `fetched name ${got.name}`);

  step('organizations.getOrganizationByExternalId');
  const byExt = await workos.organizations.getOrganizationByExternalId(`node-${suffix}`);
  check(byExt.id === org.id, `by external id ${byExt.id}`);

  step('organizationDomains.createOrganizationDomain / get / delete');
  const domain = await workos.organizationDomains.createOrganizationDomain({
    domain: `node-${suffix}.example.com`,
    organizationId: org.id,
  });
  check(domain.state === 'pending', `domain state ${domain.state}`);
  const gotDomain = await workos.organizationDomains.getOrganizationDomain(domain.id);
  check(gotDomain.domain === `node-${suffix}.example.com`, `domain ${gotDomain.domain}`);
  await workos.organizationDomains.deleteOrganizationDomain(domain.id);

  step('organizations.deleteOrganization');
  await workos.organizations.deleteOrganization(org.id);
  try {
    await workos.organizations.getOrganization(org.id);
    throw new Error('organization still exists after delete');
  } catch (e) {
    if (!(e instanceof NotFoundException)) throw e;
  }
}

async function usersAndSessions() {
  const email = `node-${randomUUID().slice(0, 8)}@example.com`;
  const password = 'correct horse battery staple 42';

  step('userManagement.createUser (with password)');
  const user = await workos.userManagement.createUser({
    email,
    password,
    firstName: 'Node',
    lastName: 'Smoke',
  });
  check(user.id.startsWith('user_'), `user id ${user.id}`);

  step('userManagement.authenticateWithPassword (sealed session)');
  const cookiePassword = 'keystead-smoke-cookie-password-0123456789';
  const auth = await workos.userManagement.authenticateWithPassword({
    email,
    password,
    session: { sealSession: true, cookiePassword },
  });
  check(auth.user.id === user.id, 'authenticated user differs from the created one');
  check(auth.accessToken && auth.refreshToken, 'missing tokens');

  step('verify the access token: SDK authenticateWithSessionCookie (jose jwtVerify + JWKS)');
  const viaSdk = await workos.userManagement.authenticateWithSessionCookie({
    sessionData: auth.sealedSession,
    cookiePassword,
  });
  check(viaSdk.authenticated === true, `session cookie check: ${JSON.stringify(viaSdk)}`);
  check(viaSdk.user.id === user.id, 'session cookie user differs');

  step('verify the access token: key from SDK getJWKS() + WebCrypto RS256');
  const [h, p, s] = auth.accessToken.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString());
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  const keySet = await workos.userManagement.getJWKS();
  const key = await keySet(header, { payload: p, signature: s });
  const valid = await crypto.subtle.verify(
    'RSASSA-PKCS1-v1_5',
    key,
    Buffer.from(s, 'base64url'),
    new TextEncoder().encode(`${h}.${p}`),
  );
  check(valid, 'signature does not verify against the JWKS');
  check(claims.sub === user.id, `sub claim ${claims.sub}`);
  check(Boolean(claims.sid), 'no sid claim');

  step('userManagement.authenticateWithRefreshToken');
  const refreshed = await workos.userManagement.authenticateWithRefreshToken({
    refreshToken: auth.refreshToken,
  });
  check(refreshed.user.id === user.id, 'refreshed user differs');
  check(refreshed.refreshToken !== auth.refreshToken, 'refresh token was not rotated');

  step('userManagement.listSessions');
  const sessions = await workos.userManagement.listSessions(user.id);
  check(sessions.data.some((x) => x.id === claims.sid), 'session missing from the list');
  return user;
}

// Every event name in `names` that GET /events returns, paging with `after`.
async function seenEvents(names) {
  const seen = new Set();
  let page = await workos.events.listEvents({ events: names, limit: 100 });
  for (let i = 0; i < 50; i++) {
    for (const e of page.data) seen.add(e.event);
    const after = page.listMetadata?.after;
    if (!after) break;
    page = await workos.events.listEvents({ events: names, limit: 100, after });
  }
  return seen;
}

async function events(user) {
  step('events.listEvents (organization events)');
  const orgEvents = [
    'organization.created',
    'organization.updated',
    'organization.deleted',
    'organization_domain.created',
    'organization_domain.deleted',
  ];
  let seen = await seenEvents(orgEvents);
  let missing = orgEvents.filter((name) => !seen.has(name));
  check(missing.length === 0, `events missing: ${missing} (seen ${[...seen].sort()})`);

  step('events.listEvents (user and session events)');
  const userEvents = ['user.created', 'session.created', 'authentication.password_succeeded'];
  if (!user) throw new Error('skipped: the user steps failed');
  seen = await seenEvents(userEvents);
  missing = userEvents.filter((name) => !seen.has(name));
  check(missing.length === 0, `events missing: ${missing} (seen ${[...seen].sort()})`);
}

const failures = [];
async function run(fn, ...args) {
  try {
    return await fn(...args);
  } catch (e) {
    failures.push(current);
    console.error(`[node] step "${current}" failed:`, e);
    return undefined;
  }
}

const started = Date.now();
await run(organizations);
const user = await run(usersAndSessions);
await run(events, user);
console.log(`[node] done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
if (failures.length > 0) {
  console.log(`[node] FAILED steps: ${JSON.stringify(failures)}`);
  process.exit(1);
}
console.log('[node] all steps passed');
