// Shared set-up of the Node SDK scripts (audit_logs.mjs, audit_log_exports.mjs, radar.mjs): loads
// the official SDK (`@workos-inc/node`) from the lock install KEYSTEAD_NODE_SDK_DIR names and
// builds a client for KEYSTEAD_BASE_URL (plain http) with KEYSTEAD_API_KEY.
// Exports `sdk` (the SDK module), `workos` (the client) and `check(cond, what)`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const baseUrl = new URL(process.env.KEYSTEAD_BASE_URL);
const sdkDir = process.env.KEYSTEAD_NODE_SDK_DIR;
const pkg = JSON.parse(readFileSync(join(sdkDir, 'package.json'), 'utf8'));
const entry = pkg.exports['.'].import;

export const sdk = await import(
  pathToFileURL(join(sdkDir, typeof entry === 'string' ? entry : entry.default)).href
);

export const workos = new sdk.WorkOS(process.env.KEYSTEAD_API_KEY, {
  apiHostname: baseUrl.hostname,
  port: Number(baseUrl.port),
  https: false,
});

/** Throws `check failed: <what>` unless `cond` holds. */
export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}
