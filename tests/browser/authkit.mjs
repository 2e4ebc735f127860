// Headless Chromium through Keystead's hosted login, driven by Playwright (playwright-core with
// the system browser; no browser download).
//
// Run by `tests/api/hosted_login/browser.rs`, which starts Keystead, an SMTP sink and a callback
// app. Environment:
//   PLAYWRIGHT_CORE_DIR  installed playwright-core package directory
//   CHROMIUM             the browser executable (Debian's /usr/bin/chromium)
//   USER_DATA_DIR        a fresh, empty profile directory
//   OUT_DIR              where screenshots go
//   KEYSTEAD_URL         Keystead's base URL
//   CALLBACK_URL         the callback app's base URL: /callback exchanges the code,
//                        /mail-code?to= returns the last emailed code, /totp the current TOTP code
//   CLIENT_ID, SIGNUP_EMAIL, SIGNIN_EMAIL, PASSWORD, ORG_NAME, CODE_CHALLENGE
// Prints one JSON line with what each callback page showed; exits non-zero naming the failed step.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const { chromium } = await import(pathToFileURL(join(env('PLAYWRIGHT_CORE_DIR'), 'index.mjs')).href);

const keystead = env('KEYSTEAD_URL');
const callback = env('CALLBACK_URL');
const out = env('OUT_DIR');
let current = 'launch';
const step = (name) => {
  current = name;
  console.error(`[browser] ${name}`);
};

function authorizeUrl(params) {
  const u = new URL('/user_management/authorize', keystead);
  u.searchParams.set('client_id', env('CLIENT_ID'));
  u.searchParams.set('redirect_uri', `${callback}/callback`);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('provider', 'authkit');
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.href;
}

async function heading(page, text) {
  const h = page.getByRole('heading', { level: 1 });
  await h.waitFor();
  const actual = (await h.textContent()).trim();
  if (actual !== text) throw new Error(`expected heading "${text}", got "${actual}" at ${page.url()}`);
}

async function fetchText(path) {
  const res = await fetch(`${callback}${path}`);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.text()).trim();
}

const context = await chromium.launchPersistentContext(env('USER_DATA_DIR'), {
  executablePath: env('CHROMIUM'),
  headless: true,
  viewport: { width: 800, height: 720 },
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const result = {};
try {
  const page = context.pages()[0] ?? (await context.newPage());

  // 1. Sign up, verify the email with the code sent over SMTP, land on the callback.
  step('sign-up page');
  await page.goto(authorizeUrl({ state: 'signup', screen_hint: 'sign-up' }));
  await heading(page, 'Create your account');
  await page.screenshot({ path: join(out, 'sign-up.png') });
  step('sign-up form');
  await page.getByLabel('First name').fill('Ada');
  await page.getByLabel('Last name').fill('Lovelace');
  await page.getByLabel('Email').fill(env('SIGNUP_EMAIL'));
  await page.getByLabel('Password').fill(env('PASSWORD'));
  await page.getByRole('button', { name: 'Create account' }).click();
  step('email verification');
  await page.waitForURL('**/authkit/email-verification');
  await heading(page, 'Verify your email');
  const mailed = await fetchText(`/mail-code?to=${encodeURIComponent(env('SIGNUP_EMAIL'))}`);
  await page.getByLabel('Verification code').fill(mailed);
  await page.screenshot({ path: join(out, 'email-verification.png') });
  await page.getByRole('button', { name: 'Continue' }).click();
  step('sign-up callback');
  await page.waitForURL(`${callback}/callback?**`);
  result.signup = (await page.locator('#result').textContent()).trim();

  // 2. Sign in with a password and TOTP (PKCE), choose an organization, land on the callback.
  step('sign-in page');
  await page.goto(
    authorizeUrl({ state: 'signin', code_challenge: env('CODE_CHALLENGE'), code_challenge_method: 'S256' }),
  );
  await heading(page, 'Sign in');
  await page.screenshot({ path: join(out, 'login.png') });
  step('wrong password');
  await page.getByLabel('Email').fill(env('SIGNIN_EMAIL'));
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  result.error = (await alert.textContent()).trim();
  await page.screenshot({ path: join(out, 'login-error.png') });
  step('sign in');
  await page.getByLabel('Password').fill(env('PASSWORD'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  step('TOTP');
  await page.waitForURL('**/authkit/mfa');
  await heading(page, 'Two-step verification');
  await page.getByLabel('Authentication code').fill(await fetchText('/totp'));
  await page.screenshot({ path: join(out, 'mfa.png') });
  await page.getByRole('button', { name: 'Continue' }).click();
  step('organization');
  await page.waitForURL('**/authkit/organization');
  await heading(page, 'Choose an organization');
  await page.getByLabel(env('ORG_NAME')).check();
  await page.screenshot({ path: join(out, 'organization.png') });
  await page.getByRole('button', { name: 'Continue' }).click();
  step('sign-in callback');
  await page.waitForURL(`${callback}/callback?**`);
  result.signin = (await page.locator('#result').textContent()).trim();
  await page.screenshot({ path: join(out, 'callback.png') });
  console.log(JSON.stringify(result));
} catch (e) {
  console.error(`[browser] failed at step "${current}": ${e.stack ?? e}`);
  process.exitCode = 1;
} finally {
  await context.close();
}
