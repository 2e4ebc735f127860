// Sealed sessions with the official WorkOS Node SDK against a running Keystead; the Node twin of
// `tests/sdk/sealed_session.py`.
//
// Run by `tests/api/sdk.rs` with each pinned `@workos-inc/node` version. Environment:
// KEYSTEAD_BASE_URL, KEYSTEAD_API_KEY, KEYSTEAD_CLIENT_ID, and KEYSTEAD_NODE_SDK_DIR (the
// installed package directory). Flow: authenticateWithPassword with a sealed session, then
// authenticateWithSessionCookie, loadSealedSession().authenticate() (the access token carries an
// integer `auth_time`), refresh() (same `auth_time`), authenticate the refreshed cookie,
// getLogoutUrl() and follow it (302 to the return URL), and the old cookie no longer refreshes.
// Exits non-zero at the first failed step, naming it.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes, randomUUID } from 'node:crypto';

const baseUrl = new URL(process.env.KEYSTEAD_BASE_URL);
const apiKey = process.env.KEYSTEAD_API_KEY;
const clientId = process.env.KEYSTEAD_CLIENT_ID;
const sdkDir = process.env.KEYSTEAD_NODE_SDK_DIR;

// The package's ESM entry point, as its `exports` map names it.
const pkg = JSON.parse(readFileSync(join(sdkDir, 'package.json'), 'utf8'));
const entry = pkg.exports['.'].import;
const { WorkOS } = await import(pathToFileURL(join(sdkDir, entry)).href);
const label = `node-sealed ${pkg.version}`;

let current = 'start';
function step(name) {
  current = name;
  console.log(`[${label}] ${name}`);
}
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}
// The payload of a JWT, unverified (the SDK verifies it in `authenticate`).
function claims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}
function show(value) {
  return JSON.stringify(value, (k, v) => (k === 'error' ? String(v) : v));
}

const workos = new WorkOS(apiKey, {
  apiHostname: baseUrl.hostname,
  port: Number(baseUrl.port),
  https: false,
  clientId,
});

async function sealedSession() {
  const email = `node-sealed-${randomUUID().slice(0, 8)}@example.com`;
  const password = 'correct horse battery staple';
  const cookiePassword = randomBytes(32).toString('base64url');
  const returnTo = `https://app-${randomUUID().slice(0, 8)}.example.com/bye`;

  // The Node SDK has no redirect-URI method; its generic `post` sends the request.
  step('POST /user_management/redirect_uris (the logout target)');
  await workos.post('/user_management/redirect_uris', { uri: returnTo });

  step('userManagement.createUser');
  const user = await workos.userManagement.createUser({ email, password });

  step('userManagement.authenticateWithPassword (sealSession)');
  const auth = await workos.userManagement.authenticateWithPassword({
    email,
    password,
    session: { sealSession: true, cookiePassword },
  });
  check(auth.user.id === user.id, `authenticated user ${auth.user.id}`);
  check(typeof auth.sealedSession === 'string', 'no sealed session');
  const first = claims(auth.accessToken);
  check(Number.isInteger(first.auth_time), `auth_time ${show(first.auth_time)}`);
  check(first.auth_time <= first.iat, `auth_time ${first.auth_time} after iat ${first.iat}`);

  step('userManagement.authenticateWithSessionCookie');
  let res = await workos.userManagement.authenticateWithSessionCookie({
    sessionData: auth.sealedSession,
    cookiePassword,
  });
  check(res.authenticated === true, `authenticateWithSessionCookie: ${show(res)}`);
  check(res.sessionId === first.sid, `session id ${res.sessionId}`);
  check(res.user.id === user.id, `user ${show(res.user)}`);

  step('userManagement.loadSealedSession().authenticate');
  const session = workos.userManagement.loadSealedSession({
    sessionData: auth.sealedSession,
    cookiePassword,
  });
  res = await session.authenticate();
  check(res.authenticated === true, `session.authenticate: ${show(res)}`);
  check(res.sessionId === first.sid, `session id ${res.sessionId}`);

  // The refreshed token is issued at least a second later, so an unchanged auth_time shows.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  step('session.refresh');
  const refreshed = await session.refresh();
  check(refreshed.authenticated === true, `refresh: ${show(refreshed)}`);
  check(refreshed.sessionId === first.sid, `refreshed session id ${refreshed.sessionId}`);
  check(refreshed.sealedSession !== auth.sealedSession, 'refresh sealed a new cookie');
  const renewed = claims(refreshed.session.accessToken);
  check(renewed.iat > first.iat, `a new token: iat ${renewed.iat} vs ${first.iat}`);
  check(renewed.auth_time === first.auth_time, `auth_time after refresh ${show(renewed)}`);

  step('authenticate the refreshed cookie');
  const data = workos.userManagement.loadSealedSession({
    sessionData: refreshed.sealedSession,
    cookiePassword,
  });
  res = await data.authenticate();
  check(res.authenticated === true, `refreshed cookie: ${show(res)}`);

  step('getLogoutUrl');
  const url = await data.getLogoutUrl({ returnTo });
  const parsed = new URL(url);
  check(
    url.startsWith(`${baseUrl.origin}/user_management/sessions/logout?`),
    `logout url ${url}`,
  );
  check(parsed.searchParams.get('session_id') === first.sid, `logout session_id in ${url}`);

  step('follow the logout URL');
  const logout = await fetch(url, { redirect: 'manual' });
  check(logout.status === 302, `logout answered ${logout.status}`);
  check(logout.headers.get('location') === returnTo, `logout to ${logout.headers.get('location')}`);

  step('the logged-out cookie no longer refreshes');
  const after = await workos.userManagement
    .loadSealedSession({ sessionData: refreshed.sealedSession, cookiePassword })
    .refresh();
  check(after.authenticated === false, `a revoked session refreshed: ${show(after)}`);
}

try {
  await sealedSession();
} catch (e) {
  console.error(e);
  console.log(`[${label}] FAILED at: ${current}`);
  process.exit(1);
}
console.log(`[${label}] all steps passed`);
