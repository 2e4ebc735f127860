// `@workos-inc/authkit-js` in headless Chromium against Keystead, in dev mode (page on
// localhost: refresh token in the body and localStorage) and production mode (page on another
// host of Keystead's site: refresh token in an HttpOnly cookie, `workos-has-session`).
//
// Run by `tests/api/hosted_login/authkit_js.rs`, which starts Keystead on
// http://auth.keystead.test:<port> and the app page on <port2>; Chromium maps *.keystead.test to
// loopback. Environment:
//   PLAYWRIGHT_CORE_DIR  installed playwright-core package directory
//   CHROMIUM             the browser executable
//   USER_DATA_DIR        a fresh, empty profile directory
//   KEYSTEAD_URL         Keystead's public URL (http://auth.keystead.test:<port>)
//   MODES                JSON: [{"name": "production", "origin": "http://app.keystead.test:…"}, …]
//   EMAIL, PASSWORD      the user signing in on the hosted page
//   TTL_MS               the access-token lifetime, in milliseconds
// Prints one JSON line: what each mode saw. Exits non-zero naming the failed step.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const { chromium } = await import(pathToFileURL(join(env('PLAYWRIGHT_CORE_DIR'), 'index.mjs')).href);

let current = 'launch';
const step = (name) => {
  current = name;
  console.error(`[authkit-js] ${name}`);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const context = await chromium.launchPersistentContext(env('USER_DATA_DIR'), {
  executablePath: env('CHROMIUM'),
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--host-resolver-rules=MAP *.keystead.test 127.0.0.1',
    // authkit-js needs WebCrypto (PKCE), which only secure contexts have, and Chromium sends
    // `Sec-Fetch-Site` (which the hosted pages' CSRF check reads) only to trustworthy origins; a
    // real deployment is https. Here both hosts are plain http, so Chromium is told to treat them
    // as secure (cookies are unaffected: Keystead's public URL is http, so none is `Secure`).
    `--unsafely-treat-insecure-origin-as-secure=${[
      env('KEYSTEAD_URL'),
      ...JSON.parse(env('MODES')).map((m) => m.origin),
    ].join(',')}`,
  ],
});
const result = {};
const page = context.pages()[0] ?? (await context.newPage());
try {
  page.on('console', (m) => console.error(`[page ${m.type()}] ${m.text()}`));
  page.on('requestfailed', (r) => console.error(`[request failed] ${r.url()}: ${r.failure()?.errorText}`));
  page.on('framenavigated', (f) => f === page.mainFrame() && console.error(`[navigated] ${f.url()}`));
  // Every answer of POST /user_management/authenticate: status, body fields, Set-Cookie.
  let authenticate = [];
  page.on('response', async (res) => {
    if (!res.url().includes('/user_management/authenticate') || res.request().method() !== 'POST') return;
    const entry = { status: res.status(), fields: [], set_cookie: (await res.headerValue('set-cookie')) ?? '' };
    authenticate.push(entry);
    try {
      entry.fields = Object.keys(await res.json());
    } catch {}
  });
  const ready = async () => {
    await page.waitForFunction(() => window.authkitReady === true || window.authkitError);
    const error = await page.evaluate(() => window.authkitError);
    if (error) throw new Error(`createClient failed: ${error}`);
  };
  const user = () => page.evaluate(() => window.authkit.getUser()?.email ?? null);
  const token = () => page.evaluate(() => window.authkit.getAccessToken());

  for (const { name, origin } of JSON.parse(env('MODES'))) {
    authenticate = [];
    const seen = { origin };
    result[name] = seen;
    step(`${name}: app page`);
    await page.goto(`${origin}/`);
    await ready();
    seen.dev_mode = await page.evaluate(() => window.authkitDevMode);
    seen.user_before = await user();

    step(`${name}: sign in on the hosted page`);
    await page.evaluate(() =>
      setTimeout(() => window.authkit.signIn().catch((e) => console.error(`signIn: ${e}`)), 0),
    );
    await page.waitForURL('**/authkit/sign-in**');
    await page.getByLabel('Email').fill(env('EMAIL'));
    await page.getByLabel('Password').fill(env('PASSWORD'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    step(`${name}: callback`);
    await page.waitForURL(`${origin}/**`);
    await ready();
    seen.user = await user();
    seen.token1 = await token();

    step(`${name}: access token expiry`);
    await sleep(Number(env('TTL_MS')) + 1500);
    seen.token2 = await token();
    seen.user_after_refresh = await user();

    step(`${name}: reload restores the session`);
    await page.reload();
    await ready();
    seen.user_after_reload = await user();
    seen.token3 = await token();
    seen.local_storage = await page.evaluate(() => Object.keys(localStorage));
    seen.document_cookie = await page.evaluate(() => document.cookie);
    seen.cookies = (await context.cookies()).map(({ name, domain, path, httpOnly, sameSite }) => ({
      name,
      domain,
      path,
      httpOnly,
      sameSite,
    }));

    step(`${name}: sign out`);
    const logout = page.waitForResponse((r) => r.url().includes('/user_management/sessions/logout'));
    await page.evaluate(() => {
      window.beforeSignOut = true;
      setTimeout(() => window.authkit.signOut({ returnTo: `${location.origin}/` }), 0);
    });
    seen.logout_status = (await logout).status();
    // The logout redirects back to the app: a new page, without the marker.
    await page.waitForFunction(() => !window.beforeSignOut && (window.authkitReady || window.authkitError));
    await ready();
    seen.user_after_sign_out = await user();
    seen.local_storage_after_sign_out = await page.evaluate(() => Object.keys(localStorage));
    seen.cookies_after_sign_out = (await context.cookies()).map((c) => c.name);
    seen.authenticate = authenticate;
  }
  console.log(JSON.stringify(result));
} catch (e) {
  console.error(`[authkit-js] failed at step "${current}": ${e.stack ?? e}`);
  console.error(`[authkit-js] at ${page.url()}:\n${(await page.content().catch(() => '')).slice(0, 3000)}`);
  process.exitCode = 1;
} finally {
  await context.close();
}
