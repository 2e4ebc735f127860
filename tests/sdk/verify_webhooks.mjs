// Verifies recorded webhook deliveries with the official Node SDK (`@workos-inc/node`):
// `webhooks.constructEvent` on the raw body and on the parsed object (which the SDK
// re-serialises with JSON.stringify). argv[2]: JSON file of [{body, signature, secret}].
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(process.env.WORKOS_NODE_PREFIX + "/node_modules/");
const { WorkOS } = require("@workos-inc/node");
const workos = new WorkOS("sk_test_sdkverification");
const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
for (const c of cases) {
  const raw = await workos.webhooks.constructEvent({ payload: c.body, sigHeader: c.signature, secret: c.secret });
  const parsed = await workos.webhooks.constructEvent({ payload: JSON.parse(c.body), sigHeader: c.signature, secret: c.secret });
  if (raw.id !== parsed.id) throw new Error("mismatch");
  let rejected = false;
  try {
    await workos.webhooks.constructEvent({ payload: c.body, sigHeader: c.signature, secret: c.secret + "x" });
  } catch {
    rejected = true;
  }
  if (!rejected) throw new Error("a wrong secret verified");
  console.log(`${raw.id} ${raw.event}`);
}
